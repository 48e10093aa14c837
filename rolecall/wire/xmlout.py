"""Model-driven XML output, as the query (and later ec2 / rest-xml) protocols return it.

A shape compiles once into a writer that appends string pieces to a list: structures as child elements
named by the members' locationName (or member name), lists as <member> children (or the member's
locationName; flattened lists repeat the element itself), maps as <entry><key/><value/></entry>,
timestamps ISO 8601 in UTC, booleans lower-case, blobs base64. Members whose value is None are left out.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from rolecall.wire.codec import compile_once
from rolecall.wire.timestamps import format_epoch, format_iso8601, to_datetime

Writer = Callable[[Any, list[str]], None]

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})


def escape(text: str) -> str:
    """Escape element text (a carriage return is kept as a reference so XML parsers do not fold it)."""
    return text.translate(_ESCAPES)


def _text_bool(value: Any) -> str:
    return "true" if value else "false"


def _text_int(value: Any) -> str:
    return str(int(value))


def _text_float(value: Any) -> str:
    return repr(float(value))


def _text_blob(value: Any) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode("ascii")


def _text_string(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value))


def _timestamp_text(shape: Shape) -> Callable[[Any], str]:
    fmt = shape.serialization.get("timestampFormat", "iso8601")
    if fmt == "unixTimestamp":
        return lambda v: str(format_epoch(v))
    if fmt == "rfc822":
        return lambda v: to_datetime(v).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return format_iso8601


_SCALAR_TEXT: dict[str, Callable[[Any], str]] = {
    "string": _text_string,
    "boolean": _text_bool,
    "integer": _text_int,
    "long": _text_int,
    "bigInteger": _text_int,
    "float": _text_float,
    "double": _text_float,
    "bigDecimal": _text_float,
    "blob": _text_blob,
}


def render(write: Writer, value: Any) -> str:
    """What `write` writes for `value`, as one string."""
    out: list[str] = []
    write(value, out)
    return "".join(out)


def member_tag(shape: Shape, member_name: str) -> str:
    """The element name a structure member is written under (flattened lists use their member's name)."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        name = shape.member.serialization.get("name")
        if name:
            return str(name)
    return str(shape.serialization.get("name") or member_name)


class XmlWriterCompiler:
    """Compiles the shapes of one model into writers (cached by shape name; recursion-safe)."""

    def __init__(self) -> None:
        self._content: dict[str, Writer] = {}

    def content(self, shape: Shape) -> Writer:
        """A writer of the element's inner content (text, or child elements)."""
        return compile_once(self._content, shape, self._compile_content)

    def element(self, shape: Shape, tag: str) -> Writer:
        """A writer of the whole element(s) for a value of `shape` under `tag`."""
        open_tag, close_tag = f"<{tag}>", f"</{tag}>"
        flattened = bool(shape.serialization.get("flattened"))
        if flattened and shape.type_name == "list":
            inner = self.content(shape.member)

            def write_flat_list(value: Any, out: list[str]) -> None:
                for item in value:
                    if item is not None:
                        out.append(open_tag)
                        inner(item, out)
                        out.append(close_tag)

            return write_flat_list
        if flattened and shape.type_name == "map":
            entry = self._map_entry(shape)

            def write_flat_map(value: Any, out: list[str]) -> None:
                for key, item in value.items():
                    out.append(open_tag)
                    entry(key, item, out)
                    out.append(close_tag)

            return write_flat_map
        inner = self.content(shape)

        def write_element(value: Any, out: list[str]) -> None:
            out.append(open_tag)
            inner(value, out)
            out.append(close_tag)

        return write_element

    def _compile_content(self, shape: Shape) -> Writer:
        kind = shape.type_name
        if kind == "structure":
            return self._structure_elements(shape)
        if kind == "list":
            item_tag = shape.member.serialization.get("name") or "member"
            write_item = self.element(shape.member, item_tag)

            def write_list(value: Any, out: list[str]) -> None:
                for item in value:
                    if item is not None:
                        write_item(item, out)

            return write_list
        if kind == "map":
            entry = self._map_entry(shape)

            def write_map(value: Any, out: list[str]) -> None:
                for key, item in value.items():
                    out.append("<entry>")
                    entry(key, item, out)
                    out.append("</entry>")

            return write_map
        text = _timestamp_text(shape) if kind == "timestamp" else _SCALAR_TEXT.get(kind, _text_string)

        def write_scalar(value: Any, out: list[str]) -> None:
            out.append(text(value))

        return write_scalar

    def _structure_elements(self, shape: Shape, leave_out: frozenset[str] = frozenset()) -> Writer:
        """A writer of a structure's members (all but `leave_out`) as child elements."""
        members = [
            (name, self.element(member, member_tag(member, name)))
            for name, member in shape.members.items()
            if name not in leave_out
        ]

        def write_structure(value: Any, out: list[str]) -> None:
            for name, write in members:
                item = value.get(name)
                if item is not None:
                    write(item, out)

        return write_structure

    def _map_entry(self, shape: Shape) -> Callable[[Any, Any, list[str]], None]:
        write_key = self.element(shape.key, shape.key.serialization.get("name") or "key")
        write_value = self.element(shape.value, shape.value.serialization.get("name") or "value")

        def entry(key: Any, item: Any, out: list[str]) -> None:
            write_key(key, out)
            if item is not None:
                write_value(item, out)

        return entry
