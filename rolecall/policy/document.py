"""Turning caller input (str, bytes or dict) into policy text plus a parsed JSON document, with bounds.

Any input whatsoever ends here as (text, dict) or MalformedPolicy: raw size, nesting depth and node count
are bounded before anything else looks at the document, and every decoder exception is converted.
"""

from __future__ import annotations

import json
from typing import Any

SYNTAX_ERROR = "Syntax errors in policy."

MAX_RAW_BYTES = 1024 * 1024  # nothing IAM accepts is near this; it only bounds work on hostile input
MAX_DEPTH = 16  # a real policy nests 7 deep (Statement / Condition / operator / key / values)
MAX_NODES = 200_000

# IAM's pattern for policy documents: tab, LF, CR and U+0020..U+00FF.
ALLOWED_CHARACTERS = frozenset("\t\n\r") | frozenset(chr(c) for c in range(0x20, 0x100))
_WHITESPACE = str.maketrans("", "", " \t\n\r")


class MalformedPolicy(Exception):
    """A policy document AWS would refuse. message is AWS's wording for the problem AWS reports first;
    errors lists AWS's wording for every problem found (message first, no repeats); details says where
    each problem is (statement index, element, value).

    code is the AWS error code a service should answer with: MalformedPolicyDocument for most problems,
    LimitExceeded for a document over its size quota, ValidationError for characters outside IAM's
    allowed set (the API rejects those before the policy grammar is consulted).
    """

    def __init__(
        self,
        message: str,
        details: list[str] | None = None,
        *,
        errors: list[str] | None = None,
        code: str = "MalformedPolicyDocument",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors) if errors else [message]
        self.details = list(details) if details else [message]
        self.code = code

    def __repr__(self) -> str:
        return f"MalformedPolicy({self.code}: {self.message!r})"


def size_without_whitespace(text: str) -> int:
    """IAM's policy size: characters, not counting whitespace."""
    return len(text.translate(_WHITESPACE))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_text(source: str | bytes | bytearray | dict[str, Any]) -> str:
    """The policy's text. bytes must be UTF-8; a dict is serialized compactly."""
    if isinstance(source, bytes | bytearray):
        if len(source) > MAX_RAW_BYTES:
            raise MalformedPolicy(SYNTAX_ERROR, ["document larger than 1 MiB"])
        try:
            return bytes(source).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPolicy(SYNTAX_ERROR, ["document is not valid UTF-8"]) from None
    if isinstance(source, str):
        if len(source) > MAX_RAW_BYTES:
            raise MalformedPolicy(SYNTAX_ERROR, ["document larger than 1 MiB"])
        return source
    if isinstance(source, dict):
        try:
            text = json.dumps(source, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError, OverflowError):
            raise MalformedPolicy(SYNTAX_ERROR, ["document is not JSON-serializable"]) from None
        if len(text) > MAX_RAW_BYTES:
            raise MalformedPolicy(SYNTAX_ERROR, ["document larger than 1 MiB"])
        return text
    raise MalformedPolicy(SYNTAX_ERROR, [f"a policy is text, bytes or a dict, not {type(source).__name__}"])


def _check_shape(root: Any) -> None:
    """Depth and node-count bounds, walked iteratively."""
    stack = [(root, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise MalformedPolicy(SYNTAX_ERROR, ["document has too many elements"])
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedPolicy(SYNTAX_ERROR, ["document nests too deeply"])
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def parse_json(text: str) -> dict[str, Any]:
    """Parse policy text into a dict (the top level must be an object)."""
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError, MemoryError):
        # JSONDecodeError is a ValueError; so are NaN/Infinity and over-long integers.
        raise MalformedPolicy(SYNTAX_ERROR, ["document is not valid JSON"]) from None
    if not isinstance(document, dict):
        raise MalformedPolicy(SYNTAX_ERROR, ["document is not a JSON object"])
    _check_shape(document)
    return document
