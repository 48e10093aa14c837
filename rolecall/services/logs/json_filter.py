"""CloudWatch Logs filter patterns for JSON log events: `{ SELECTOR OP VALUE }` joined by && and ||.

As AWS documents them ("Using metric filters to match terms in JSON log events"):

    selector   $.name, $.a.b, $.list[0], $.a.b[1].c (a missing path matches nothing but NOT EXISTS)
    strings    = and != against a quoted or bare string; * in it matches any characters
    numbers    = != < > <= >= against a number; the field must be a number
    IS NULL, IS TRUE, IS FALSE, NOT EXISTS
    && binds tighter than ||; parentheses group

A message that is not a JSON object matches no JSON pattern.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|\{|\})
      | (?P<selector>\$(?:\.[A-Za-z0-9_@-]+|\[\d+\]|\.\*)*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<word>[^\s(){}=!<>&|"]+)
    )""",
    re.VERBOSE,
)
_PATH = re.compile(r"\.([A-Za-z0-9_@-]+|\*)|\[(\d+)\]")


class BadJsonPattern(ValueError):
    pass


Test = Callable[[Any], bool]


@dataclass(frozen=True)
class JsonPattern:
    text: str
    test: Test

    def matches(self, message: str) -> bool:
        try:
            event = json.loads(message)
        except ValueError:
            return False
        return isinstance(event, dict) and self.test(event)


def _resolve(event: Any, path: str) -> Any:
    value = event
    for name, index in _PATH.findall(path[1:]):
        if index:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        elif isinstance(value, dict) and name in value:
            value = value[name]
        else:
            return _MISSING
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _comparison(selector: str, op: str, literal: str, quoted: bool) -> Test:
    number = None if quoted else _number(literal)
    if op in ("<", ">", "<=", ">=") and number is None:
        raise BadJsonPattern(f"Invalid metric filter pattern: {op} needs a number, not {literal}")

    def numeric(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or number is None:
            return False
        return {
            "=": value == number,
            "!=": value != number,
            "<": value < number,
            ">": value > number,
            "<=": value <= number,
            ">=": value >= number,
        }[op]

    def test(event: Any) -> bool:
        value = _resolve(event, selector)
        if value is _MISSING:
            return False
        if number is not None:
            return numeric(value)
        if not isinstance(value, str):
            return op == "!=" and value is not None
        same = fnmatch.fnmatchcase(value, literal) if "*" in literal else value == literal
        return same if op == "=" else not same

    return test


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        body = text.strip()
        while pos < len(body):
            match = _TOKEN.match(body, pos)
            if match is None or match.end() == pos:
                if body[pos:].strip() == "":
                    break
                raise BadJsonPattern(f"Invalid metric filter pattern: {text}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")

    def pattern(self) -> Test:
        self.expect("{")
        test = self.disjunction()
        self.expect("}")
        if self.peek() is not None:
            raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
        return test

    def disjunction(self) -> Test:
        tests = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            tests.append(self.conjunction())
        return tests[0] if len(tests) == 1 else (lambda e: any(t(e) for t in tests))

    def conjunction(self) -> Test:
        tests = [self.term()]
        while self.peek() == ("op", "&&"):
            self.take()
            tests.append(self.term())
        return tests[0] if len(tests) == 1 else (lambda e: all(t(e) for t in tests))

    def term(self) -> Test:
        kind, value = self.take()
        if (kind, value) == ("op", "("):
            inner = self.disjunction()
            self.expect(")")
            return inner
        if kind != "selector":
            raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
        selector = value
        kind, op = self.take()
        if kind == "word" and op.upper() == "IS":
            what = self.take()[1].upper()
            wanted = {"NULL": None, "TRUE": True, "FALSE": False}
            if what not in wanted:
                raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
            expected = wanted[what]
            return lambda e: (v := _resolve(e, selector)) is not _MISSING and v is expected
        if kind == "word" and op.upper() == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
            return lambda e: _resolve(e, selector) is _MISSING
        if kind != "op" or op not in ("=", "!=", "<", ">", "<=", ">="):
            raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
        kind, literal = self.take()
        if kind == "string":
            return _comparison(selector, op, json.loads(literal), quoted=True)
        if kind != "word":
            raise BadJsonPattern(f"Invalid metric filter pattern: {self.text}")
        return _comparison(selector, op, literal, quoted=False)


def parse_json_pattern(text: str) -> JsonPattern:
    """The pattern `{ ... }`, or BadJsonPattern."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise BadJsonPattern(f"Invalid metric filter pattern: {text}")
    parser = _Parser("{" + " " + body[1:-1] + " " + "}")
    return JsonPattern(text, parser.pattern())


def selector_value(message: str, selector: str) -> Any:
    """The value of `$.path` in a JSON message (None when absent or not JSON): metric values and
    dimensions taken from events."""
    try:
        event = json.loads(message)
    except ValueError:
        return None
    value = _resolve(event, selector)
    return None if value is _MISSING else value
