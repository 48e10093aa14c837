"""Where each element of a policy sits in its text, as Access Analyzer reports locations.

A location is a path from the document root -- {"value": "Statement"}, {"index": 0}, {"value": "Action"},
{"index": 2} -- and the span of the element it leads to: start and end positions, each a line (from 1),
a column (from 0) and an offset into the text (from 0); the end is just past the element. A path may end
in {"key": name}: the span is then that of the member's name (a condition key, say), not its value.
"""

from __future__ import annotations

import json.decoder
from collections.abc import Callable
from typing import Any

PathElement = tuple[str, Any]  # ("value", "Statement") | ("index", 0) | ("key", "aws:SourceArn")
Path = tuple[PathElement, ...]

scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = " \t\r\n"


class Locator:
    """Spans of every value (and member name) in a JSON text; empty when the text is not JSON."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: dict[Path, tuple[int, int]] = {}
        try:
            end = self._value(self._skip(0), ())
            if self._skip(end) != len(text):
                self.spans.clear()
        except (ValueError, IndexError):
            self.spans.clear()

    def location(self, *path: PathElement) -> dict[str, Any]:
        """The location of `path`, or of its nearest ancestor that the text has."""
        found = tuple(path)
        while found and found not in self.spans:
            found = found[:-1]
        start, end = self.spans.get(found, (0, len(self.text)))
        return {
            "path": [{kind: value} for kind, value in path],
            "span": {"start": self._position(start), "end": self._position(end)},
        }

    def _position(self, offset: int) -> dict[str, int]:
        line_start = self.text.rfind("\n", 0, offset) + 1
        return {"line": self.text.count("\n", 0, offset) + 1, "column": offset - line_start, "offset": offset}

    def _skip(self, i: int) -> int:
        text = self.text
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def _value(self, i: int, path: Path) -> int:
        text = self.text
        ch = text[i]
        if ch == "{":
            end = self._object(i, path)
        elif ch == "[":
            end = self._array(i, path)
        elif ch == '"':
            _, end = scanstring(text, i + 1)
        else:
            end = i
            while end < len(text) and text[end] not in ",]} \t\r\n":
                end += 1
            if end == i:
                raise ValueError("value expected")
        self.spans[path] = (i, end)
        return end

    def _object(self, i: int, path: Path) -> int:
        text = self.text
        i = self._skip(i + 1)
        if text[i] == "}":
            return i + 1
        while True:
            if text[i] != '"':
                raise ValueError("member name expected")
            name, after = scanstring(text, i + 1)
            self.spans.setdefault((*path, ("key", name)), (i, after))
            i = self._skip(after)
            if text[i] != ":":
                raise ValueError("colon expected")
            member: Path = (*path, ("value", name))
            if member in self.spans:  # a repeated name: JSON keeps the last, and so do we
                del self.spans[member]
            i = self._skip(self._value(self._skip(i + 1), member))
            if text[i] == "}":
                return i + 1
            if text[i] != ",":
                raise ValueError("comma expected")
            i = self._skip(i + 1)

    def _array(self, i: int, path: Path) -> int:
        text = self.text
        i = self._skip(i + 1)
        if text[i] == "]":
            return i + 1
        index = 0
        while True:
            i = self._skip(self._value(i, (*path, ("index", index))))
            index += 1
            if text[i] == "]":
                return i + 1
            if text[i] != ",":
                raise ValueError("comma expected")
            i = self._skip(i + 1)
