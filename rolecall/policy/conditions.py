"""Condition operators, compiled once per (operator, key, values).

Semantics (IAM User Guide, "Condition operators" and "Single-valued vs. multivalued context keys"):
- values of one key are ORed; keys and operators are ANDed (done by the caller).
- a missing key makes a positive operator false and a negated one true; `...IfExists` makes it true.
- a multivalued request value without a set operator: positive = some request value matches some policy
  value; negated = no request value matches any policy value.
- ForAllValues: every request value must satisfy the (possibly negated) test; true when the key is
  absent or empty. ForAnyValue: some request value must; false when absent or empty.
- Null: "true" holds when the key is absent, "false" when present.
- String and ARN operators take policy variables in their values; a value whose variable has no value
  (and no default) matches nothing, so a negated operator over it holds.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .matching import compile_arn, compile_arn_tokens, compile_pattern, compile_tokens
from .variables import Template, parse_template

Context = Mapping[str, tuple[str, ...]]
Positive = Callable[[str], bool]

# base operator -> (family, negated)
BASE_OPERATORS: dict[str, tuple[str, bool]] = {
    "StringEquals": ("StringEquals", False),
    "StringNotEquals": ("StringEquals", True),
    "StringEqualsIgnoreCase": ("StringEqualsIgnoreCase", False),
    "StringNotEqualsIgnoreCase": ("StringEqualsIgnoreCase", True),
    "StringLike": ("StringLike", False),
    "StringNotLike": ("StringLike", True),
    "NumericEquals": ("NumericEquals", False),
    "NumericNotEquals": ("NumericEquals", True),
    "NumericLessThan": ("NumericLessThan", False),
    "NumericLessThanEquals": ("NumericLessThanEquals", False),
    "NumericGreaterThan": ("NumericGreaterThan", False),
    "NumericGreaterThanEquals": ("NumericGreaterThanEquals", False),
    "DateEquals": ("DateEquals", False),
    "DateNotEquals": ("DateEquals", True),
    "DateLessThan": ("DateLessThan", False),
    "DateLessThanEquals": ("DateLessThanEquals", False),
    "DateGreaterThan": ("DateGreaterThan", False),
    "DateGreaterThanEquals": ("DateGreaterThanEquals", False),
    "Bool": ("Bool", False),
    "BinaryEquals": ("BinaryEquals", False),
    "IpAddress": ("IpAddress", False),
    "NotIpAddress": ("IpAddress", True),
    "ArnEquals": ("ArnLike", False),
    "ArnLike": ("ArnLike", False),
    "ArnNotEquals": ("ArnLike", True),
    "ArnNotLike": ("ArnLike", True),
    "Null": ("Null", False),
}
SET_OPERATORS = ("ForAllValues", "ForAnyValue")
# Families whose values may hold policy variables.
VARIABLE_FAMILIES = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnLike"})


class OperatorName:
    """A parsed condition operator such as `ForAnyValue:StringNotLikeIfExists`."""

    __slots__ = ("text", "set_op", "base", "family", "negated", "if_exists")

    def __init__(self, text: str, set_op: str | None, base: str, if_exists: bool) -> None:
        self.text = text
        self.set_op = set_op
        self.base = base
        self.family, self.negated = BASE_OPERATORS[base]
        self.if_exists = if_exists


def parse_operator(text: str) -> OperatorName | None:
    """None when text is not a known operator (prefix, base and suffix all checked)."""
    set_op = None
    rest = text
    prefix, colon, tail = text.partition(":")
    if colon:
        if prefix not in SET_OPERATORS:
            return None
        set_op, rest = prefix, tail
    if_exists = False
    if rest.endswith("IfExists"):
        rest = rest[: -len("IfExists")]
        if_exists = True
    if rest not in BASE_OPERATORS or (if_exists and rest == "Null"):
        return None
    return OperatorName(text, set_op, rest, if_exists)


# --- value parsing --------------------------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?\d{1,30}")
_DECIMAL = re.compile(
    r"[+-]?(?:\d{1,30}\.\d{0,30}|\.\d{1,30})(?:[eE][+-]?\d{1,4})?|[+-]?\d{1,30}[eE][+-]?\d{1,4}"
)
_EPOCH = re.compile(r"-?\d{1,19}(?:\.\d{1,9})?")
_EPOCH_LIMIT = 2**63  # epoch seconds must fit a signed 64-bit integer
# The W3C profile of ISO 8601 the IAM User Guide names for date values: YYYY, YYYY-MM, YYYY-MM-DD, and a
# date with hh:mm, hh:mm:ss or hh:mm:ss.s and a zone (Z or +hh:mm; none is taken as UTC). Nothing else of
# ISO 8601 (week or ordinal dates, the basic format, a space for the T).
_W3C_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?",
    re.IGNORECASE,
)


def parse_number(text: str) -> int | float | None:
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return None


def parse_date(text: str) -> float | None:
    """A date value as IAM reads it -> epoch seconds: epoch seconds (within a signed 64-bit range), or the
    W3C profile of ISO 8601 (see _W3C_DATE). None for anything else."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if _EPOCH.fullmatch(text):
        seconds = float(text)
        return seconds if -_EPOCH_LIMIT <= int(text.split(".")[0]) < _EPOCH_LIMIT else None
    m = _W3C_DATE.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:  # month 13, February 30th, hour 25...
        return None
    offset = 0
    if zone and zone.upper() != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = (hours * 3600 + minutes * 60) * (1 if zone[0] == "+" else -1)
    return moment.timestamp() - offset + (float("0." + fraction) if fraction else 0.0)


def _parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)  # a bare address is /32 or /128
    except ValueError:
        return None


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _b64(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text


# --- positive predicates per family -----------------------------------------------------------------------


def _never(_value: str) -> bool:
    return False


def _ordered(values: Sequence[str], parse: Callable[[str], float | int | None], test: str) -> Positive:
    bounds = [b for b in (parse(v) for v in values) if b is not None]
    if not bounds:
        return _never
    compare: Callable[[float, float], bool] = {
        "Equals": lambda a, b: a == b,
        "LessThan": lambda a, b: a < b,
        "LessThanEquals": lambda a, b: a <= b,
        "GreaterThan": lambda a, b: a > b,
        "GreaterThanEquals": lambda a, b: a >= b,
    }[test]

    def positive(value: str) -> bool:
        got = parse(value)
        if got is None:
            return False
        return any(compare(got, b) for b in bounds)

    return positive


def static_positive(family: str, values: Sequence[str]) -> Positive:
    """The test 'request value matches some policy value' for literal (variable-free) policy values."""
    if not values:
        return _never
    if family == "StringEquals":
        return frozenset(values).__contains__
    if family == "StringEqualsIgnoreCase":
        lowered = frozenset(v.lower() for v in values)
        return lambda value: value.lower() in lowered
    if family == "StringLike":
        matchers = [compile_pattern(v) for v in values]
        return matchers[0] if len(matchers) == 1 else (lambda value: any(m(value) for m in matchers))
    if family == "ArnLike":
        matchers = [compile_arn(v) for v in values]
        return matchers[0] if len(matchers) == 1 else (lambda value: any(m(value) for m in matchers))
    if family.startswith("Numeric"):
        return _ordered(values, parse_number, family[len("Numeric") :])
    if family.startswith("Date"):
        return _ordered(values, parse_date, family[len("Date") :])
    if family == "Bool":
        accepted = frozenset(v.lower() for v in values if v.lower() in ("true", "false"))
        return lambda value: value.lower() in accepted
    if family == "BinaryEquals":
        accepted_bin = {_b64(v) for v in values}
        return lambda value: _b64(value) in accepted_bin
    if family == "IpAddress":
        networks = [n for n in (_parse_network(v) for v in values) if n is not None]

        def in_networks(value: str) -> bool:
            address = _parse_address(value)
            if address is None:
                return False
            return any(address.version == n.version and address in n for n in networks)

        return in_networks
    raise ValueError(f"no predicate for {family}")


def _resolved_positive(family: str, resolved: list[list[tuple[str, bool]]]) -> Positive:
    """The predicate for values after variable substitution (token streams)."""
    if family == "StringEquals":
        return frozenset("".join(t for t, _ in toks) for toks in resolved).__contains__
    if family == "StringEqualsIgnoreCase":
        lowered = frozenset("".join(t for t, _ in toks).lower() for toks in resolved)
        return lambda value: value.lower() in lowered
    if family == "StringLike":
        matchers = [compile_tokens(toks) for toks in resolved]
    else:  # ArnLike
        matchers = [compile_arn_tokens(toks) for toks in resolved]
    return lambda value: any(m(value) for m in matchers)


# --- the compiled condition -----------------------------------------------------------------------------


class Condition:
    """One (operator, key, values) triple of a statement's Condition block."""

    __slots__ = (
        "operator",
        "key",
        "key_name",
        "values",
        "_positive",
        "_templates",
        "_literal_values",
        "_cache",
        "_null_wants",
    )

    def __init__(self, operator: OperatorName, key_name: str, values: Sequence[str], variables: bool) -> None:
        self.operator = operator
        self.key_name = key_name
        self.key = key_name.lower()  # condition keys are case-insensitive (tag keys included)
        self.values = tuple(values)
        self._templates: tuple[tuple[str, Template | None], ...] = ()
        self._cache: dict[tuple[Any, ...], Positive] = {}
        self._null_wants: frozenset[bool] = frozenset()
        self._positive: Positive | None = None
        family = operator.family
        if family == "Null":
            self._null_wants = frozenset(
                v.lower() == "true" for v in values if v.lower() in ("true", "false")
            )
            return
        templates = (
            [(v, parse_template(v)) for v in values] if variables and family in VARIABLE_FAMILIES else []
        )
        if any(t is not None for _, t in templates):
            self._templates = tuple(templates)
        else:
            self._positive = static_positive(family, values)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(var.name for _, t in self._templates if t is not None for var in t.variables)

    def _positive_for(self, context: Context) -> Positive:
        resolved: list[list[tuple[str, bool]]] = []
        for value, template in self._templates:
            if template is None:
                resolved.append([(value, True)])
                continue
            tokens = template.resolve(context)
            if tokens is not None:  # an unresolvable value matches nothing
                resolved.append(tokens)
        key = tuple(tuple(toks) for toks in resolved)
        positive = self._cache.get(key)
        if positive is None:
            if len(self._cache) >= 256:
                self._cache.clear()
            positive = _resolved_positive(self.operator.family, resolved) if resolved else _never
            self._cache[key] = positive
        return positive

    def test(self, context: Context) -> bool:
        op = self.operator
        present = context.get(self.key)
        if present is not None and not present:
            present = None  # an empty multivalued key counts as absent
        if op.family == "Null":
            return (present is None) in self._null_wants
        if present is None:
            if op.if_exists or op.set_op == "ForAllValues":
                return True
            if op.set_op == "ForAnyValue":
                return False
            return op.negated
        positive = self._positive if self._positive is not None else self._positive_for(context)
        if op.set_op is None:
            for value in present:
                if positive(value):
                    return not op.negated
            return op.negated
        if op.negated:
            outcomes = (not positive(value) for value in present)
        else:
            outcomes = (positive(value) for value in present)
        return all(outcomes) if op.set_op == "ForAllValues" else any(outcomes)

    def describe(self) -> str:
        return f"{self.operator.text} {self.key_name} {list(self.values)}"


def conditions_hold(conditions: tuple[Condition, ...], context: Context) -> bool:
    for condition in conditions:  # noqa: SIM110 -- a plain loop is faster than all() on this hot path
        if not condition.test(context):
            return False
    return True
