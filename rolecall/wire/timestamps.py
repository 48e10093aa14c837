"""Timestamps as the protocols carry them.

Query/XML responses carry ISO 8601 in UTC with a "Z" (IAM: "2024-05-01T12:00:00Z"; fractional seconds only
when there are any, as milliseconds). JSON carries epoch seconds as a number. Handlers may return a
datetime (naive means UTC), epoch seconds, or an already formatted string, which is passed through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def to_datetime(value: datetime | float | int | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return parse_timestamp(value)


def format_iso8601(value: datetime | float | int | str) -> str:
    if isinstance(value, str):
        return value
    dt = to_datetime(value).astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        return f"{text}.{dt.microsecond // 1000:03d}Z"
    return text + "Z"


def format_epoch(value: datetime | float | int | str) -> int | float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        return value
    seconds = to_datetime(value).timestamp()
    whole = int(seconds)
    return whole if whole == seconds else round(seconds, 3)


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (with or without fraction / offset), epoch seconds, or an RFC 822 date. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("empty timestamp")
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"not a timestamp: {text!r}") from exc
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
