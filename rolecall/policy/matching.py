"""Wildcard and ARN matching, compiled once per pattern.

IAM wildcards: `*` matches any run of characters (including none, and including `/` and `:`),
`?` matches exactly one character. There is no escape character in a plain pattern; policy
variables (`${*}`, `${?}`, substituted values) produce *literal* text, which is why the compiler
takes a token stream of (text, is_pattern) pairs rather than a bare string.

Matching never uses a regular expression with more than one unbounded repetition, so a hostile
pattern like `*a*a*a*...` costs O(len(pattern) * len(value)), not exponential time: the pattern is cut
at its `*`s into chunks, the first chunk must sit at the start, the last at the end, and the middle
chunks are found left to right (greedy leftmost placement is optimal for `*`-only gaps).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

Matcher = Callable[[str], bool]
# One piece of a pattern: (text, is_pattern). In a pattern piece `*` and `?` are wildcards; in a
# literal piece (a substituted variable value or an escape like ${*}) every character is literal.
Token = tuple[str, bool]

_ANY_ONE = object()  # marks a `?` inside a chunk


def _true(_value: str) -> bool:
    return True


class _Chunk:
    """A run of the pattern between two `*`s: literal text, possibly with `?` positions."""

    __slots__ = ("text", "length", "regex")

    def __init__(self, atoms: Sequence[object]) -> None:
        # Atoms are literal strings and the _ANY_ONE marker.
        self.text: str | None
        self.regex: re.Pattern[str] | None
        if any(a is _ANY_ONE for a in atoms):
            self.text = None
            source = "".join("." if a is _ANY_ONE else re.escape(str(a)) for a in atoms)
            # A chunk has no repetition, so match/search cost is bounded by len(chunk) per position.
            self.regex = re.compile(source, re.DOTALL)
        else:
            self.text = "".join(str(a) for a in atoms)
            self.regex = None
        self.length = sum(1 if a is _ANY_ONE else len(str(a)) for a in atoms)

    def at(self, value: str, pos: int) -> bool:
        if self.text is not None:
            return value.startswith(self.text, pos)
        return self.regex.match(value, pos) is not None  # type: ignore[union-attr]

    def find(self, value: str, start: int, end: int) -> int:
        """Leftmost position >= start where the chunk fits entirely before end, or -1."""
        if self.text is not None:
            return value.find(self.text, start, end)
        m = self.regex.search(value, start, end)  # type: ignore[union-attr]
        return -1 if m is None else m.start()


def _chunks(tokens: Iterable[Token]) -> tuple[list[_Chunk], bool]:
    """Split tokens at pattern `*`s. Returns the chunks and whether any `*` was seen."""
    chunks: list[list[object]] = [[]]
    star = False
    for text, is_pattern in tokens:
        if not is_pattern:
            if text:
                chunks[-1].append(text)
            continue
        buf: list[str] = []
        for ch in text:
            if ch == "*":
                if buf:
                    chunks[-1].append("".join(buf))
                    buf = []
                chunks.append([])
                star = True
            elif ch == "?":
                if buf:
                    chunks[-1].append("".join(buf))
                    buf = []
                chunks[-1].append(_ANY_ONE)
            else:
                buf.append(ch)
        if buf:
            chunks[-1].append("".join(buf))
    return [_Chunk(c) for c in chunks], star


def compile_tokens(tokens: Sequence[Token], *, case_sensitive: bool = True) -> Matcher:
    """Compile a token stream into a predicate. When case_sensitive is False the predicate lower-cases
    the value itself; callers on a hot path can lower-case once and compile with lowered tokens."""
    if not case_sensitive:
        lowered = [(text.lower(), is_pattern) for text, is_pattern in tokens]
        inner = compile_tokens(lowered, case_sensitive=True)
        return lambda value: inner(value.lower())
    chunks, star = _chunks(tokens)
    if not star:
        only = chunks[0]
        if only.text is not None:
            return only.text.__eq__
        rx = only.regex
        return lambda value: rx.fullmatch(value) is not None  # type: ignore[union-attr]
    first, middle, last = chunks[0], [c for c in chunks[1:-1] if c.length], chunks[-1]
    if not middle and first.regex is None and last.regex is None:
        head, tail = first.text or "", last.text or ""
        if not head and not tail:
            return _true
        if not tail:
            return lambda value: value.startswith(head)
        if not head:
            return lambda value: value.endswith(tail)
        need = len(head) + len(tail)
        return lambda value: len(value) >= need and value.startswith(head) and value.endswith(tail)
    minimum = first.length + last.length + sum(c.length for c in middle)
    if all(c.regex is None for c in (first, last, *middle)):
        # Only `*`s (the common shape, e.g. arn:aws:ec2:*:123:instance/*): plain string operations.
        head, tail = first.text or "", last.text or ""
        pieces = [c.text or "" for c in middle]

        def match_plain(value: str) -> bool:
            if len(value) < minimum or not value.startswith(head) or not value.endswith(tail):
                return False
            pos, end = len(head), len(value) - len(tail)
            for piece in pieces:
                found = value.find(piece, pos, end)
                if found < 0:
                    return False
                pos = found + len(piece)
            return True

        return match_plain

    def match(value: str) -> bool:
        n = len(value)
        if n < minimum or not first.at(value, 0):
            return False
        end = n - last.length
        if not last.at(value, end):
            return False
        pos = first.length
        for chunk in middle:
            found = chunk.find(value, pos, end)
            if found < 0:
                return False
            pos = found + chunk.length
        return True

    return match


_cache: dict[tuple[str, bool], Matcher] = {}
_CACHE_LIMIT = 4096


def compile_pattern(pattern: str, *, case_sensitive: bool = True) -> Matcher:
    """A predicate for one plain wildcard pattern (memoized)."""
    key = (pattern, case_sensitive)
    matcher = _cache.get(key)
    if matcher is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        matcher = compile_tokens(((pattern, True),), case_sensitive=case_sensitive)
        _cache[key] = matcher
    return matcher


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    """Does value match the IAM wildcard pattern (`*` any run, `?` one character)?"""
    return compile_pattern(pattern, case_sensitive=case_sensitive)(value)


# --- ARNs ---------------------------------------------------------------------------------------------

ARN_PARTS = 6


def split_tokens(tokens: Sequence[Token], sep: str, maxsplit: int) -> list[list[Token]]:
    """Split a token stream at `sep` (wherever it occurs, pattern or literal), at most maxsplit times."""
    parts: list[list[Token]] = [[]]
    splits = 0
    for text, is_pattern in tokens:
        while splits < maxsplit:
            i = text.find(sep)
            if i < 0:
                break
            parts[-1].append((text[:i], is_pattern))
            parts.append([])
            splits += 1
            text = text[i + len(sep) :]
        parts[-1].append((text, is_pattern))
    return parts


def compile_arn_tokens(tokens: Sequence[Token]) -> Matcher:
    """ArnLike/ArnEquals: the six colon-separated parts are matched separately, case-sensitively.
    The last part (the resource) may itself contain colons. A pattern or value that does not have six
    parts matches only a value with the same number of parts, part by part."""
    part_tokens = split_tokens(tokens, ":", ARN_PARTS - 1)
    matchers = [compile_tokens(p) for p in part_tokens]
    count = len(matchers)

    def match(arn: str) -> bool:
        parts = arn.split(":", ARN_PARTS - 1)
        if len(parts) != count:
            return False
        for m, part in zip(matchers, parts, strict=True):  # noqa: SIM110
            if not m(part):
                return False
        return True

    return match


_arn_cache: dict[str, Matcher] = {}


def compile_arn(pattern: str) -> Matcher:
    matcher = _arn_cache.get(pattern)
    if matcher is None:
        if len(_arn_cache) >= _CACHE_LIMIT:
            _arn_cache.clear()
        matcher = compile_arn_tokens(((pattern, True),))
        _arn_cache[pattern] = matcher
    return matcher


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike semantics: six colon-separated parts, each matched with wildcards, case-sensitively."""
    return compile_arn(pattern)(arn)


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def wildcard_in_resource_type(pattern: str) -> bool:
    """Whether a Resource pattern puts a wildcard in the resource-type part of the ARN, which IAM does not
    allow ("You cannot use a wildcard in the portion of the ARN that specifies the resource type", IAM User
    Guide, "IAM identifiers"): arn:aws:ec2:us-east-1:123456789012:*/12345, arn:aws:iam::123456789012:u*.
    The type is what precedes the first "/" or ":" of the resource part; a resource part that is "*" alone
    (any resource) is fine, and S3's ARNs have no type (arn:aws:s3:::*/key is bucket and key)."""
    parts = pattern.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] in ("s3", "*", ""):
        return False
    resource = parts[5]
    if resource == "*" or not has_wildcard(resource):
        return False
    cut = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
    if cut >= 0:
        return has_wildcard(resource[:cut])
    # No separator: a name-only ARN (an SNS topic, an SQS queue) may be a wildcard, but a pattern that
    # leaves the type open (u*, *er) is refused where the service's ARNs have a type; IAM's always do.
    return parts[2] == "iam"
