"""Authorization: ask the policy engine whether the caller may do what the operation declares.

`Authorizer` is the one place that turns the engine's decisions into the server's behaviour under its
--auth mode (enforce: refuse; soft: note the denial in the trail and let it pass; off: ask nothing). The
pipeline uses it for every operation's declared checks, and handlers reach it through ctx.authorize()
for the checks they can only make after reading the store.

The policies that apply to a principal are gathered once per store generation and kept compiled, keyed
by the principal's unique id (a user or role deleted and created again under the same name is another
principal), so a request costs a dictionary lookup and the engine's evaluation, and a policy change made
on any node takes effect on the next request everywhere.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from rolecall.authz.principals import compiled, managed_policy_document, policies_for_role, policies_for_user
from rolecall.clock import iso
from rolecall.core.authorization import Authorization
from rolecall.core.context import Check, OpContext
from rolecall.core.operations import access_denied
from rolecall.policy import Decision, Policy, Request, evaluate

log = logging.getLogger("rolecall")


@dataclass
class PrincipalPolicies:
    identity: list[Policy] = field(default_factory=list)
    boundary: Policy | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the user's or role's own tags
    exists: bool = True
    # The engine's decisions for this principal's policies at this store generation (the entry lives and
    # dies with the generation's PolicyCache), by everything a decision depends on: see _memo_key.
    decisions: dict[tuple[Any, ...], Decision] = field(default_factory=dict)
    context_keys: dict[tuple[Any, ...], frozenset[str]] = field(default_factory=dict)


DECISION_MEMO_LIMIT = 4096  # decisions one principal keeps per generation before starting over


def _context_keys(policies: PrincipalPolicies, others: tuple[Policy | None, ...]) -> frozenset[str]:
    """The context keys (lower-cased) any of the principal's policies, or `others`, may read."""
    keys = policies.context_keys.get(others)
    if keys is None:
        found: set[str] = set()
        for policy in (*policies.identity, policies.boundary, *others):
            if policy is not None:
                found |= policy.context_keys
        keys = policies.context_keys[others] = frozenset(found)
    return keys


def _memo_key(
    action: str,
    resource: str,
    principal: str,
    sessions: tuple[Policy, ...],
    resource_policy: Policy | None,
    owner: str | None,
    context: dict[str, Any],
    keys: frozenset[str],
) -> tuple[Any, ...]:
    """What a decision depends on: the request's action, resource and principal, the policies beyond the
    principal's own (session, resource), the resource's account, and the values of the context keys the
    policies read. The rest of the context (the time, the source address, ...) cannot change it."""
    read = (
        tuple(
            sorted(
                (name, value if isinstance(value, str | bool | int | float) else repr(value))
                for name, value in ((k.lower(), v) for k, v in context.items())
                if name in keys
            )
        )
        if keys  # policies without conditions or variables read nothing of the context
        else ()
    )
    return (action, resource, principal, sessions, resource_policy, owner, read)


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
    # Root is bound by no identity policy; a federated identity (an OIDC token's subject asking to assume a
    # role) has none: only the role's trust policy speaks for it.
    # A service principal has none either.
    if caller.is_root or caller.type in ("WebIdentityUser", "SAMLUser", "AWSService"):
        return PrincipalPolicies()
    session = caller.session or {}
    key = session.get("role_id") or caller.principal_id
    if caller.type == "FederatedUser":  # one name may be federated by several users
        key = f"federated:{session.get('user_id') or caller.account}"
    cached = cache.get(generation, key)
    if cached is not None:
        return cached
    found = PrincipalPolicies(exists=False)
    if caller.type == "IAMUser":
        user = ctx.tx.get(caller.account, "user", caller.user_name or "")
        if user is not None and (not session or user.get("UserId") == caller.principal_id):
            found = PrincipalPolicies(*policies_for_user(ctx.tx, caller.account, user), tags=_tags(user))
            found.identity += _account_password_grant(ctx, caller.account)
    elif caller.type == "FederatedUser" and session:
        # The federating user's policies (capped by the session policies); root's federated users start
        # from everything, as root does.
        if not session.get("user_name"):
            found = PrincipalPolicies([compiled(_ALLOW_ALL, "identity", "root (federating)")])
        else:
            user = ctx.tx.get(caller.account, "user", session["user_name"])
            if user is not None and user.get("UserId") == session.get("user_id"):
                found = PrincipalPolicies(*policies_for_user(ctx.tx, caller.account, user), tags=_tags(user))
    elif caller.type == "AssumedRole" and session:
        role = ctx.tx.get(caller.account, "role", session["role_name"])
        # A role deleted (or deleted and created again) leaves its sessions with nothing.
        if role is not None and role.get("RoleId") == session.get("role_id"):
            found = PrincipalPolicies(*policies_for_role(ctx.tx, caller.account, role), tags=_tags(role))
    cache.put(generation, key, found)
    return found


# The account password policy's document (rolecall.services.iam.password_policy keeps it; authz reads it by
# kind and name, as it reads users and roles, without importing a service).
_PASSWORD_POLICY = ("account_setting", "password_policy")
# What AllowUsersToChangePassword gives every IAM user of the account, as IAM documents it: iam:ChangePassword
# on the user itself and iam:GetAccountPasswordPolicy, applied at the account level rather than as a policy
# attached to anyone (so GetAccountAuthorizationDetails does not list it).
_CHANGE_OWN_PASSWORD = (
    '{"Version":"2012-10-17","Statement":['
    '{"Effect":"Allow","Action":"iam:ChangePassword",'
    '"Resource":["arn:aws:iam::*:user/${aws:username}","arn:aws:iam::*:user/*/${aws:username}"]},'
    '{"Effect":"Allow","Action":"iam:GetAccountPasswordPolicy","Resource":"*"}]}'
)


def _account_password_grant(ctx: OpContext, account: str) -> list[Policy]:
    policy = ctx.tx.get(account, *_PASSWORD_POLICY)
    if not (policy or {}).get("AllowUsersToChangePassword"):
        return []
    return [
        compiled(_CHANGE_OWN_PASSWORD, "identity", "account password policy (AllowUsersToChangePassword)")
    ]


def session_policies(ctx: OpContext) -> list[Policy]:
    """The session policies a set of temporary credentials carries (inline text and managed ARNs)."""
    session = ctx.caller.session
    if (
        session
        and session.get("kind") == "federated"
        and not (session.get("policy") or session.get("policy_arns"))
    ):
        # GetFederationToken without a session policy: the federated user has no permissions (only what a
        # resource-based policy naming it grants).
        return [compiled(_EMPTY_GRANT, "session", "no session policy (GetFederationToken)")]
    if not session or not (session.get("policy") or session.get("policy_arns")):
        return []
    out = []
    if session.get("policy"):
        out.append(compiled(session["policy"], "session", "session policy"))
    for arn in session.get("policy_arns") or []:
        text = managed_policy_document(ctx.tx, ctx.caller.account, arn)
        # A managed session policy deleted since leaves an empty grant: it allows nothing.
        out.append(compiled(text or '{"Version":"2012-10-17","Statement":[]}', "session", arn))
    return out


_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
# Allows nothing a request can ask for (an empty Statement list is not a valid policy).
_EMPTY_GRANT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rolecall:NoPermission","Resource":"*"}]}'


def _tags(doc: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in doc.get("Tags") or []}


def resource_tag_context(doc: dict[str, Any] | None) -> dict[str, Any]:
    """aws:ResourceTag/KEY for each tag of a resource's document (its "Tags": [{"Key", "Value"}])."""
    return {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in (doc or {}).get("Tags") or []}


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
    if caller.type == "AWSService":
        # A service principal acting for a resource: AWS names the service and the resource
        # (aws:SourceArn, aws:SourceAccount, carried in session["context"]) and no principal ARN.
        for key in ("aws:PrincipalAccount", "aws:PrincipalArn", "aws:userid", "aws:SourceIp"):
            del keys[key]
        keys["aws:PrincipalIsAWSService"] = "true"
        keys["aws:PrincipalServiceName"] = caller.arn
        keys.update((session or {}).get("context", {}))
        return keys
    if caller.type == "Root":
        keys["aws:PrincipalType"] = "Account"
    elif caller.type == "IAMUser":
        keys["aws:PrincipalType"] = "User"
        keys["aws:username"] = caller.user_name
    elif caller.type == "FederatedUser":
        keys["aws:PrincipalType"] = "FederatedUser"
    elif caller.type == "AssumedRole":
        keys["aws:PrincipalType"] = "AssumedRole"
        if session:
            keys["aws:PrincipalArn"] = session["role_arn"]
    if session:
        keys["aws:MultiFactorAuthPresent"] = "true" if session.get("mfa") else "false"
        if session.get("mfa") and session.get("mfa_time") is not None:
            keys["aws:MultiFactorAuthAge"] = str(max(0, int(now - session["mfa_time"])))
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
    sessions = tuple(session_policies(ctx))
    out = []
    for action, resource, more, *own_policy in checks:
        req_context = {**context, **more} if more else context
        # An extra check on another resource (CopyObject's source object) brings that resource's policy.
        check_policy, check_owner = own_policy[0] if own_policy else (resource_policy, owner)
        if not policies.exists:  # a deleted user or role: its keys and sessions may do nothing at all
            check_policy, check_owner = None, None
        # Decisions are memoized: the policies are immutable for the generation, and the engine reads
        # nothing of the context beyond the keys they name (Policy.context_keys).
        keys = _context_keys(policies, (*sessions, check_policy))
        memo_key = _memo_key(
            action, resource, principal, sessions, check_policy, check_owner, req_context, keys
        )
        d = policies.decisions.get(memo_key)
        if d is None:
            d = evaluate(
                Request(action=action, resource=resource, principal=principal, context=req_context),
                identity=identity,
                boundary=policies.boundary,
                session_policies=sessions,
                resource_policy=check_policy,
                resource_account=check_owner,
            )
            if len(policies.decisions) >= DECISION_MEMO_LIMIT:
                policies.decisions.clear()
            policies.decisions[memo_key] = d
        out.append(Check(action, resource, d, req_context))
    return out


class Authorizer:
    """The engine's verdicts under the server's --auth mode, for the pipeline and handlers alike."""

    def __init__(self, mode: str = "enforce") -> None:
        if mode not in ("enforce", "soft", "off"):
            raise ValueError(f"unknown auth mode {mode!r}")
        self.mode = mode
        self.policies = PolicyCache()

    def refused(
        self, ctx: OpContext, auth: Authorization, params: dict[str, Any], resources: list[str]
    ) -> list[Check]:
        """The checks the caller fails. Under --auth off nothing is asked; under soft each denial is
        logged and noted on the context (the trail's rolecallWouldDeny) and let through."""
        if self.mode == "off":
            return []
        generation = ctx.generation if ctx.generation >= 0 else ctx.store.generation()
        policies = principal_policies(ctx, self.policies, generation)
        out = []
        for check in decide(auth, ctx, params, policies, resources):
            if check.decision.allowed:
                continue
            if self.mode == "soft":
                log.warning("soft auth: would deny: %s", access_denied(ctx.caller, check).message)
                ctx.would_deny.append(check)
                continue
            out.append(check)
        return out
