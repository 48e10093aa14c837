"""The IAM policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and the context-key listings.

It runs the same policy engine as every real request. What it reports per action and resource:
the decision, the statements that decided it (with their place in the document text), the context
keys the policies needed but were not given, whether a permissions boundary allowed it, and whether the
simulated Organizations SCPs (SimulateCustomPolicy's OrderedOrganizationPolicyInputList) allowed it.

SimulatePrincipalPolicy's PolicyExclusionList leaves policies of the principal out of the simulation, as
if they were detached: by type, by managed policy ARN (with wildcards), or by inline policy name and the
entity it is attached to (with wildcards in the entity's name).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.authz.principals import (
    PolicySource,
    boundary_source,
    compiled,
    sources_for_group,
    sources_for_role,
    sources_for_user,
)
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.policy import Decision, MalformedPolicy, Policy, Request, evaluate
from rolecall.policy.inspect import context_keys, statement_positions
from rolecall.services.iam.common import NOT_FOUND, get_entity, paginate_computed
from rolecall.services.iam.errors import InvalidInput, NoSuchEntity

_ENTITY_ARN = re.compile(
    r"^arn:aws:iam::(?P<account>\d{12}):(?P<kind>user|group|role)(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$"
)
_USER_ARN = re.compile(r"^arn:aws:iam::(\d{12}):user/(?:[^/]+/)*[^/]+$")
_ACCOUNT_IN_OWNER = re.compile(r"\d{12}")

_SCALAR_TYPES = {"string", "numeric", "boolean", "ip", "binary", "date"}
_ALL_TYPES = _SCALAR_TYPES | {t + "List" for t in _SCALAR_TYPES}

_RESOURCE_POLICY_ID = "ResourcePolicy"

# PolicyExclusionList's PolicyArn: a managed policy ARN; wildcards only in the part after "policy/".
_EXCLUDED_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy/(?P<resource>[\x21-\x7e]+)$")
# InlinePolicyIdentifier's AttachmentName: an IAM entity name, with wildcards.
_EXCLUDED_ENTITY = re.compile(r"^[\w+=,.@*?-]+$", re.ASCII)


def _source_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return params["PolicySourceArn"]


# ---------------------------------------------------------------- inputs


def _parse(text: str, kind: str, label: str) -> Any:
    try:
        return compiled(text, kind, label)
    except MalformedPolicy as err:
        raise InvalidInput(f"{label}: {err}") from None


def _input_sources(
    params: dict[str, Any], member: str, kind: str, *, label: str | None = None
) -> list[PolicySource]:
    """The documents of a list member, each named by its place in the request ("PolicyInputList.1")."""
    out = []
    for i, text in enumerate(params.get(member) or [], start=1):
        name = f"{label or member}.{i}"
        out.append(PolicySource(_parse(text, kind, name), "none", name, text))
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


def _wildcard(pattern: str) -> re.Pattern[str]:
    """`*` any sequence of characters (none included), `?` exactly one; everything else literal."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


@dataclass(frozen=True)
class _Exclusions:
    """What PolicyExclusionList leaves out of a SimulatePrincipalPolicy simulation.

    It applies to the principal's own policies -- those attached to it, its groups' and its permissions
    boundary -- not to the documents passed in PolicyInputList or PermissionsBoundaryPolicyInputList. A
    PolicyArn names attached managed policies; a managed policy set as the boundary is left out by the
    permission-boundary type. rolecall has no Organizations, so a principal has no SCPs or RCPs to leave
    out: those types are valid and match nothing (IAM documents RCP identifiers as ignored for now).
    """

    types: frozenset[str] = frozenset()
    arns: tuple[re.Pattern[str], ...] = ()
    inline: tuple[tuple[str, str, re.Pattern[str]], ...] = ()  # (policy name, attachment type, entity name)

    @property
    def boundary(self) -> bool:
        return "permission-boundary" in self.types

    def excludes(self, source: PolicySource) -> bool:
        """Whether an identity policy of the principal (an inline or attached managed policy) is left out."""
        if source.source_type in ("user", "group", "role"):
            if "inline" in self.types:
                return True
            return any(
                name == source.source_id
                and kind == source.source_type
                and entity.fullmatch(source.entity_name)
                for name, kind, entity in self.inline
            )
        if source.source_type in self.types:  # aws-managed, user-managed
            return True
        return any(arn.fullmatch(source.policy_arn) for arn in self.arns)


def _exclusions(identifiers: list[dict[str, Any]] | None) -> _Exclusions:
    """PolicyExclusionList, checked: a malformed identifier is InvalidInput (the model validation already
    made each one a union with exactly one member and checked PolicyType's and AttachmentType's values)."""
    types: set[str] = set()
    arns: list[re.Pattern[str]] = []
    inline: list[tuple[str, str, re.Pattern[str]]] = []
    for index, identifier in enumerate(identifiers or [], start=1):
        where = f"PolicyExclusionList.{index}"
        if identifier.get("PolicyType") is not None:
            types.add(identifier["PolicyType"])
        elif identifier.get("PolicyArn") is not None:
            arn = identifier["PolicyArn"]
            m = _EXCLUDED_ARN.match(arn)
            if m is None or m["resource"].count("*") > 1 or m["resource"].endswith("/"):
                raise InvalidInput(
                    f"Invalid {where}.PolicyArn {arn}: expected the ARN of a managed policy, "
                    "arn:aws:iam::ACCOUNT_ID_OR_aws:policy/PATH/NAME, with wildcards only after policy/ "
                    "(at most one *, any number of ?)."
                )
            arns.append(_wildcard(arn))
        else:
            found = identifier["InlinePolicyIdentifier"]
            entity = found["AttachmentName"]
            if not _EXCLUDED_ENTITY.match(entity) or entity.count("*") > 1:
                raise InvalidInput(
                    f"Invalid {where}.InlinePolicyIdentifier.AttachmentName {entity}: expected the name of "
                    "an IAM user, group or role, with at most one * and any number of ? as wildcards."
                )
            inline.append((found["PolicyName"], found["AttachmentType"], _wildcard(entity)))
    return _Exclusions(frozenset(types), tuple(arns), tuple(inline))


def _organization_levels(params: dict[str, Any]) -> list[list[PolicySource]]:
    """OrderedOrganizationPolicyInputList: the SCPs of each level, organization root first, account last."""
    levels = []
    for i, level in enumerate(params.get("OrderedOrganizationPolicyInputList") or [], start=1):
        member = f"OrderedOrganizationPolicyInputList.{i}.ServiceControlPolicyInputList"
        levels.append(_input_sources(level, "ServiceControlPolicyInputList", "scp", label=member))
    return levels


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
        organization: Sequence[list[PolicySource]] = (),
    ):
        self.identity = identity
        self.boundary = boundary
        self.resource_policy = resource_policy
        self.principal = principal
        self.resource_account = resource_account
        self.context = context
        self.scps: list[list[Policy]] = [[s.policy for s in level] for level in organization]
        self.by_label: dict[str | None, PolicySource] = {s.policy.name: s for s in identity}
        if boundary is not None:
            self.by_label.setdefault(boundary.policy.name, boundary)
        if resource_policy is not None:
            self.by_label[resource_policy.policy.name] = resource_policy
        for level in organization:
            self.by_label.update((s.policy.name, s) for s in level)

    def _request(self, action: str, resource: str) -> Request:
        return Request(action=action, resource=resource, principal=self.principal, context=dict(self.context))

    def decide(self, action: str, resource: str) -> Decision:
        return evaluate(
            self._request(action, resource),
            identity=[s.policy for s in self.identity],
            resource_policy=self.resource_policy.policy if self.resource_policy else None,
            boundary=self.boundary.policy if self.boundary else None,
            scps=self.scps,
            resource_account=self.resource_account,
        )

    def allowed_by_organizations(self, action: str, resource: str) -> bool:
        """Whether every level of the simulated SCPs allows the request and none denies it, asked of the
        SCPs alone (an identity policy's deny must not hide an SCP's answer)."""
        alone = evaluate(self._request(action, resource), scps=self.scps)
        return alone.denied_by != "scp"

    def allowed_by_boundary(self, action: str, resource: str, decision: Decision) -> bool:
        if decision.denied_by == "boundary":
            return False
        if decision.allowed:
            return True
        # The request failed elsewhere; ask the boundary on its own.
        alone = evaluate(
            self._request(action, resource),
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
            if m.kind == "scp" and effect == "Allow":  # SCPs only limit: an allow is the identity's doing
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
        if self.scps:
            out["OrganizationsDecisionDetail"] = {
                "AllowedByOrganizations": self.allowed_by_organizations(action, resource)
            }
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
    organization: Sequence[list[PolicySource]] = (),
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
        identity,
        boundary,
        resource_policy,
        caller,
        owner,
        _context(params.get("ContextEntries")),
        organization,
    )
    actions = params["ActionNames"]
    resources = params.get("ResourceArns") or []
    per_resource = bool(resources)
    targets = resources or ["*"]

    def result(i: int) -> dict[str, Any]:  # the i-th of actions x resources, in that order
        action, resource = actions[i // len(targets)], targets[i % len(targets)]
        return simulation.result(action, resource, per_resource)

    # Only the page asked for is simulated: a caller naming thousands of actions and resources costs at
    # most MaxItems evaluations per call, never the whole product at once.
    return paginate_computed(len(actions) * len(targets), result, params, "EvaluationResults")


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


# ResourceHandlingOption makes AWS insist on the resources an EC2 scenario needs; rolecall knows no scenarios.
_UNSUPPORTED = ["ResourceHandlingOption"]


class SimulatorOperations(Family):
    @operation("iam:SimulatePrincipalPolicy", _source_arn, unsupported=_UNSUPPORTED)
    def SimulatePrincipalPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicySourceArn"]
        exclusions = _exclusions(params.get("PolicyExclusionList"))
        kind, identity, boundary = _principal_sources(ctx, arn)
        identity = [source for source in identity if not exclusions.excludes(source)]
        if exclusions.boundary:
            boundary = None
        identity = identity + _input_sources(params, "PolicyInputList", "identity")
        boundaries = _input_sources(params, "PermissionsBoundaryPolicyInputList", "boundary")
        if len(boundaries) > 1:
            raise InvalidInput("Only one permissions boundary policy can be simulated at a time.")
        if boundaries:  # a simulated boundary replaces the one set on the entity
            boundary = boundaries[0]
        return _run(ctx, params, identity, boundary, arn if kind == "user" else None)

    @operation("iam:SimulateCustomPolicy", unsupported=_UNSUPPORTED)
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
        organization = _organization_levels(params)
        return _run(ctx, params, identity, boundaries[0] if boundaries else None, None, organization)

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
