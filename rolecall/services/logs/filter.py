"""CloudWatch Logs filter patterns for unstructured log events (FilterLogEvents' filterPattern).

The term syntax AWS documents for matching terms in log events:

    ERROR                 events containing ERROR (case-sensitive substring)
    ERROR ARGUMENTS       events containing both terms, anywhere, in any order
    "Failed to connect"   a double-quoted phrase is one term (\\" and \\\\ escape inside it)
    ?ERROR ?WARN          events containing at least one of the ?-terms
    ERROR -Exiting        events containing ERROR but not Exiting

and the syntax for JSON log events (rolecall.services.logs.json_filter):

    { $.eventName = "AssumeRole" }                  a string (quoted or bare; * is a wildcard)
    { ($.errorCode = "AccessDenied") && ($.x > 3) }  && and || over comparisons, in parentheses
    { $.latency >= 100 }  { $.user.id != 7 }         numbers: = != < > <= >=
    { $.a[0] IS NULL }  { $.flag IS TRUE }  { $.x NOT EXISTS }

An empty pattern matches every event. Space-delimited patterns ([a, b]) and regular expressions (%...%)
are not implemented: they are refused rather than silently matching the wrong events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rolecall.services.logs.json_filter import BadJsonPattern, parse_json_pattern


class BadFilterPattern(ValueError):
    """The pattern cannot be parsed (the message says why, for InvalidParameterException)."""


@dataclass(frozen=True)
class TermPattern:
    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def matches(self, message: str) -> bool:
        if any(term not in message for term in self.required):
            return False
        if any(term in message for term in self.excluded):
            return False
        return not self.any_of or any(term in message for term in self.any_of)


MATCH_ALL = TermPattern()


class Pattern(Protocol):
    def matches(self, message: str) -> bool: ...


def parse_filter_pattern(text: str | None) -> Pattern:
    if text is None or not text.strip():
        return MATCH_ALL
    stripped = text.strip()
    if stripped[0] == "{":
        try:
            return parse_json_pattern(stripped)
        except BadJsonPattern as exc:
            raise BadFilterPattern(str(exc)) from None
    if stripped[0] == "[" or (stripped[0] == "%" and stripped.endswith("%") and len(stripped) > 1):
        raise BadFilterPattern(
            "rolecall supports term and JSON filter patterns only (terms, quoted phrases, ?term, -term, "
            "{ $.field = value }); "
            f"this pattern is not one: {text}"
        )
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for prefix, term in _terms(stripped):
        if not term:
            continue
        {"?": any_of, "-": excluded}.get(prefix, required).append(term)
    return TermPattern(tuple(required), tuple(any_of), tuple(excluded))


def _terms(text: str) -> list[tuple[str, str]]:
    """(prefix, term) pairs; prefix is "?", "-" or ""."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        prefix = ""
        if text[i] in "?-" and i + 1 < n and not text[i + 1].isspace():
            prefix = text[i]
            i += 1
        if text[i] == '"':
            term, i = _quoted(text, i)
        else:
            start = i
            while i < n and not text[i].isspace():
                if text[i] == '"':
                    raise BadFilterPattern(f"Invalid character(s) in term '{text[start:].split()[0]}'")
                i += 1
            term = text[start:i]
        out.append((prefix, term))
    return out


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The phrase opening at text[i] == '"', and the index after its closing quote."""
    chars: list[str] = []
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text):
            chars.append(text[j + 1])
            j += 2
            continue
        if ch == '"':
            return "".join(chars), j + 1
        chars.append(ch)
        j += 1
    raise BadFilterPattern(f"Unterminated quoted term in filter pattern: {text[i:]}")
