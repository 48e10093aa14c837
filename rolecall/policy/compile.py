"""Compiled policies: parse and validate once, then answer "which statements could apply to this action?"
from a per-policy index, and match resources and conditions through precompiled fast paths.

Resource element matching: case-sensitive, `*` spans any characters (including `/` and `:` -- the IAM
User Guide lets a trailing `*` in a segment expand past colons), `?` is one character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from .conditions import Condition, parse_operator
from .document import (
    SYNTAX_ERROR,
    MalformedPolicy,
    decode_text,
    parse_json,
    size_without_whitespace,
)
from .matching import Matcher, Token, compile_pattern, compile_tokens, has_wildcard, wildcard_in_resource_type
from .principals import PrincipalSpec
from .validate import CURRENT_VERSION, KINDS, condition_values, statements_of, validate
from .variables import Template, parse_template

# Default size quotas per kind (characters, whitespace not counted); callers pass their own for others.
DEFAULT_MAX_SIZE = {"identity": 6144, "boundary": 6144, "trust": 2048}
CHARACTER_CHECKED_KINDS = frozenset({"identity", "boundary", "trust", "session"})
INDEX_LIMIT = 4096
_DISALLOWED_CHARACTER = re.compile(r"[^\t\n\r\x20-\xff]")
CHARACTER_PATTERN_MESSAGE = (
    "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: "
    "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
)


class _HasContext(Protocol):
    @property
    def ctx(self) -> Mapping[str, tuple[str, ...]]: ...


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class _PatternSet:
    """Many wildcard patterns as: match-all flag, exact set, prefix tuple, other matchers, templates."""

    __slots__ = ("any", "exact", "prefixes", "others", "templates", "_cache")

    def __init__(self, patterns: list[str], *, lower: bool, variables: bool) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        others: list[Matcher] = []
        templates: list[Template] = []
        self.any = False
        for raw in patterns:
            pattern = raw.lower() if lower else raw
            template = parse_template(pattern) if variables else None
            if template is not None:
                templates.append(template)
            elif pattern == "*":
                self.any = True
            elif not has_wildcard(pattern):
                exact.add(pattern)
            elif pattern.endswith("*") and not has_wildcard(pattern[:-1]):
                prefixes.append(pattern[:-1])
            else:
                others.append(compile_pattern(pattern))
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.others = tuple(others)
        self.templates = tuple(templates)
        self._cache: dict[tuple[str, tuple[Token, ...]], Matcher] = {}

    def match(self, value: str, request: _HasContext | None) -> bool:
        if self.any or value in self.exact:
            return True
        if self.prefixes and value.startswith(self.prefixes):
            return True
        for matcher in self.others:
            if matcher(value):
                return True
        if self.templates and request is not None:
            context = request.ctx
            for template in self.templates:
                tokens = template.resolve(context)
                if tokens is None:  # a variable without a value: this entry matches nothing
                    continue
                key = (template.source, tuple(tokens))
                cached = self._cache.get(key)
                if cached is None:
                    if len(self._cache) >= 256:
                        self._cache.clear()
                    cached = compile_tokens(tokens)
                    self._cache[key] = cached
                if cached(value):
                    return True
        return False


class Statement:
    """One compiled statement."""

    __slots__ = (
        "index",
        "sid",
        "effect",
        "is_deny",
        "raw",
        "not_action",
        "actions",
        "not_resource",
        "resources",
        "resource_any",
        "principal",
        "not_principal",
        "conditions",
        "condition_keys",
        "simple",
    )

    def __init__(self, index: int, raw: dict[str, Any], variables: bool) -> None:
        self.index = index
        self.raw = raw
        sid = raw.get("Sid")
        self.sid = sid if isinstance(sid, str) and sid else None
        self.effect = "Deny" if raw.get("Effect") == "Deny" else "Allow"
        self.is_deny = self.effect == "Deny"
        self.not_action = "NotAction" in raw
        self.actions = _PatternSet(
            _as_list(raw.get("NotAction" if self.not_action else "Action")), lower=True, variables=False
        )
        self.not_resource = "NotResource" in raw
        if self.not_resource or "Resource" in raw:
            patterns = _as_list(raw.get("NotResource" if self.not_resource else "Resource"))
            # A wildcard in an ARN's resource type is not allowed: such a pattern matches nothing, and a
            # NotResource holding one does not turn that into "everything" -- its statement applies nowhere.
            allowed = [p for p in patterns if not wildcard_in_resource_type(p)]
            if self.not_resource and len(allowed) < len(patterns):
                self.not_resource, allowed = False, []
            self.resources = _PatternSet(allowed, lower=False, variables=variables)
        else:  # trust policies (and SCPs without Resource) apply to whatever resource is asked about
            self.resources = _PatternSet(["*"], lower=False, variables=False)
        # A statement with Resource "*" and no NotResource needs no resource check at all.
        self.resource_any = self.resources.any and not self.not_resource
        self.principal: PrincipalSpec | None = None
        self.not_principal = "NotPrincipal" in raw
        if self.not_principal or "Principal" in raw:
            self.principal = PrincipalSpec(raw.get("NotPrincipal" if self.not_principal else "Principal"))
        conditions = []
        for operator_text, block in (raw.get("Condition") or {}).items():
            operator = parse_operator(operator_text)
            if operator is None:  # an unknown operator is only accepted with an empty block
                continue
            for key_name, values in block.items():
                conditions.append(Condition(operator, key_name, condition_values(values), variables))
        self.conditions = tuple(conditions)
        keys: dict[str, str] = {}
        for c in self.conditions:
            keys.setdefault(c.key, c.key_name)
            for name in c.variable_names:
                keys.setdefault(name.lower(), name)
        self.condition_keys = tuple(keys.items())  # (lower-cased key, key as written)
        # Decided by the resource alone: no conditions, no NotResource, no variables, no principal.
        self.simple = not (self.conditions or self.not_resource or self.resources.templates or self.principal)

    def matches_action(self, action_lower: str) -> bool:
        return self.actions.match(action_lower, None) is not self.not_action

    def matches_resource(self, resource: str, request: _HasContext | None) -> bool:
        if self.resource_any:
            return True
        return self.resources.match(resource, request) is not self.not_resource

    def label(self) -> str:
        return f"#{self.index}" + (f" (Sid {self.sid})" if self.sid else "")


class _Merged:
    """The resource patterns of several unconditional statements, checked as one."""

    __slots__ = ("any", "exact", "prefixes", "others")

    def __init__(self, statements: list[Statement]) -> None:
        self.any = any(st.resources.any for st in statements)
        self.exact = frozenset().union(*(st.resources.exact for st in statements))
        self.prefixes = tuple(p for st in statements for p in st.resources.prefixes)
        self.others = tuple(m for st in statements for m in st.resources.others)

    def match(self, resource: str) -> bool:
        if self.any or resource in self.exact:
            return True
        if self.prefixes and resource.startswith(self.prefixes):
            return True
        for matcher in self.others:  # noqa: SIM110
            if matcher(resource):
                return True
        return False


class ActionEntry:
    """What one policy holds for one action: its candidate statements, by effect, in document order, plus
    for the evaluator's fast path the statements that need no per-request work (no conditions, no
    NotResource, no variables) merged into one resource check per effect."""

    __slots__ = ("denies", "allows", "deny_simple", "deny_rest", "allow_simple", "allow_rest")

    def __init__(self, statements: list[Statement]) -> None:
        self.denies = tuple(st for st in statements if st.is_deny)
        self.allows = tuple(st for st in statements if not st.is_deny)
        simple = [st for st in self.denies if st.simple]
        self.deny_simple = _Merged(simple) if simple else None
        self.deny_rest = tuple(st for st in self.denies if not st.simple)
        simple = [st for st in self.allows if st.simple]
        self.allow_simple = _Merged(simple) if simple else None
        self.allow_rest = tuple(st for st in self.allows if not st.simple)


EMPTY_ENTRY = ActionEntry([])  # shared by every (policy, action) pair no statement speaks to


class Policy:
    """A parsed, validated and compiled policy document."""

    __slots__ = (
        "text",
        "document",
        "version",
        "statements",
        "kind",
        "name",
        "variables",
        "_index",
        "_context_keys",
    )

    def __init__(self, text: str, document: dict[str, Any], kind: str, name: str | None) -> None:
        self.text = text
        self.document = document
        self.kind = kind
        self.name = name
        version = document.get("Version")
        self.version: str | None = version if isinstance(version, str) else None
        self.variables = self.version == CURRENT_VERSION  # policy variables need 2012-10-17
        self.statements = tuple(
            Statement(i, st, self.variables) for i, st in enumerate(statements_of(document))
        )
        self._index: dict[str, ActionEntry] = {}
        self._context_keys: frozenset[str] | None = None

    @property
    def context_keys(self) -> frozenset[str]:
        """Every request context key (lower-cased) that evaluating this policy may read: condition keys, the
        policy variables in conditions and resources, and aws:principalarn where a statement names
        principals. Two requests that agree on these keys (and on action, resource and principal) get the
        same decision from this policy."""
        keys = self._context_keys
        if keys is None:
            found: set[str] = set()
            for st in self.statements:
                found.update(key for key, _ in st.condition_keys)
                for template in st.resources.templates:
                    found.update(variable.key for variable in template.variables)
                if st.principal is not None:
                    found.add("aws:principalarn")
            keys = self._context_keys = frozenset(found)
        return keys

    @classmethod
    def parse(
        cls,
        source: str | bytes | bytearray | dict[str, Any],
        kind: str = "identity",
        name: str | None = None,
        max_size: int | None = None,
        *,
        managed: bool = False,
    ) -> Policy:
        """Parse, validate and compile. Raises MalformedPolicy (and nothing else) for a bad document.

        max_size: characters allowed, whitespace not counted; defaults to IAM's quota for the kind
        (6144 identity/boundary, 2048 trust, none otherwise). managed: require Version 2012-10-17.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown policy kind {kind!r}; expected one of {', '.join(KINDS)}")
        try:
            text = decode_text(source)
            limit = max_size if max_size is not None else DEFAULT_MAX_SIZE.get(kind)
            if limit is not None and size_without_whitespace(text) > limit:
                quota = "ACLSizePerRole" if kind == "trust" else "PolicySize"
                raise MalformedPolicy(f"Cannot exceed quota for {quota}: {limit}", code="LimitExceeded")
            if kind in CHARACTER_CHECKED_KINDS and _DISALLOWED_CHARACTER.search(text):
                raise MalformedPolicy(CHARACTER_PATTERN_MESSAGE, code="ValidationError")
            document = parse_json(text)
            validate(document, kind, managed=managed)
            return cls(text, document, kind, name)
        except MalformedPolicy:
            raise
        except (RecursionError, MemoryError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Validation should leave nothing for compilation to trip over; if something does, it is
            # still the caller's document that is at fault, never a crash.
            raise MalformedPolicy(SYNTAX_ERROR, [f"{type(exc).__name__}: {exc}"]) from None

    def candidates(self, action_lower: str) -> ActionEntry:
        """The statements whose Action/NotAction admits this lower-cased action (memoized, bounded)."""
        entry = self._index.get(action_lower)
        if entry is None:
            matching = [st for st in self.statements if st.matches_action(action_lower)]
            entry = ActionEntry(matching) if matching else EMPTY_ENTRY
            if len(self._index) >= INDEX_LIMIT:
                self._index.clear()
            self._index[action_lower] = entry
        return entry

    def label(self, position: int, layer: str) -> str:
        return self.name if self.name else f"{layer}#{position}"

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Policy {self.kind}{label}: {len(self.statements)} statement(s)>"


class PolicySet:
    """Several policies of one layer seen as one: per action, all their candidate statements merged into
    a single ActionEntry, so the evaluator makes one resource check per effect instead of one per policy.
    Policies are immutable once compiled, so a set is cached by the tuple of its Policy objects."""

    __slots__ = ("policies", "_index")

    def __init__(self, policies: tuple[Policy, ...]) -> None:
        self.policies = policies
        self._index: dict[str, ActionEntry] = {}

    def candidates(self, action_lower: str) -> ActionEntry:
        entry = self._index.get(action_lower)
        if entry is None:
            statements: list[Statement] = []
            for policy in self.policies:
                found = policy.candidates(action_lower)
                statements.extend(found.denies)
                statements.extend(found.allows)
            entry = ActionEntry(statements) if statements else EMPTY_ENTRY
            if len(self._index) >= INDEX_LIMIT:
                self._index.clear()
            self._index[action_lower] = entry
        return entry


_policy_sets: dict[tuple[Policy, ...], PolicySet | None] = {}
POLICY_SET_LIMIT = 1024


def policy_set(policies: tuple[Policy, ...]) -> PolicySet | None:
    """The cached PolicySet for these policies, built the second time they are evaluated together (a
    list seen once is not worth merging). The cache holds the policies alive; bounded, cleared when full."""
    if policies in _policy_sets:
        found = _policy_sets[policies]
        if found is None:
            found = _policy_sets[policies] = PolicySet(policies)
        return found
    if len(_policy_sets) >= POLICY_SET_LIMIT:
        _policy_sets.clear()
    _policy_sets[policies] = None
    return None
