"""CBOR (RFC 8949), as much of it as the Smithy RPC v2 CBOR protocol uses: integers, byte and text strings
(definite and indefinite length), arrays, maps, tag 1 (epoch-seconds timestamps), floats, true, false,
null and undefined. decode() raises CborError for anything else or for malformed input.
"""

from __future__ import annotations

import struct
from typing import Any


class CborError(ValueError):
    pass


class Timestamp(float):
    """An epoch-seconds timestamp, encoded with tag 1."""


_BREAK = 0xFF


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CborError("truncated CBOR data")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def argument(self, info: int) -> int:
        if info < 24:
            return info
        sizes = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in sizes:
            raise CborError(f"unsupported CBOR additional information {info}")
        return int.from_bytes(self.take(sizes[info]), "big")

    def at_break(self) -> bool:
        if self.pos < len(self.data) and self.data[self.pos] == _BREAK:
            self.pos += 1
            return True
        return False

    def item(self, depth: int = 0) -> Any:
        if depth > 64:
            raise CborError("CBOR data nested too deeply")
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 0:
            return self.argument(info)
        if major == 1:
            return -1 - self.argument(info)
        if major in (2, 3):
            if info == 31:
                chunks = []
                while not self.at_break():
                    head = self.take(1)[0]
                    if head >> 5 != major:
                        raise CborError("bad chunk in an indefinite-length string")
                    chunks.append(self.take(self.argument(head & 0x1F)))
                raw = b"".join(chunks)
            else:
                raw = self.take(self.argument(info))
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CborError("invalid UTF-8 in a CBOR text string") from None
        if major == 4:
            if info == 31:
                items = []
                while not self.at_break():
                    items.append(self.item(depth + 1))
                return items
            return [self.item(depth + 1) for _ in range(self.argument(info))]
        if major == 5:
            out: dict[Any, Any] = {}
            if info == 31:
                while not self.at_break():
                    key = self.item(depth + 1)
                    out[key] = self.item(depth + 1)
                return out
            for _ in range(self.argument(info)):
                key = self.item(depth + 1)
                out[key] = self.item(depth + 1)
            return out
        if major == 6:
            tag = self.argument(info)
            value = self.item(depth + 1)
            if tag != 1 or isinstance(value, bool) or not isinstance(value, int | float):
                raise CborError(f"unsupported CBOR tag {tag}")
            return Timestamp(value)
        # major 7
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info]
        formats = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}
        if info not in formats:
            raise CborError(f"unsupported CBOR simple value {info}")
        fmt, size = formats[info]
        return struct.unpack(fmt, self.take(size))[0]


def decode(data: bytes) -> Any:
    """The one data item `data` holds."""
    reader = _Reader(data)
    value = reader.item()
    if reader.pos != len(data):
        raise CborError("trailing bytes after the CBOR data item")
    return value


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise CborError("integer too large for CBOR")


def encode(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, Timestamp):
        out += _head(6, 1)
        _encode(float(value) if not float(value).is_integer() else int(value), out)
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, bytes | bytearray):
        out += _head(2, len(value)) + bytes(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out += _head(3, len(raw)) + raw
    elif isinstance(value, list | tuple):
        out += _head(4, len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
    else:
        raise CborError(f"cannot encode {type(value).__name__} as CBOR")
