"""Authorization: ask the policy engine whether the caller may do what the operation declares.

The policies that apply to a principal are gathered once per store generation and kept compiled,
so a request costs a dictionary lookup and the engine's evaluation, and a policy change made on any
node takes effect on the next request everywhere.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from rolecall.clock import iso
from rolecall.core.operations import Authorization, Caller, OpContext
from rolecall.errors import AccessDenied
from rolecall.policy import Decision, Policy, Request, evaluate

# Actions whose denial AWS reports without naming the policy type that caused it.
_BARE_DENIALS = frozenset(
    {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:AssumeRoleWithWebIdentity"}
)


@dataclass
class PrincipalPolicies:
    identity: list[Policy] = field(default_factory=list)
    boundary: Policy | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the user's or role's own tags
    exists: bool = True


class PolicyCache:
    """Compiled policies of each principal, valid for one store generation."""

    def __init__(self) -> None:
        self._generation = -1
        self._entries: dict[str, PrincipalPolicies] = {}
        self._lock = threading.Lock()

    def get(self, generation: int, key: str) -> PrincipalPolicies | None:
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            return self._entries.get(key)

    def put(self, generation: int, key: str, value: PrincipalPolicies) -> None:
        with self._lock:
            if generation == self._generation:
                if len(self._entries) > 5000:
                    self._entries.clear()
                self._entries[key] = value


def principal_policies(ctx: OpContext, cache: PolicyCache, generation: int) -> PrincipalPolicies:
    """The identity policies and boundary of the caller's user or role, as they are now."""
    caller = ctx.caller
    if caller.is_root:
        return PrincipalPolicies()
    session = caller.session or {}
    key = session.get("role_id") or caller.arn
    cached = cache.get(generation, key)
    if cached is not None:
        return cached
    from rolecall.authz.principals import policies_for_role, policies_for_user

    found = PrincipalPolicies(exists=False)
    if caller.type == "IAMUser":
        user = ctx.tx.get(caller.account, "user", caller.user_name or "")
        if user is not None and (not session or user.get("UserId") == caller.principal_id):
            found = PrincipalPolicies(*policies_for_user(ctx.tx, caller.account, user), tags=_tags(user))
    elif caller.type == "AssumedRole" and session:
        role = ctx.tx.get(caller.account, "role", session["role_name"])
        # A role deleted (or deleted and created again) leaves its sessions with nothing.
        if role is not None and role.get("RoleId") == session.get("role_id"):
            found = PrincipalPolicies(*policies_for_role(ctx.tx, caller.account, role), tags=_tags(role))
    cache.put(generation, key, found)
    return found


def session_policies(ctx: OpContext) -> list[Policy]:
    """The session policies a set of temporary credentials carries (inline text and managed ARNs)."""
    session = ctx.caller.session
    if not session or not (session.get("policy") or session.get("policy_arns")):
        return []
    from rolecall.authz.principals import compiled, managed_policy_document

    out = []
    if session.get("policy"):
        out.append(compiled(session["policy"], "session", "session policy"))
    for arn in session.get("policy_arns") or []:
        text = managed_policy_document(ctx.tx, ctx.caller.account, arn)
        # A managed session policy deleted since leaves an empty grant: it allows nothing.
        out.append(compiled(text or '{"Version":"2012-10-17","Statement":[]}', "session", arn))
    return out


def _tags(doc: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in doc.get("Tags") or []}


def request_context(ctx: OpContext, principal_tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The global condition keys AWS supplies with every request."""
    caller = ctx.caller
    now = ctx.clock.time()
    keys: dict[str, Any] = {
        "aws:CurrentTime": iso(now),
        "aws:EpochTime": str(int(now)),
        "aws:SourceIp": ctx.source_ip,
        "aws:SecureTransport": "true" if ctx.secure_transport else "false",
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalArn": caller.arn,
        "aws:userid": caller.principal_id,
        "aws:RequestedRegion": ctx.region,
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
    }
    session = caller.session
    if caller.type == "Root":
        keys["aws:PrincipalType"] = "Account"
    elif caller.type == "IAMUser":
        keys["aws:PrincipalType"] = "User"
        keys["aws:username"] = caller.user_name
    elif caller.type == "AssumedRole":
        keys["aws:PrincipalType"] = "AssumedRole"
        if session:
            keys["aws:PrincipalArn"] = session["role_arn"]
    if session:
        keys["aws:MultiFactorAuthPresent"] = "true" if session.get("mfa") else "false"
        if session.get("source_identity"):
            keys["aws:SourceIdentity"] = session["source_identity"]
    # Session tags override the principal's own tags of the same key (case-insensitively).
    tags = dict(principal_tags or {})
    for k, v in caller.tags.items():
        for old in [t for t in tags if t.lower() == k.lower()]:
            del tags[old]
        tags[k] = v
    for k, v in tags.items():
        keys[f"aws:PrincipalTag/{k}"] = v
    if session:
        keys.update(session.get("context", {}))
    return keys


def resources_of(auth: Authorization, ctx: OpContext, params: dict[str, Any]) -> list[str]:
    res = auth.resource(ctx, params) if callable(auth.resource) else auth.resource
    if isinstance(res, str):
        return [res]
    return list(res) or ["*"]


@dataclass
class Check:
    action: str
    resource: str
    decision: Decision
    context: dict[str, Any]  # the request context the engine saw (for encoded denials)


def decide(
    auth: Authorization,
    ctx: OpContext,
    params: dict[str, Any],
    policies: PrincipalPolicies,
    resources: list[str],
) -> list[Check]:
    """One decision per (action, resource) the operation needs."""
    context = request_context(ctx, policies.tags)
    if auth.context is not None:
        context.update({k: v for k, v in auth.context(ctx, params).items() if v is not None})
    resource_policy, owner = auth.resource_policy(ctx, params) if auth.resource_policy else (None, None)
    checks: list[tuple[Any, ...]] = [(auth.action, r, {}) for r in resources]
    if auth.extra is not None:
        checks += auth.extra(ctx, params)
    principal = ctx.caller.arn
    identity = policies.identity
    sessions = session_policies(ctx)
    out = []
    for action, resource, more, *own_policy in checks:
        req_context = {**context, **more} if more else context
        # An extra check on another resource (CopyObject's source object) brings that resource's policy.
        check_policy, check_owner = own_policy[0] if own_policy else (resource_policy, owner)
        if not policies.exists:  # a deleted user or role: its keys and sessions may do nothing at all
            check_policy, check_owner = None, None
        d = evaluate(
            Request(action=action, resource=resource, principal=principal, context=req_context),
            identity=identity,
            boundary=policies.boundary,
            session_policies=sessions,
            resource_policy=check_policy,
            resource_account=check_owner,
        )
        out.append(Check(action, resource, d, req_context))
    return out


def denial(caller: Caller, action: str, resource: str, decision: Decision) -> AccessDenied:
    message = f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource}"
    if action not in _BARE_DENIALS:
        message += " " + decision.reason()
    return AccessDenied(message)


def encode_authorization_message(box: Any, caller: Caller, check: Check, context: dict[str, Any]) -> str:
    """EC2's encoded denial: the decision, the statements that decided it and the context, sealed so that
    only sts:DecodeAuthorizationMessage (which needs its own permission) can read it."""
    d = check.decision
    message = {
        "allowed": d.allowed,
        "explicitDeny": d.decision == "explicitDeny",
        "matchedStatements": {
            "items": [
                {"statementId": m.sid or "", "effect": m.effect, "policy": m.policy, "index": m.index}
                for m in d.matched
            ]
        },
        "failures": {"items": []},
        "context": {
            "principal": {"id": caller.principal_id, "arn": caller.arn},
            "action": check.action,
            "resource": check.resource,
            "conditions": {
                "items": [
                    {
                        "key": k,
                        "values": {"items": [{"value": v} for v in (vs if isinstance(vs, list) else [vs])]},
                    }
                    for k, vs in sorted(context.items())
                ]
            },
        },
    }
    return box.seal(json.dumps(message, separators=(",", ":")).encode())


def decode_authorization_message(box: Any, encoded: str) -> str:
    return box.open(encoded).decode()
