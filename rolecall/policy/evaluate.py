"""Policy evaluation: the decision, the layer that made it, and (lazily) the statements behind it.

Order (IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation logic"):
1. An explicit Deny in any applicable policy is final.
2. Resource control policies, then service control policies: every level must allow.
3. Same account, resource-based policy: a grant naming the principal itself (user, role session,
   federated session, service, or "*") is final; a grant naming the principal's role is capped only by
   the permissions boundary and session policies; a grant naming the account delegates to step 4.
   A role trust policy must name the principal in some way, whatever the identity policies say.
4. Identity-based policies must allow; a permissions boundary, when set, must allow; session policies,
   when passed, must allow. The account's root user needs no identity-based allow.
Cross-account: the principal's side (step 4, plus SCPs) and the resource's side (a resource-based
grant naming the principal in any way, plus RCPs) must both allow.

evaluate() runs a fast path that only decides. Decision.matched, .missing_context_keys and .explain()
re-run the same logic with a trace that records every statement it looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from .compile import EMPTY_ENTRY, ActionEntry, Policy, Statement, _policy_sets, policy_set
from .conditions import conditions_hold
from .principals import DIRECT, GRANT_NAMES, NONE, ROLE, Who
from .request import Request

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"

LAYER_NAMES = {
    "identity": "identity-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "resource": "resource-based policy",
    "scp": "service control policy",
    "rcp": "resource control policy",
}


class MatchedStatement(NamedTuple):
    policy: str  # the policy's name, or "<layer>#<position>"
    kind: str  # the layer: identity, boundary, session, resource, scp, rcp
    index: int  # type: ignore[assignment]  # the statement's position in its policy (shadows tuple.index)
    sid: str | None
    effect: str  # "Allow" | "Deny"


class FailedCondition(NamedTuple):
    """A condition that kept a statement from applying although its action and resource matched."""

    policy: str  # as MatchedStatement.policy
    kind: str
    index: int  # type: ignore[assignment]  # the statement's position (shadows tuple.index)
    sid: str | None
    effect: str
    operator: str  # as written: "StringEquals", "ForAnyValue:StringLike", "DateLessThanIfExists", ...
    key: str  # the condition key as written
    values: tuple[str, ...]  # the policy's values
    request_values: tuple[str, ...] | None  # the request's values for the key, None when it has none


class OtherResource(NamedTuple):
    """A statement whose action matched the request but whose Resource (or NotResource) did not."""

    policy: str
    kind: str
    index: int  # type: ignore[assignment]  # the statement's position (shadows tuple.index)
    sid: str | None
    effect: str
    resources: tuple[str, ...]  # the statement's Resource, or NotResource, as written
    not_resource: bool


class _Trace:
    """What the detailed pass saw."""

    def __init__(self) -> None:
        self.matched: list[MatchedStatement] = []
        self.unmet: list[str] = []  # statements whose action/resource matched but a condition failed
        self.failed: list[FailedCondition] = []  # the same, as data
        self.other_resources: list[OtherResource] = []
        self.missing: dict[str, str] = {}  # lower-cased key -> key as written
        self.grant = NONE
        self.decision: tuple[str, str | None] | None = None  # what the traced pass decided

    def statement(self, layer: str, label: str, st: Statement, request: Request) -> bool:
        """Record one candidate statement (action, resource and principal matched); return whether it applies."""
        ctx = request.ctx
        for key, name in st.condition_keys:
            if key not in ctx or not ctx[key]:
                self.missing.setdefault(key, name)
        failed = [c for c in st.conditions if not c.test(ctx)]
        if failed:
            for c in failed:
                present = ctx.get(c.key) or None
                note = " (key missing from the request)" if present is None else ""
                self.unmet.append(f"{layer} {label} statement {st.label()}: {c.describe()} not met{note}")
                self.failed.append(
                    FailedCondition(
                        label,
                        layer,
                        st.index,
                        st.sid,
                        st.effect,
                        c.operator.text,
                        c.key_name,
                        c.values,
                        tuple(present) if present is not None else None,
                    )
                )
            return False
        self.matched.append(MatchedStatement(label, layer, st.index, st.sid, st.effect))
        return True

    def other_resource(self, layer: str, label: str, st: Statement) -> None:
        raw = st.raw.get("NotResource" if st.not_resource else "Resource")
        resources = (raw,) if isinstance(raw, str) else tuple(r for r in raw or () if isinstance(r, str))
        self.other_resources.append(
            OtherResource(label, layer, st.index, st.sid, st.effect, resources, st.not_resource)
        )


def _applies(st: Statement, request: Request) -> bool:
    """Fast path: the statement's action already matched; check resource and conditions."""
    if not st.resource_any and st.resources.match(request.resource, request) is st.not_resource:
        return False
    return not st.conditions or conditions_hold(st.conditions, request.ctx)


def _entry_verdict(entry: ActionEntry, request: Request) -> int:
    """0 nothing applies, 1 an Allow applies, 2 a Deny applies (checked first)."""
    resource = request.resource
    m = entry.deny_simple
    # _Merged.match, inlined for its set and prefix checks: this is the engine's hot path.
    if m is not None and (
        m.any
        or resource in m.exact
        or (m.prefixes and resource.startswith(m.prefixes))
        or (m.others and m.match(resource))
    ):
        return 2
    for st in entry.deny_rest:
        if _applies(st, request):
            return 2
    m = entry.allow_simple
    if m is not None and (
        m.any
        or resource in m.exact
        or (m.prefixes and resource.startswith(m.prefixes))
        or (m.others and m.match(resource))
    ):
        return 1
    for st in entry.allow_rest:
        if _applies(st, request):
            return 1
    return 0


def _scan_fast(policies: Sequence[Policy], request: Request) -> tuple[bool, bool]:
    """_scan without a trace. A list of policies evaluated together before is looked at as one merged
    PolicySet entry; otherwise policy by policy."""
    action = request.action_lower
    if len(policies) == 1:
        policy = policies[0]
        entry = policy._index.get(action) or policy.candidates(action)
    else:
        key = policies if type(policies) is tuple else tuple(policies)
        pset = _policy_sets.get(key) or policy_set(key)
        if pset is None:
            return _scan_each(policies, request)
        entry = pset._index.get(action) or pset.candidates(action)
    if entry is EMPTY_ENTRY:
        return False, False
    verdict = _entry_verdict(entry, request)
    return verdict == 1, verdict == 2


def _scan_each(policies: Sequence[Policy], request: Request) -> tuple[bool, bool]:
    action = request.action_lower
    allow = False
    for policy in policies:
        entry = policy._index.get(action) or policy.candidates(action)
        if entry is not EMPTY_ENTRY:
            verdict = _entry_verdict(entry, request)
            if verdict == 2:
                return allow, True
            allow = allow or verdict == 1
    return allow, False


def _scan(
    layer: str, policies: Sequence[Policy], request: Request, trace: _Trace | None
) -> tuple[bool, bool]:
    """(some statement allows, some statement denies) for a layer without principal matching."""
    if trace is None:
        return _scan_fast(policies, request)
    action = request.action_lower
    resource = request.resource
    allow = deny = False
    for position, policy in enumerate(policies):
        entry = policy.candidates(action)
        label = policy.label(position, layer)
        for st in sorted(entry.denies + entry.allows, key=lambda s: s.index):
            if not st.matches_resource(resource, request):
                trace.other_resource(layer, label, st)
            elif trace.statement(layer, label, st, request):
                if st.is_deny:
                    deny = True
                else:
                    allow = True
    return allow, deny


def _scan_resource_policy(
    policy: Policy, request: Request, who: Who, has_boundary: bool, trace: _Trace | None
) -> tuple[int, bool]:
    """(strongest grant among applicable Allow statements, some Deny applies).

    NotPrincipal: with Deny, a principal is exempt only when its account, role (for a session) and
    itself are all listed -- and never when it has a permissions boundary (IAM User Guide, NotPrincipal).
    With Allow (which AWS no longer supports) the statement grants to whoever it does not name."""
    entry = policy.candidates(request.action_lower)
    denies, allows = entry.denies, entry.allows
    best = NONE
    deny = False
    label = policy.label(0, "resource")
    for st in denies:
        spec = st.principal
        if spec is not None:
            if st.not_principal:
                if spec.excludes(who) and not (has_boundary and who.has_identity):
                    continue
            elif not spec.grant(who):
                continue
        if trace is None:
            if _applies(st, request):
                return best, True
        elif st.matches_resource(request.resource, request) and trace.statement(
            "resource", label, st, request
        ):
            deny = True
    for st in allows:
        spec = st.principal
        if spec is None:
            grant = NONE
        elif st.not_principal:
            grant = NONE if spec.grant(who) else DIRECT
        else:
            grant = spec.grant(who)
        if grant == NONE or (trace is None and grant <= best):
            continue
        if trace is None:
            if _applies(st, request):
                best = grant
        elif st.matches_resource(request.resource, request) and trace.statement(
            "resource", label, st, request
        ):
            best = max(best, grant)
    return best, deny


def _levels(items: Iterable[Policy | Sequence[Policy]]) -> list[Sequence[Policy]]:
    """Each item of scps/rcps is one level of the organization: a Policy or a sequence of them."""
    return [(item,) if isinstance(item, Policy) else tuple(item) for item in items]


# evaluate()'s arguments, kept by the Decision so that details can be worked out later.
# (request, identity, resource_policy, boundary, session_policies, scps, rcps, resource_account)
Inputs = tuple[Any, ...]


def _principal_side(
    who: Who | None,
    identity_allow: bool,
    boundary: Policy | None,
    boundary_allow: bool,
    sessions: Sequence[Policy],
    session_allow: bool,
) -> str | None:
    """The layer that leaves the principal's own side without an allow, or None."""
    if who is not None and who.kind == "root":
        return None  # the root user needs no identity-based allow in its own account
    if not identity_allow:
        return "identity"
    if boundary is not None and not boundary_allow:
        return "boundary"
    if sessions and not session_allow:
        return "session"
    return None


def _decide(inputs: Inputs, trace: _Trace | None) -> tuple[str, str | None]:
    request, identity, resource_policy, boundary, sessions, scps, rcps, resource_account = inputs
    fast = trace is None
    denied_by: str | None = None
    unallowed: list[str] = []  # organization layers with a level that allows nothing here

    # Explicit denies are looked for layer by layer in this order; the first layer found is reported.
    if scps or rcps:
        # SCPs limit the principals of the organization's accounts; an anonymous caller is none of them,
        # so only RCPs (and the resource policy) bound what it may do (IAM User Guide, policy evaluation).
        anonymous = request.principal == "*"
        for layer, items in (("scp", scps), ("rcp", rcps)):
            if layer == "scp" and anonymous:
                continue
            for level in _levels(items):
                allow, deny = _scan(layer, level, request, trace)
                if deny:
                    if fast:
                        return EXPLICIT_DENY, layer
                    denied_by = denied_by or layer
                if not allow:
                    unallowed.append(layer)
    grant = NONE
    who: Who | None = None
    if resource_policy is not None:
        who = request.who
        grant, deny = _scan_resource_policy(resource_policy, request, who, boundary is not None, trace)
        if deny:
            if fast:
                return EXPLICIT_DENY, "resource"
            denied_by = denied_by or "resource"
    identity_allow = boundary_allow = session_allow = False
    if identity:
        identity_allow, deny = _scan("identity", identity, request, trace)
        if deny:
            if fast:
                return EXPLICIT_DENY, "identity"
            denied_by = denied_by or "identity"
    if boundary is not None:
        boundary_allow, deny = _scan("boundary", (boundary,), request, trace)
        if deny:
            if fast:
                return EXPLICIT_DENY, "boundary"
            denied_by = denied_by or "boundary"
    if sessions:
        session_allow, deny = _scan("session", sessions, request, trace)
        if deny:
            if fast:
                return EXPLICIT_DENY, "session"
            denied_by = denied_by or "session"
    if trace is not None:
        trace.grant = grant
    if denied_by is not None:
        return EXPLICIT_DENY, denied_by

    # RCPs, then SCPs: every level must allow before any other allow counts.
    if unallowed:
        return IMPLICIT_DENY, "rcp" if "rcp" in unallowed else "scp"

    principal = request.principal
    if resource_policy is None and resource_account is None:
        # The common case: identity-based evaluation within the principal's own account.
        if principal and (principal.endswith(":root") or not principal.startswith("arn:")):
            who = request.who
            if who.kind == "root":
                return ALLOWED, None
            if not who.has_identity:
                return IMPLICIT_DENY, "resource"
        failed = _principal_side(None, identity_allow, boundary, boundary_allow, sessions, session_allow)
        return (IMPLICIT_DENY, failed) if failed else (ALLOWED, None)

    if who is None:
        who = request.who
    if not who.has_identity:  # services, web identities, anonymous: only a resource policy can allow
        return (ALLOWED, None) if grant > NONE else (IMPLICIT_DENY, "resource")
    failed = _principal_side(who, identity_allow, boundary, boundary_allow, sessions, session_allow)
    if resource_account is not None and who.account is not None and resource_account != who.account:
        # Cross-account: the principal's side and the resource's side must both allow.
        if failed:
            return IMPLICIT_DENY, failed
        return (ALLOWED, None) if grant > NONE else (IMPLICIT_DENY, "resource")
    if resource_policy is not None:
        if grant == DIRECT:
            return ALLOWED, None
        if grant == ROLE:
            if boundary is not None and not boundary_allow:
                return IMPLICIT_DENY, "boundary"
            if sessions and not session_allow:
                return IMPLICIT_DENY, "session"
            return ALLOWED, None
        if grant == NONE and resource_policy.kind == "trust":
            return IMPLICIT_DENY, "resource"  # a trust policy must name the principal
    return (IMPLICIT_DENY, failed) if failed else (ALLOWED, None)


class Decision:
    """The answer: decision ("allowed" | "explicitDeny" | "implicitDeny"), denied_by (the deciding
    layer, None when allowed), and on demand the statements behind it and a readable explanation."""

    __slots__ = ("decision", "denied_by", "_inputs", "_trace")

    def __init__(self, decision: str, denied_by: str | None, inputs: Inputs) -> None:
        self.decision = decision
        self.denied_by = denied_by
        self._inputs = inputs
        self._trace: _Trace | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED

    @property
    def request(self) -> Request:
        request: Request = self._inputs[0]
        return request

    def _traced(self) -> _Trace:
        if self._trace is None:
            trace = _Trace()
            trace.decision = _decide(self._inputs, trace)
            self._trace = trace
        return self._trace

    @property
    def matched(self) -> list[MatchedStatement]:
        """Statements that applied (action, resource, principal and conditions all matched)."""
        return list(self._traced().matched)

    @property
    def failed_conditions(self) -> list[FailedCondition]:
        """Conditions that failed in statements whose action and resource (and principal) matched."""
        return list(self._traced().failed)

    @property
    def other_resources(self) -> list[OtherResource]:
        """Statements of the principal's own layers (identity, boundary, session, SCP, RCP) whose action
        matched but whose resource did not: the grants that exist, for other resources."""
        return list(self._traced().other_resources)

    def policy_labels(self) -> dict[str, list[str]]:
        """The policies evaluated, by layer (scp, rcp, resource, identity, boundary, session), named as
        MatchedStatement.policy names them; layers without a policy are left out."""
        _, identity, resource_policy, boundary, sessions, scps, rcps, _ = self._inputs
        groups: list[tuple[str, list[Sequence[Policy]]]] = [
            ("scp", _levels(scps)),
            ("rcp", _levels(rcps)),
            ("resource", [(resource_policy,)] if resource_policy is not None else []),
            ("identity", [tuple(identity)]),
            ("boundary", [(boundary,)] if boundary is not None else []),
            ("session", [tuple(sessions)]),
        ]
        out: dict[str, list[str]] = {}
        for layer, levels in groups:
            labels = [p.label(i, layer) for level in levels for i, p in enumerate(level)]
            if labels:
                out[layer] = labels
        return out

    @property
    def missing_context_keys(self) -> list[str]:
        """Condition keys (and condition-value variables) used by statements whose action and resource
        matched the request, but absent from the request context."""
        return sorted(self._traced().missing.values(), key=lambda k: (k.lower(), k))

    def reason(self) -> str:
        """The tail of AWS's AccessDenied message; empty when allowed."""
        if self.decision == ALLOWED or self.denied_by is None:
            return ""
        where = LAYER_NAMES[self.denied_by]
        if self.decision == EXPLICIT_DENY:
            article = "an" if where[0] in "aeiou" else "a"
            return f"with an explicit deny in {article} {where}"
        return f"because no {where} allows the {self.request.action} action"

    def explain(self) -> str:
        trace = self._traced()
        request = self.request
        lines = [f"Decision: {self.decision}"]
        if self.decision == ALLOWED:
            allowers = sorted({m.kind for m in trace.matched if m.effect == "Allow"})
            if allowers:
                lines.append("Allowed by: " + ", ".join(LAYER_NAMES[k] for k in allowers))
            elif request.who.kind == "root":
                lines.append("Allowed: the account's root user needs no identity-based allow")
        else:
            lines.append(f"Denied by: {LAYER_NAMES.get(self.denied_by or '', '-')} ({self.reason()})")
        who = request.principal or "(unspecified principal)"
        lines.append(f"Request: {request.action} on {request.resource} by {who}")
        if self._inputs[2] is not None:
            lines.append(f"Resource-based policy grant: {GRANT_NAMES[trace.grant]}")
        if trace.matched:
            lines.append("Matched statements:")
            for m in trace.matched:
                sid = f" (Sid {m.sid})" if m.sid else ""
                lines.append(f"  {m.effect:<5} {m.kind:<8} {m.policy} statement #{m.index}{sid}")
        else:
            lines.append("Matched statements: none")
        if trace.unmet:
            lines.append("Matched action and resource, but a condition failed:")
            lines.extend(f"  {line}" for line in trace.unmet)
        if trace.missing:
            lines.append("Missing context keys: " + ", ".join(self.missing_context_keys))
        return "\n".join(lines)

    def __repr__(self) -> str:
        by = f", denied_by={self.denied_by!r}" if self.denied_by else ""
        return f"Decision({self.decision!r}{by})"


def evaluate(
    request: Request,
    identity: Sequence[Policy] | Policy = (),
    resource_policy: Policy | None = None,
    boundary: Policy | None = None,
    session_policies: Sequence[Policy] | Policy = (),
    scps: Sequence[Policy | Sequence[Policy]] = (),
    rcps: Sequence[Policy | Sequence[Policy]] = (),
    resource_account: str | None = None,
) -> Decision:
    """Decide whether request is allowed by these policies (see the module docstring for the order)."""
    if isinstance(identity, Policy):
        identity = (identity,)
    if isinstance(session_policies, Policy):
        session_policies = (session_policies,)
    inputs = (request, identity, resource_policy, boundary, session_policies, scps, rcps, resource_account)
    decision, denied_by = _decide(inputs, None)
    return Decision(decision, denied_by, inputs)


__all__ = ["Decision", "FailedCondition", "MatchedStatement", "OtherResource", "evaluate"]
