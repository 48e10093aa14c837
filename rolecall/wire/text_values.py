"""Scalar members read from their text form, as the XML-family protocols (query, ec2, rest-xml) send them.

Failures raise BadValue with the Coral messages those services answer with. Integers are not here: the
query and rest-xml readers accept different spellings of them (see each module's _to_int).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from rolecall.wire.codec import BadValue
from rolecall.wire.timestamps import parse_timestamp


def text_to_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise BadValue(raw, "Member must be a number") from None


def text_to_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise BadValue(raw, "Member must be a boolean")


def text_to_timestamp(raw: str) -> Any:
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise BadValue(raw, "Member must be a timestamp") from None


def text_to_blob(raw: str) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise BadValue(raw, "Member must be base64-encoded binary data") from None


def text_readers(to_int: Callable[[str], int]) -> dict[str, Callable[[str], Any]]:
    """The reader of each non-string scalar type, with the protocol's own integer reader."""
    return {
        "integer": to_int,
        "long": to_int,
        "bigInteger": to_int,
        "float": text_to_float,
        "double": text_to_float,
        "bigDecimal": text_to_float,
        "boolean": text_to_bool,
        "timestamp": text_to_timestamp,
        "blob": text_to_blob,
    }
