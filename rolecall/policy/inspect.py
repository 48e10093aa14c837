"""Reading a policy document the way the IAM policy simulator reports on it: where each statement sits
in the text (MatchedStatements' StartPosition/EndPosition), and which context keys it references
(GetContextKeysFor*Policy)."""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

Position = tuple[int, int]  # (Line, Column)

# json.decoder's string scanner, undeclared in typeshed: (text, index after the quote) -> (string, end).
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

_WS = " \t\r\n"
_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL_VARIABLES = {"*", "?", "$"}


# ---------------------------------------------------------------- statement positions


@lru_cache(maxsize=1024)
def statement_positions(text: str) -> tuple[tuple[Position, Position], ...]:
    """(start, end) of each statement of a policy, in Statement order.

    IAM reports 1-based lines, and columns that point just past the statement's opening and closing
    braces (the AWS CLI's documented example: a statement opening at the 37th character of line 1
    starts at Column 38). Empty when the text is not a JSON object with a Statement member.
    """
    try:
        spans = _statement_spans(text)
    except (ValueError, IndexError):
        return ()
    return tuple((_position(text, start, 1), _position(text, end - 1, 1)) for start, end in spans)


def _position(text: str, index: int, past: int) -> Position:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1 + past


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _value_end(text: str, i: int) -> int:
    """The index just past the JSON value starting at i."""
    c = text[i]
    if c == '"':
        return scanstring(text, i + 1)[1]
    if c in "{[":
        depth = 0
        while True:
            c = text[i]
            if c == '"':
                i = scanstring(text, i + 1)[1]
                continue
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    m = _SCALAR.match(text, i)
    if m is None:
        raise ValueError(f"no JSON value at {i}")
    return m.end()


def _members(text: str, i: int) -> Iterator[tuple[str, int, int]]:
    """(key, value_start, value_end) of each member of the object starting at i."""
    i = _skip(text, i + 1)
    while text[i] != "}":
        key, i = scanstring(text, _skip(text, i) + 1)
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError("expected ':'")
        start = _skip(text, i + 1)
        end = _value_end(text, start)
        yield key, start, end
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)


def _statement_spans(text: str) -> list[tuple[int, int]]:
    i = _skip(text, 0)
    if text[i] != "{":
        return []
    statement = None
    for key, start, end in _members(text, i):
        if key == "Statement":
            statement = (start, end)  # IAM rejects duplicate members, so the last one is the one
    if statement is None:
        return []
    start, end = statement
    if text[start] == "{":
        return [(start, end)]
    if text[start] != "[":
        return []
    spans = []
    i = _skip(text, start + 1)
    while text[i] != "]":
        element_end = _value_end(text, i)
        spans.append((i, element_end))
        i = _skip(text, element_end)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return spans


# ---------------------------------------------------------------- context keys


def context_keys(document: dict[str, Any]) -> list[str]:
    """The context keys a policy document references, in the order they appear: condition keys, and
    the policy variables used in Resource/NotResource and in condition values (variables only count
    in Version 2012-10-17, where IAM substitutes them). Repeats (case-insensitive) are dropped."""
    keys: list[str] = []
    seen: set[str] = set()

    def add(key: str) -> None:
        if key.lower() not in seen:
            seen.add(key.lower())
            keys.append(key)

    variables = document.get("Version") == "2012-10-17"
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict):
            continue
        if variables:
            for member in ("Resource", "NotResource"):
                for value in _strings(statement.get(member)):
                    for name in _variable_names(value):
                        add(name)
        condition = statement.get("Condition")
        if not isinstance(condition, dict):
            continue
        for block in condition.values():
            if not isinstance(block, dict):
                continue
            for key, values in block.items():
                add(key)
                if variables:
                    for value in _strings(values):
                        for name in _variable_names(value):
                            add(name)
    return keys


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _variable_names(text: str) -> list[str]:
    """${aws:username} -> aws:username; ${aws:PrincipalTag/team, 'default'} -> aws:PrincipalTag/team."""
    names = []
    for body in _VARIABLE.findall(text):
        name = body.split(",", 1)[0].strip()
        if name and name not in _SPECIAL_VARIABLES:
            names.append(name)
    return names
