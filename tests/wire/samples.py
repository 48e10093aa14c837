"""Example values for any botocore shape: every member filled, lengths and ranges respected.

Strings carry characters that need escaping in XML and URLs, so a round trip through the codecs proves
the escaping as well as the structure. Recursive shapes stop after a few levels.

A tagged union (a structure with `union: True`) takes exactly one member, as AWS requires: member number
`choice` (modulo its member count), so sample(shape, choice=i) for i in range(union_choices(shape)) shows
every member of every union the shape reaches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape

TRICKY = "v&<>\"' é/+=%"
WHEN = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)


def sample(shape: Shape, seed: str = "", _stack: tuple[str, ...] = (), *, choice: int = 0) -> Any:
    if shape.name in _stack or len(_stack) > 6:
        return None
    stack = (*_stack, shape.name)
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            value = sample(member, name, stack, choice=choice)
            if value is not None and value != {}:
                out[name] = value
        if shape.is_tagged_union and out:
            chosen = list(out)[choice % len(out)]
            return {chosen: out[chosen]}
        return out
    if kind == "list":
        count = _count(meta)
        items = [sample(shape.member, f"{seed}{i}", stack, choice=choice) for i in range(count)]
        return [item for item in items if item is not None]
    if kind == "map":
        count = _count(meta)
        out = {}
        for i in range(count):
            key = sample(shape.key, f"k{i}", stack, choice=choice)
            value = sample(shape.value, f"{seed}{i}", stack, choice=choice)
            if key is not None and value is not None:
                out[key] = value
        return out
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        return _string(f"{seed}{TRICKY}", meta.get("min", 0), meta.get("max"))
    if kind in ("integer", "long"):
        low, high = meta.get("min"), meta.get("max")
        value = low if low is not None else 7
        return min(value, high) if high is not None else value
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return WHEN
    if kind == "blob":
        return b"\x00\x01binary\xff"
    return None


def union_choices(shape: Shape | None) -> int:
    """How many samples show every member of every tagged union `shape` reaches (1 when it reaches none)."""
    widest, seen, pending = 1, set(), [shape] if shape is not None else []
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        if current.type_name == "structure":
            if current.is_tagged_union:
                widest = max(widest, len(current.members))
            pending.extend(current.members.values())
        elif current.type_name == "list":
            pending.append(current.member)
        elif current.type_name == "map":
            pending.append(current.value)
    return widest


def _count(meta: dict[str, Any]) -> int:
    count = max(2, meta.get("min", 0))
    high = meta.get("max")
    return min(count, high) if high is not None else count


def _string(base: str, low: int, high: int | None) -> str:
    text = base
    while len(text) < low:
        text += "x"
    return text if high is None else text[:high]


def without_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
