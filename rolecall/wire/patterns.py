"""Compile the service models' (Java) regular expressions for Python's re.

AWS validates a member's `pattern` the way java.util.regex's matches() does: against the whole value, with
ASCII-only \\w \\d \\s. Python's re differs in a few places that the models use:
  - \\p{L}, \\p{Z}, \\p{N}, ... (Unicode categories) and \\p{Alpha}-style POSIX classes do not exist in re:
    they are expanded into explicit character ranges built from unicodedata;
  - \\x{HHHH} becomes \\UHHHHHHHH, \\z becomes \\Z;
  - nested classes / intersections ([a-z&&[^x]], [a[b]]) and \\Q..\\E have no re equivalent: such a
    pattern is reported as untranslatable and the caller skips it.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import warnings
from functools import cache

# POSIX classes as Java defines them (US-ASCII only), as class contents.
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}


class Untranslatable(ValueError):
    """The pattern uses a Java regex feature with no Python equivalent."""


@cache
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    """Code point ranges per two-letter Unicode general category (computed once, on first use)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    current, start = None, 0
    for cp in range(sys.maxunicode + 1):
        cat = category(chr(cp))
        if cat != current:
            if current is not None:
                ranges.setdefault(current, []).append((start, cp - 1))
            current, start = cat, cp
    ranges.setdefault(current or "Cn", []).append((start, sys.maxunicode))
    return ranges


@cache
def _category_class(name: str) -> str:
    """Class contents (no brackets) for a Unicode category like "L" or "Lu", or a POSIX class name."""
    if name in _POSIX:
        return _POSIX[name]
    key = name[2:] if name.startswith("Is") and len(name) <= 4 else name
    table = _category_ranges()
    cats = [c for c in table if c == key or (len(key) == 1 and c[0] == key)]
    if not cats:
        raise Untranslatable(f"unknown character property {name!r}")
    spans = sorted(span for c in cats for span in table[c])
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in merged)


def translate(pattern: str) -> str:
    """Rewrite a Java pattern as an equivalent Python pattern, or raise Untranslatable."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise Untranslatable("trailing backslash")
            nxt = pattern[i + 1]
            if nxt in "pP":
                if i + 2 < n and pattern[i + 2] == "{":
                    end = pattern.find("}", i + 3)
                    if end < 0:
                        raise Untranslatable("unterminated \\p{")
                    name, i = pattern[i + 3 : end], end + 1
                else:
                    name, i = pattern[i + 2 : i + 3], i + 3
                body = _category_class(name)
                if in_class:
                    if nxt == "P":
                        raise Untranslatable("negated property inside a class")
                    out.append(body)
                else:
                    out.append(("[^" if nxt == "P" else "[") + body + "]")
                continue
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end < 0:
                    raise Untranslatable("unterminated \\x{")
                out.append(f"\\U{int(pattern[i + 3 : end], 16):08x}")
                i = end + 1
                continue
            if nxt == "z":
                out.append("\\Z")
            elif nxt in "QEhHvVRXG":
                raise Untranslatable(f"unsupported escape \\{nxt}")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "[" or pattern.startswith("&&", i):
                raise Untranslatable("nested class or class intersection")
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # A ']' right after '[' or '[^' is a literal in both dialects.
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        out.append(ch)
        i += 1
    if in_class:
        raise Untranslatable("unterminated class")
    return "".join(out)


@cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, or None when it cannot be reproduced faithfully (the check is then skipped)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(translate(pattern), re.ASCII)
    except (Untranslatable, re.error, ValueError, OverflowError):
        return None
