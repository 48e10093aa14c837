"""Input validation from the service model, with AWS's (Coral's) messages.

Every member is checked recursively against its shape's constraints: required members, string/blob/list/map
length (min/max), patterns, enums, and numeric ranges. Failures are collected and reported together:

    2 validation errors detected: Value 'x y' at 'roleName' failed to satisfy constraint: Member must
    satisfy regular expression pattern: [\\w+=,.@-]+; Value null at 'assumeRolePolicyDocument' failed to
    satisfy constraint: Member must not be null

A tagged union (a structure the model marks `union`) must have exactly one member set; with none or several
it is one violation at the union, naming its members (the value, a structure, is not echoed):

    Value at 'policyExclusionList.1.member' failed to satisfy constraint: Member must have exactly one of
    the following members set: [policyType, policyArn, inlinePolicyIdentifier]

Member paths use the lower-camel member name; list elements are "<list>.<n>.member" (1-based). A list of
scalars whose elements break their constraints is one violation at the list, listing the element
constraints ("Member must satisfy constraint: [...]"), as AWS reports it. Values of sensitive shapes (and of
shapes a service treats as such, like IAM's tag keys and values) are not echoed: "Value at 'x' ...".

Validators are compiled once per shape into closures; a shape with nothing to check compiles to None and
costs nothing per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.model import Shape

from rolecall.errors import violation
from rolecall.wire.models import lower_first
from rolecall.wire.patterns import compile_pattern

# (value, path, messages) -> None; appends one message per violation.
Check = Callable[[Any, str, list[str]], None]

# How a tagged union with no member or several members set is reported (followed by its member names).
UNION_CONSTRAINT = "Member must have exactly one of the following members set:"

_NUMERIC = {"integer", "long", "float", "double", "bigInteger", "bigDecimal"}


def java_length(text: str) -> int:
    """String length as Java counts it (UTF-16 code units): characters beyond the BMP count twice."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# The constraint tests, bound to their limits with functools.partial.


def _size_at_least(size: Callable[[Any], int], low: int, value: Any) -> bool:
    return size(value) >= low


def _size_at_most(size: Callable[[Any], int], high: int, value: Any) -> bool:
    return size(value) <= high


def _matches(regex: re.Pattern[str], value: Any) -> bool:
    return regex.fullmatch(value) is not None


def _at_least(low: Any, value: Any) -> bool:
    return bool(value >= low)


def _at_most(high: Any, value: Any) -> bool:
    return bool(value <= high)


class ValidatorCompiler:
    """Compiles shapes of one service model into Check closures (cached by shape name)."""

    def __init__(
        self, redacted_shapes: frozenset[str] = frozenset(), unpatterned_shapes: frozenset[str] = frozenset()
    ) -> None:
        self._redacted = redacted_shapes
        self._unpatterned = unpatterned_shapes  # shapes whose pattern is not checked
        self._done: dict[str, Check | None] = {}
        self._in_progress: set[str] = set()

    def compile(self, shape: Shape | None) -> Check | None:
        if shape is None:
            return None
        name = shape.name
        if name in self._done:
            return self._done[name]
        if name in self._in_progress:
            # A recursive shape: defer to the finished compilation through the cache.
            done = self._done
            return lambda value, path, out: _call(done.get(name), value, path, out)
        self._in_progress.add(name)
        try:
            check = self._compile_shape(shape)
        finally:
            self._in_progress.discard(name)
        self._done[name] = check
        return check

    def _is_redacted(self, shape: Shape) -> bool:
        return bool(shape.metadata.get("sensitive")) or shape.name in self._redacted

    # -- per type ---------------------------------------------------------------------------------------

    def _compile_shape(self, shape: Shape) -> Check | None:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        rules = self._scalar_rules(shape)
        if not rules:
            return None
        redacted = self._is_redacted(shape)

        def check_scalar(value: Any, path: str, out: list[str]) -> None:
            for test, constraint in rules:
                if not test(value):
                    out.append(violation(value, path, constraint, redacted=redacted))

        return check_scalar

    def _scalar_rules(self, shape: Shape) -> list[tuple[Callable[[Any], bool], str]]:
        """(passes(value), constraint text) in the order AWS reports them: length, pattern, enum, range."""
        meta = shape.metadata
        kind = shape.type_name
        low, high = meta.get("min"), meta.get("max")
        rules: list[tuple[Callable[[Any], bool], str]] = []
        if kind in ("string", "blob"):
            size: Callable[[Any], int] = java_length if kind == "string" else len
            if low is not None and low > 0:
                rules.append(
                    (
                        partial(_size_at_least, size, low),
                        f"Member must have length greater than or equal to {low}",
                    )
                )
            if high is not None:
                rules.append(
                    (
                        partial(_size_at_most, size, high),
                        f"Member must have length less than or equal to {high}",
                    )
                )
            pattern = meta.get("pattern") if shape.name not in self._unpatterned else None
            regex = compile_pattern(pattern) if kind == "string" and pattern else None
            if regex is not None:
                rules.append(
                    (
                        partial(_matches, regex),
                        f"Member must satisfy regular expression pattern: {pattern}",
                    )
                )
            enum = shape.enum if kind == "string" else None
            if enum:
                allowed = frozenset(enum)
                rules.append(
                    (
                        allowed.__contains__,
                        "Member must satisfy enum value set: [" + ", ".join(enum) + "]",
                    )
                )
        elif kind in _NUMERIC:
            if low is not None:
                rules.append(
                    (partial(_at_least, low), f"Member must have value greater than or equal to {low}")
                )
            if high is not None:
                rules.append(
                    (partial(_at_most, high), f"Member must have value less than or equal to {high}")
                )
        return rules

    def _length_rules(self, shape: Shape) -> list[tuple[Callable[[Any], bool], str]]:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        rules: list[tuple[Callable[[Any], bool], str]] = []
        if low is not None and low > 0:
            rules.append(
                (partial(_size_at_least, len, low), f"Member must have length greater than or equal to {low}")
            )
        if high is not None:
            rules.append(
                (partial(_size_at_most, len, high), f"Member must have length less than or equal to {high}")
            )
        return rules

    def _structure(self, shape: Shape) -> Check | None:
        union_check = self._union(shape) if shape.is_tagged_union else None
        required = set(shape.required_members)
        members: list[tuple[str, str, bool, Check | None, bool]] = []
        for member_name, member_shape in shape.members.items():
            check = self.compile(member_shape)
            is_required = member_name in required
            if check is not None or is_required:
                members.append(
                    (
                        member_name,
                        lower_first(member_name),
                        is_required,
                        check,
                        self._is_redacted(member_shape),
                    )
                )
        if not members:
            return union_check

        def check_structure(value: Any, path: str, out: list[str]) -> None:
            if not isinstance(value, dict):
                return
            if union_check is not None:
                union_check(value, path, out)
            for member_name, segment, is_required, check, redacted in members:
                item = value.get(member_name)
                member_path = f"{path}.{segment}" if path else segment
                if item is None:
                    if is_required:
                        out.append(violation(None, member_path, "Member must not be null", redacted=redacted))
                elif check is not None:
                    check(item, member_path, out)

        return check_structure

    @staticmethod
    def _union(shape: Shape) -> Check:
        """Exactly one member set. rolecall has no record of AWS's wording for this rule; the message keeps the
        form of the other constraint messages, so clients that match on "failed to satisfy constraint" still do."""
        names = list(shape.members)
        constraint = UNION_CONSTRAINT + " [" + ", ".join(lower_first(name) for name in names) + "]"

        def check_union(value: Any, path: str, out: list[str]) -> None:
            if isinstance(value, dict) and sum(1 for name in names if value.get(name) is not None) != 1:
                out.append(violation(value, path, constraint, redacted=True))

        return check_union

    def _list(self, shape: Shape) -> Check | None:
        length_rules = self._length_rules(shape)
        element = shape.member
        element_is_scalar = element.type_name not in ("structure", "list", "map")
        # Lists of structures have no meaningful printed form: AWS leaves the value out.
        redacted = self._is_redacted(shape) or self._is_redacted(element) or not element_is_scalar
        element_check = self.compile(element)
        summary_check = None
        if element_is_scalar:
            summary_check = self._element_summary(element, "Member must satisfy constraint: ", _items)
        if not length_rules and element_check is None and summary_check is None:
            return None

        def check_list(value: Any, path: str, out: list[str]) -> None:
            for test, constraint in length_rules:
                if not test(value):
                    out.append(violation(value, path, constraint, redacted=redacted))
            if summary_check is not None:
                summary_check(value, path, out)
            elif element_check is not None:
                for index, item in enumerate(value, 1):
                    if item is not None:
                        element_check(item, f"{path}.{index}.member", out)

        return check_list

    def _element_summary(self, element: Shape, lead: str, items: Callable[[Any], Any]) -> Check | None:
        """One violation at the container when any scalar element breaks its constraints (AWS's form).

        The constraint list is ordered as AWS prints it: max length, min length, pattern, enum, value range,
        then "Member must not be null".
        """
        rules = self._scalar_rules(element)
        if not rules:
            return None
        descriptions = [text for _, text in rules if "less than" in text]
        descriptions += [text for _, text in rules if "greater than" in text]
        descriptions += [text for _, text in rules if "less than" not in text and "greater than" not in text]
        descriptions.append("Member must not be null")
        constraint = lead + "[" + ", ".join(descriptions) + "]"
        redacted = self._is_redacted(element)
        tests = [test for test, _ in rules]

        def check_elements(value: Any, path: str, out: list[str]) -> None:
            for item in items(value):
                if item is None or not all(test(item) for test in tests):
                    out.append(violation(value, path, constraint, redacted=redacted))
                    return

        return check_elements

    def _map(self, shape: Shape) -> Check | None:
        length_rules = self._length_rules(shape)
        key_summary = self._element_summary(shape.key, "Map keys must satisfy constraint: ", _keys)
        value_shape = shape.value
        if value_shape.type_name in ("structure", "list", "map"):
            value_check = self.compile(value_shape)
            value_summary = None
        else:
            value_check = None
            value_summary = self._element_summary(value_shape, "Map value must satisfy constraint: ", _values)
        if not length_rules and key_summary is None and value_summary is None and value_check is None:
            return None
        redacted = (
            self._is_redacted(shape)
            or self._is_redacted(shape.key)
            or self._is_redacted(value_shape)
            or value_shape.type_name in ("structure", "list", "map")
        )

        def check_map(value: Any, path: str, out: list[str]) -> None:
            if not isinstance(value, dict):
                return
            for test, constraint in length_rules:
                if not test(value):
                    out.append(violation(value, path, constraint, redacted=redacted))
            if key_summary is not None:
                key_summary(value, path, out)
            if value_summary is not None:
                value_summary(value, path, out)
            elif value_check is not None:
                for key, item in value.items():
                    if item is not None:
                        value_check(item, f"{path}.{key}", out)

        return check_map


def _items(value: Any) -> Any:
    return value


def _keys(value: Any) -> Any:
    return value.keys()


def _values(value: Any) -> Any:
    return value.values()


def _call(check: Check | None, value: Any, path: str, out: list[str]) -> None:
    if check is not None:
        check(value, path, out)
