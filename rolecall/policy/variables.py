"""Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, and the escapes
`${*}`, `${?}`, `${$}`.

Only a policy with Version 2012-10-17 has variables; under 2008-10-17 (or no Version) the same text is
literal. A template is parsed once into parts; resolving it against a request yields a token stream
for the matcher (policy text keeps its wildcards, substituted values and escapes are literal), or None
when a variable has no value and no default -- the caller then treats that entry as matching nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .matching import Token

_ESCAPES = {"*": "*", "?": "?", "$": "$"}


class Variable:
    __slots__ = ("key", "name", "default")

    def __init__(self, name: str, default: str | None) -> None:
        self.name = name  # as written, for explain() and missing_context_keys
        self.key = name.lower()  # context keys are case-insensitive
        self.default = default

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, default={self.default!r})"


class Template:
    """A string with policy variables. parts: policy text (str), Variable, or an escape (tuple)."""

    __slots__ = ("source", "parts", "variables")

    def __init__(self, source: str, parts: Sequence[object]) -> None:
        self.source = source
        self.parts = tuple(parts)
        self.variables = tuple(p for p in self.parts if isinstance(p, Variable))

    def resolve(self, context: Mapping[str, tuple[str, ...]]) -> list[Token] | None:
        tokens: list[Token] = []
        for part in self.parts:
            if isinstance(part, str):
                tokens.append((part, True))
            elif isinstance(part, tuple):  # an escape: literal text
                tokens.append((part[0], False))
            else:
                assert isinstance(part, Variable)
                value = single_value(context.get(part.key))
                if value is None:
                    if part.default is None:
                        return None
                    value = part.default
                tokens.append((value, False))
        return tokens

    def resolve_text(self, context: Mapping[str, tuple[str, ...]]) -> str | None:
        """The substituted string (escapes become their characters), or None when unresolvable."""
        tokens = self.resolve(context)
        return None if tokens is None else "".join(text for text, _ in tokens)


def single_value(values: tuple[str, ...] | None) -> str | None:
    """A variable takes a single-valued key only; a multivalued key cannot be substituted."""
    if values is None or len(values) != 1:
        return None
    return values[0]


def _variable(body: str) -> object | None:
    """The part for the text between `${` and `}`: an escape, a Variable, or None if not a variable."""
    name, comma, rest = body.partition(",")
    name = name.strip()
    default = None
    if comma:
        rest = rest.strip()
        if len(rest) < 2 or rest[0] != "'" or rest[-1] != "'" or "'" in rest[1:-1]:
            return None
        default = rest[1:-1]
    if not name or "'" in name:
        return None
    if name in _ESCAPES and default is None:
        return (_ESCAPES[name],)
    return Variable(name, default)


def parse_template(text: str) -> Template | None:
    """Parse text for variables; None when it has none (the common case, kept on the fast path).

    A single left-to-right scan (no backtracking regex), so hostile text costs linear time."""
    if "${" not in text:
        return None
    parts: list[object] = []
    literal_from = 0  # start of the policy text not yet emitted
    pos = text.find("${")
    found = False
    close = -1
    while pos >= 0:
        if close < pos + 2:
            close = text.find("}", pos + 2)
            if close < 0:
                break  # no closing brace anywhere after: the rest is text
        # "${a${b}": the first "${" is text; the last "${" before the brace opens the variable.
        inner = text.rfind("${", pos + 2, close)
        if inner >= 0:
            pos = inner
            continue
        part = _variable(text[pos + 2 : close])
        if part is not None:
            if pos > literal_from:
                parts.append(text[literal_from:pos])
            parts.append(part)
            literal_from = close + 1
            found = True
        pos = text.find("${", close + 1)
    if not found:
        return None
    if literal_from < len(text):
        parts.append(text[literal_from:])
    return Template(text, parts)
