"""The IAM policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and the context-key listings.

It runs the same policy engine as every real request. What it reports per action and resource:
the decision, the statements that decided it (with their place in the document text), the context
keys the policies needed but were not given, and whether a permissions boundary allowed it.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Any

from rolecall.authz.principals import (
    PolicySource,
    boundary_source,
    compiled,
    sources_for_group,
    sources_for_role,
    sources_for_user,
)
from rolecall.core.operations import Family, OpContext, operation
from rolecall.policy import Decision, MalformedPolicy, Request, evaluate
from rolecall.policy.inspect import context_keys, statement_positions
from rolecall.services.iam.common import NOT_FOUND, get_entity, paginate
from rolecall.services.iam.errors import InvalidInput, NoSuchEntity

_ENTITY_ARN = re.compile(
    r"^arn:aws:iam::(?P<account>\d{12}):(?P<kind>user|group|role)(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$"
)
_USER_ARN = re.compile(r"^arn:aws:iam::(\d{12}):user/(?:[^/]+/)*[^/]+$")
_ACCOUNT_IN_OWNER = re.compile(r"\d{12}")

_SCALAR_TYPES = {"string", "numeric", "boolean", "ip", "binary", "date"}
_ALL_TYPES = _SCALAR_TYPES | {t + "List" for t in _SCALAR_TYPES}

_RESOURCE_POLICY_ID = "ResourcePolicy"


def _source_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return params["PolicySourceArn"]


# ---------------------------------------------------------------- inputs


def _parse(text: str, kind: str, label: str) -> Any:
    try:
        return compiled(text, kind, label)
    except MalformedPolicy as err:
        raise InvalidInput(f"{label}: {err}") from None


def _input_sources(params: dict[str, Any], member: str, kind: str) -> list[PolicySource]:
    out = []
    for i, text in enumerate(params.get(member) or [], start=1):
        label = f"{member}.{i}"
        out.append(PolicySource(_parse(text, kind, label), "none", label, text))
    return out


def _principal_sources(ctx: OpContext, arn: str) -> tuple[str, list[PolicySource], PolicySource | None]:
    """(kind, identity policies, boundary) of the user, group or role a PolicySourceArn names."""
    m = _ENTITY_ARN.match(arn)
    if m is None:
        raise InvalidInput(
            f"Invalid PolicySourceArn {arn}: the simulator accepts the ARN of an IAM user, group or role."
        )
    kind, name = m["kind"], m["name"]
    if m["account"] != ctx.account:
        raise NoSuchEntity(NOT_FOUND[kind].format(name))
    doc = get_entity(ctx.tx, ctx.account, kind, name)
    if doc["Arn"] != arn:  # same name, other path: not the entity the ARN names
        raise NoSuchEntity(NOT_FOUND[kind].format(name))
    if kind == "user":
        return kind, sources_for_user(ctx.tx, ctx.account, doc), boundary_source(ctx.tx, ctx.account, doc)
    if kind == "role":
        return kind, sources_for_role(ctx.tx, ctx.account, doc), boundary_source(ctx.tx, ctx.account, doc)
    return kind, sources_for_group(ctx.tx, ctx.account, doc), None


def _context(entries: list[dict[str, Any]] | None) -> dict[str, Any]:
    """ContextEntries -> the engine's request context (strings, or lists of strings for *List types)."""
    context: dict[str, Any] = {}
    for entry in entries or []:
        name = entry.get("ContextKeyName")
        if not name:
            continue
        key_type = entry.get("ContextKeyType") or "string"
        if key_type not in _ALL_TYPES:
            raise InvalidInput(f"Invalid ContextKeyType {key_type} for context key {name}.")
        base = key_type.removesuffix("List")
        values = [_typed_value(name, base, v) for v in entry.get("ContextKeyValues") or []]
        if key_type.endswith("List") or len(values) != 1:
            context[name] = values
        else:
            context[name] = values[0]
    return context


def _typed_value(name: str, base: str, value: str) -> str:
    """Check a context value against its declared type, as the simulator does before evaluating."""
    try:
        if base == "numeric":
            float(value)
        elif base == "boolean":
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower()
        elif base == "ip":
            if "/" in value:
                ipaddress.ip_network(value, strict=False)
            else:
                ipaddress.ip_address(value)
        elif base == "binary":
            base64.b64decode(value, validate=True)
    except ValueError:
        raise InvalidInput(f"Invalid value {value!r} for context key {name} of type {base}.") from None
    return value


def _caller_arn(params: dict[str, Any]) -> str | None:
    arn = params.get("CallerArn")
    if arn is not None and not _USER_ARN.match(arn):
        raise InvalidInput(
            f"Invalid CallerArn {arn}: the simulated caller must be an IAM user "
            "(not an assumed role, federated user or service principal)."
        )
    return arn


def _resource_owner(params: dict[str, Any]) -> str | None:
    owner = params.get("ResourceOwner")
    if not owner:
        return None
    m = _ACCOUNT_IN_OWNER.search(owner)
    if m is None:
        raise InvalidInput(
            f"Invalid ResourceOwner {owner}: expected an account ARN such as arn:aws:iam::123456789012:root."
        )
    return m.group(0)


# ---------------------------------------------------------------- one simulation


class _Simulation:
    def __init__(
        self,
        identity: list[PolicySource],
        boundary: PolicySource | None,
        resource_policy: PolicySource | None,
        principal: str | None,
        resource_account: str | None,
        context: dict[str, Any],
    ):
        self.identity = identity
        self.boundary = boundary
        self.resource_policy = resource_policy
        self.principal = principal
        self.resource_account = resource_account
        self.context = context
        self.by_label: dict[str, PolicySource] = {s.policy.name: s for s in identity}
        if boundary is not None:
            self.by_label.setdefault(boundary.policy.name, boundary)
        if resource_policy is not None:
            self.by_label[resource_policy.policy.name] = resource_policy

    def decide(self, action: str, resource: str) -> Decision:
        return evaluate(
            Request(action=action, resource=resource, principal=self.principal, context=dict(self.context)),
            identity=[s.policy for s in self.identity],
            resource_policy=self.resource_policy.policy if self.resource_policy else None,
            boundary=self.boundary.policy if self.boundary else None,
            resource_account=self.resource_account,
        )

    def allowed_by_boundary(self, action: str, resource: str, decision: Decision) -> bool:
        if decision.denied_by == "boundary":
            return False
        if decision.allowed:
            return True
        # The request failed elsewhere; ask the boundary on its own.
        alone = evaluate(
            Request(action=action, resource=resource, principal=self.principal, context=dict(self.context)),
            identity=[self.boundary.policy],  # type: ignore[union-attr]
            resource_account=self.resource_account,
        )
        return alone.allowed

    def matched(self, decision: Decision) -> list[dict[str, Any]]:
        """The statements that decided: the denying ones for an explicit deny, the allowing ones for an
        allow, none for an implicit deny (as IAM reports them)."""
        if decision.decision == "implicitDeny":
            return []
        effect = "Deny" if decision.decision == "explicitDeny" else "Allow"
        out, seen = [], set()
        for m in decision.matched:
            source = self.by_label.get(m.policy)
            if m.effect != effect or source is None or (m.policy, m.index) in seen:
                continue
            seen.add((m.policy, m.index))
            statement: dict[str, Any] = {
                "SourcePolicyId": source.source_id,
                "SourcePolicyType": source.source_type,
            }
            positions = statement_positions(source.text)
            if 0 <= m.index < len(positions):
                start, end = positions[m.index]
                statement["StartPosition"] = {"Line": start[0], "Column": start[1]}
                statement["EndPosition"] = {"Line": end[0], "Column": end[1]}
            out.append(statement)
        return out

    def result(self, action: str, resource: str, per_resource: bool) -> dict[str, Any]:
        decision = self.decide(action, resource)
        matched = self.matched(decision)
        missing = list(decision.missing_context_keys)
        out: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": decision.decision,
            "MatchedStatements": matched,
            # With named resources IAM reports missing keys per resource instead (API reference).
            "MissingContextValues": [] if per_resource else missing,
        }
        boundary_detail = None
        if self.boundary is not None:
            boundary_detail = {
                "AllowedByPermissionsBoundary": self.allowed_by_boundary(action, resource, decision)
            }
            out["PermissionsBoundaryDecisionDetail"] = boundary_detail
        if per_resource:
            specific: dict[str, Any] = {
                "EvalResourceName": resource,
                "EvalResourceDecision": decision.decision,
                "MatchedStatements": matched,
                "MissingContextValues": missing,
            }
            if boundary_detail is not None:
                specific["PermissionsBoundaryDecisionDetail"] = dict(boundary_detail)
            out["ResourceSpecificResults"] = [specific]
        return out


def _run(
    ctx: OpContext,
    params: dict[str, Any],
    identity: list[PolicySource],
    boundary: PolicySource | None,
    default_caller: str | None,
) -> dict[str, Any]:
    caller = _caller_arn(params) or default_caller
    resource_policy = None
    if params.get("ResourcePolicy"):
        if caller is None:
            raise InvalidInput(
                "CallerArn is required when a ResourcePolicy is simulated and the policy source is not an IAM user."
            )
        resource_policy = PolicySource(
            _parse(params["ResourcePolicy"], "resource", _RESOURCE_POLICY_ID),
            "resource",
            _RESOURCE_POLICY_ID,
            params["ResourcePolicy"],
        )
    owner = _resource_owner(params)
    if owner is None and caller is not None:
        owner = caller.split(":")[4]
    simulation = _Simulation(
        identity, boundary, resource_policy, caller, owner, _context(params.get("ContextEntries"))
    )
    resources = params.get("ResourceArns") or []
    per_resource = bool(resources)
    results = [
        simulation.result(action, resource, per_resource)
        for action in params["ActionNames"]
        for resource in (resources or ["*"])
    ]
    return paginate(results, params, "EvaluationResults")


def _context_key_names(sources: list[PolicySource]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for source in sources:
        for key in context_keys(source.policy.document):
            if key.lower() not in seen:
                seen.add(key.lower())
                names.append(key)
    return names


# ---------------------------------------------------------------- the operations


class SimulatorOperations(Family):
    @operation("iam:SimulatePrincipalPolicy", _source_arn)
    def SimulatePrincipalPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicySourceArn"]
        kind, identity, boundary = _principal_sources(ctx, arn)
        identity = identity + _input_sources(params, "PolicyInputList", "identity")
        boundaries = _input_sources(params, "PermissionsBoundaryPolicyInputList", "boundary")
        if len(boundaries) > 1:
            raise InvalidInput("Only one permissions boundary policy can be simulated at a time.")
        if boundaries:  # a simulated boundary replaces the one set on the entity
            boundary = boundaries[0]
        return _run(ctx, params, identity, boundary, arn if kind == "user" else None)

    @operation("iam:SimulateCustomPolicy")
    def SimulateCustomPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        for action in params["ActionNames"]:
            if "*" in action or "?" in action:
                raise InvalidInput(
                    f"Invalid action name {action}: SimulateCustomPolicy does not accept wildcards."
                )
        identity = _input_sources(params, "PolicyInputList", "identity")
        boundaries = _input_sources(params, "PermissionsBoundaryPolicyInputList", "boundary")
        if len(boundaries) > 1:
            raise InvalidInput("Only one permissions boundary policy can be simulated at a time.")
        return _run(ctx, params, identity, boundaries[0] if boundaries else None, None)

    @operation("iam:GetContextKeysForPrincipalPolicy", _source_arn)
    def GetContextKeysForPrincipalPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        _, identity, boundary = _principal_sources(ctx, params["PolicySourceArn"])
        sources = (
            identity
            + ([boundary] if boundary else [])
            + _input_sources(params, "PolicyInputList", "identity")
        )
        return {"ContextKeyNames": _context_key_names(sources)}

    @operation("iam:GetContextKeysForCustomPolicy")
    def GetContextKeysForCustomPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ContextKeyNames": _context_key_names(_input_sources(params, "PolicyInputList", "identity"))}
