"""DynamoDB attribute values: validation, normalisation, comparison, size, and their stored form.

A value is kept as the wire has it, a one-member dict ({"S": "x"}, {"N": "1.5"}, {"M": {...}}, ...), with
numbers normalised as DynamoDB returns them ("1.50" -> "1.5", "1E2" -> "100"). Binary members arrive as
bytes; documents in the store are JSON, so `stored()` turns them into base64 text and `loaded()` back.
"""

from __future__ import annotations

import base64
from decimal import Decimal, InvalidOperation
from typing import Any

from rolecall.services.dynamodb.errors import ValidationException, invalid

Value = dict[str, Any]
Item = dict[str, Value]

TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}
SET_NAMES = {"SS": "string set", "NS": "number set", "BS": "binary set"}
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
NOT_A_NUMBER = "A value provided cannot be converted into a number"


def type_of(value: Value) -> str:
    return next(iter(value))


def number(text: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValidationException(NOT_A_NUMBER) from None
    if not d.is_finite():
        raise ValidationException(NOT_A_NUMBER)
    if d != 0:
        digits = d.normalize().as_tuple()
        if len(digits.digits) > 38:
            raise ValidationException("Attempting to store more than 38 significant digits in a Number")
        magnitude = d.adjusted()
        if magnitude > 125:
            raise ValidationException(
                "Number overflow. Attempting to store a number with magnitude larger than supported range"
            )
        if magnitude < -130:
            raise ValidationException(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range"
            )
    return d


def number_text(d: Decimal) -> str:
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def checked(value: Any, depth: int = 0) -> Value:
    """A request's attribute value, validated and normalised (raises ValidationException as DynamoDB does)."""
    if not isinstance(value, dict) or len(value) != 1 or type_of(value) not in TYPES:
        raise ValidationException(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
            if isinstance(value, dict) and len(value) > 1
            else "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if depth > MAX_DEPTH:
        raise ValidationException("Nesting Levels have exceeded supported limits")
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return {"N": number_text(number(inner))}
    if kind in SET_TYPES:
        if not inner:
            raise invalid(f"An {SET_NAMES[kind]}  may not be empty")
        if kind == "NS":
            items = [number_text(number(n)) for n in inner]
            keys: list[Any] = [number(n) for n in items]
        else:
            items = list(inner)
            keys = items
        if len(set(keys)) != len(keys):
            raise ValidationException(f"Input collection {_show(inner)} contains duplicates.")
        return {kind: items}
    if kind == "M":
        return {"M": {k: checked(v, depth + 1) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [checked(v, depth + 1) for v in inner]}
    if kind == "NULL" and inner is not True:
        raise invalid("Null attribute value types must have the value of true")
    return {kind: inner}


def checked_item(item: dict[str, Any]) -> Item:
    return {name: checked(value) for name, value in item.items()}


def _show(values: list[Any]) -> str:
    return "[" + ", ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values) + "]"


# --- comparison -----------------------------------------------------------------------------------------


def _bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else base64.b64decode(v)


def sort_key(value: Value) -> Any:
    """What orders values of one scalar type: S by UTF-8 bytes, N numerically, B by bytes."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return Decimal(inner)
    if kind == "S":
        return inner.encode("utf-8")
    if kind == "B":
        return _bytes(inner)
    return inner


def equal(a: Value | None, b: Value | None) -> bool:
    if a is None or b is None or type_of(a) != type_of(b):
        return False
    kind = type_of(a)
    x, y = a[kind], b[kind]
    if kind in ("S", "N", "B"):
        return sort_key(a) == sort_key(b)
    if kind in SET_TYPES:
        element = SET_TYPES[kind]
        return {sort_key({element: v}) for v in x} == {sort_key({element: v}) for v in y}
    if kind == "M":
        return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
    if kind == "L":
        return len(x) == len(y) and all(equal(p, q) for p, q in zip(x, y, strict=True))
    return bool(x == y)


def size(value: Value) -> int:
    """size(): characters of a string, bytes of a binary, members of a set, list or map."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":
        return len(_bytes(inner))
    if kind in ("SS", "NS", "BS", "L", "M"):
        return len(inner)
    raise ValidationException(
        f"Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: {kind}"
    )


def item_bytes(item: Item) -> int:
    """An item's size as DynamoDB counts it (names plus values, approximately)."""

    def of(value: Value) -> int:
        kind, inner = next(iter(value.items()))
        if kind == "S":
            return len(inner.encode("utf-8"))
        if kind == "N":
            return (len(inner.replace("-", "").replace(".", "")) + 1) // 2 + 1
        if kind == "B":
            return len(_bytes(inner))
        if kind in SET_TYPES:
            return sum(of({SET_TYPES[kind]: v}) for v in inner)
        if kind == "M":
            return 3 + sum(len(k.encode("utf-8")) + of(v) + 1 for k, v in inner.items())
        if kind == "L":
            return 3 + sum(of(v) + 1 for v in inner)
        return 1

    return sum(len(name.encode("utf-8")) + of(value) for name, value in item.items())


# --- stored form ------------------------------------------------------------------------------------------


def stored(value: Any) -> Any:
    """A value with its binaries as base64 text, for a JSON document."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stored(v) for v in value]
    return value


def loaded(value: Any) -> Any:
    """A stored value (or item) back in the wire's form: binaries as bytes."""
    if isinstance(value, dict):
        if len(value) == 1:
            kind, inner = next(iter(value.items()))
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list):
                return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in inner]}
        return {k: loaded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [loaded(v) for v in value]
    return value


def key_text(value: Value) -> str:
    """A key value as text, for dynamodb:LeadingKeys and for naming the stored item."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return base64.b64encode(_bytes(inner)).decode("ascii")
    return str(inner)
