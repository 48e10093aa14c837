"""What an analyzer finds in its account, computed from the account's current state and trail.

External access (ACCOUNT analyzers): role trust policies and bucket policies that let a principal outside
the zone of trust (the account) in -- another account, anyone ("*", public), a federated identity
provider, or an AWS service without a confused-deputy condition (aws:SourceAccount / aws:SourceArn /
aws:SourceOrgID / ...). Whether a statement lets that principal in is the policy engine's decision, on a
witness request whose context satisfies the statement's conditions except those an outsider cannot
choose (its own account, ARN, organization, source): so a condition such as aws:PrincipalAccount or
aws:SourceAccount pinned to the account removes the finding, one such as sts:ExternalId does not.

Unused access (ACCOUNT_UNUSED_ACCESS analyzers), over the tracking period (unusedAccessAge days, 90 by
default): roles no session used (UnusedIAMRole), active access keys nothing was signed with
(UnusedIAMUserAccessKey), console passwords never used (UnusedIAMUserPassword; rolecall has no console
sign-in, so a password older than the period is unused), and the services and actions that the policies
of a used user or role allow but it never attempted (UnusedPermission). Something created within the
tracking period is not yet unused.

A finding's id is derived from what it is about, so that the same finding keeps its id (and the status
UpdateFindings or an archive rule gave it) from one analysis to the next.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rolecall.audit.activity import Activity, activity
from rolecall.authz.principals import sources_for_role, sources_for_user
from rolecall.authz.service_reference import ServiceReference, granted_actions, service_reference
from rolecall.core.context import OpContext
from rolecall.policy import MalformedPolicy, Policy, Request
from rolecall.policy.compile import Statement
from rolecall.services.accessanalyzer.access_checks import (
    PROBE_ACCOUNT,
    allows,
    expand_actions,
    resource_probes,
    witness_context_for_public,
)

EXTERNAL_TYPES = ("ACCOUNT",)
UNUSED_TYPES = ("ACCOUNT_UNUSED_ACCESS",)
DEFAULT_UNUSED_AGE = 90
BUCKET_KIND = "s3-bucket"  # where S3 keeps its buckets (global documents naming their Owner)
TRACKED_SERVICES = ("iam", "sts", "s3", "ec2", "lambda", "logs", "cloudtrail", "access-analyzer")
_NAMESPACE = uuid.UUID("6f1c3c1e-4d4b-4f65-9d3e-8a2f4f0c7b21")


@dataclass
class Finding:
    """One finding as computed now (status and dates are the analyzer's to add)."""

    id: str
    finding_type: str
    resource: str
    resource_type: str
    owner: str
    details: list[dict[str, Any]]
    external: dict[str, Any] = field(default_factory=dict)  # ListFindings' members of an ExternalAccess one

    def summary(self) -> dict[str, Any]:
        """What is kept of a finding once seen (enough to list it as RESOLVED when it is gone)."""
        return {
            "findingType": self.finding_type,
            "resource": self.resource,
            "resourceType": self.resource_type,
            "resourceOwnerAccount": self.owner,
            "external": self.external,
        }


def finding_id(analyzer_arn: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join((analyzer_arn, *parts))))


def analyze(ctx: OpContext, analyzer: dict[str, Any]) -> list[Finding]:
    """Every finding the analyzer has now."""
    reference = service_reference()
    if analyzer["type"] in UNUSED_TYPES:
        return _unused(ctx, analyzer, reference)
    return _external(ctx, analyzer, reference)


# ---------------------------------------------------------------- external access


def _external(ctx: OpContext, analyzer: dict[str, Any], reference: ServiceReference) -> list[Finding]:
    found: list[Finding] = []
    for role in ctx.tx.list(ctx.account, "role"):
        text = role.get("AssumeRolePolicyDocument")
        if isinstance(text, str) and text:
            found += _policy_findings(
                ctx, analyzer, reference, text, "trust", role["Arn"], "AWS::IAM::Role", "sts"
            )
    for bucket in ctx.tx.list("", BUCKET_KIND):
        if bucket.get("Owner") == ctx.account and bucket.get("Policy"):
            arn = f"arn:aws:s3:::{bucket['Name']}"
            found += _policy_findings(
                ctx, analyzer, reference, bucket["Policy"], "resource", arn, "AWS::S3::Bucket", "s3"
            )
    return found


def _policy_findings(
    ctx: OpContext,
    analyzer: dict[str, Any],
    reference: ServiceReference,
    text: str,
    kind: str,
    resource: str,
    resource_type: str,
    service: str,
) -> list[Finding]:
    try:
        policy = Policy.parse(text, kind=kind, max_size=1_000_000)
    except MalformedPolicy:
        return []  # stored documents were valid when stored; a stricter engine must not break analysis
    found = []
    for st in policy.statements:
        if st.is_deny or st.principal is None or st.not_principal:
            continue
        for principal_kind, value in _principals(st):
            outsider = _outsider(ctx.account, principal_kind, value)
            if outsider is None:
                continue  # inside the zone of trust
            principal, keys, public = outsider
            granted = _granted(policy, st, reference, service, resource, kind, principal, keys)
            if not granted:
                continue
            condition = _conditions(st)
            external = {
                "principal": {principal_kind: value},
                "action": granted,
                "isPublic": public,
                "condition": condition,
                "sources": [{"type": "POLICY"}],
            }
            fid = finding_id(
                analyzer["arn"], "ExternalAccess", resource, str(st.index), principal_kind, value
            )
            details = [{"externalAccessDetails": external}]
            found.append(
                Finding(fid, "ExternalAccess", resource, resource_type, ctx.account, details, external)
            )
    return found


def _principals(st: Statement) -> list[tuple[str, str]]:
    raw = st.raw.get("Principal")
    if raw == "*":
        return [("AWS", "*")]
    out = []
    for kind, values in raw.items() if isinstance(raw, dict) else ():
        for value in [values] if isinstance(values, str) else values or []:
            if isinstance(value, str):
                out.append((kind, value))
    return out


def _outsider(account: str, kind: str, value: str) -> tuple[str, dict[str, Any], bool] | None:
    """(principal to ask the engine about, its own context keys, public) -- None inside the zone of trust."""
    if kind == "AWS":
        if value == "*":
            arn = f"arn:aws:iam::{PROBE_ACCOUNT}:user/outsider"
            return arn, {"aws:PrincipalArn": arn, "aws:PrincipalAccount": PROBE_ACCOUNT}, True
        other = value if value.isdigit() else (value.split(":")[4] if value.count(":") >= 5 else "")
        if other == account:
            return None
        arn = f"arn:aws:iam::{value}:root" if value.isdigit() else value
        return arn, {"aws:PrincipalArn": arn, "aws:PrincipalAccount": other}, False
    if kind == "Service":
        # The service acting for someone else: its source account and ARN are an outsider's.
        return value, {"aws:PrincipalServiceName": value, "aws:PrincipalIsAWSService": "true"}, False
    if kind == "CanonicalUser":
        return None  # canonical IDs of this account's own users are not told apart here
    return value, {}, False  # Federated: a web identity or SAML provider's users


def _granted(
    policy: Policy,
    st: Statement,
    reference: ServiceReference,
    service: str,
    resource: str,
    kind: str,
    principal: str,
    keys: dict[str, Any],
) -> list[str]:
    context = witness_context_for_public(st, keys)
    probes = [resource] if kind == "trust" else [r for r in resource_probes(st) if r.startswith(resource)]
    granted = []
    for action in expand_actions(st, reference, service):
        if any(allows(policy, Request(action, probe, principal, context)) for probe in probes):
            granted.append(action)
    return sorted(granted)


def _conditions(st: Statement) -> dict[str, str]:
    out: dict[str, str] = {}
    for condition in st.conditions:
        values = list(condition.values)
        out[condition.key_name] = values[0] if len(values) == 1 else json.dumps(values)
    return out


# ---------------------------------------------------------------- unused access


def unused_age(analyzer: dict[str, Any]) -> int:
    config = ((analyzer.get("configuration") or {}).get("unusedAccess")) or {}
    return int(config.get("unusedAccessAge") or DEFAULT_UNUSED_AGE)


def _unused(ctx: OpContext, analyzer: dict[str, Any], reference: ServiceReference) -> list[Finding]:
    now = ctx.clock.now()
    cutoff = now - timedelta(days=unused_age(analyzer))
    cutoff_text = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    act = activity(ctx.store, ctx.account, cutoff, ctx.host.action_of)
    arn = analyzer["arn"]
    found: list[Finding] = []
    for role in ctx.tx.list(ctx.account, "role"):
        if (role.get("Path") or "/").startswith("/aws-service-role/"):
            continue  # service-linked roles are the services' to use
        last_used = (role.get("RoleLastUsed") or {}).get("LastUsedDate")
        recent = act.principals.get(role["Arn"])
        if recent is None and (last_used or "") < cutoff_text and role["CreateDate"] < cutoff_text:
            details = {"unusedIamRoleDetails": {"lastAccessed": last_used} if last_used else {}}
            found.append(
                _unused_finding(arn, "UnusedIAMRole", role["Arn"], "AWS::IAM::Role", ctx.account, [details])
            )
        elif recent is not None:
            found += _unused_permissions(ctx, arn, reference, act, "role", role)
    for user in ctx.tx.list(ctx.account, "user"):
        for key in ctx.tx.list(ctx.account, "access_key"):
            if key.get("UserName") != user["UserName"] or key.get("Status") != "Active":
                continue
            if key["AccessKeyId"] not in act.access_keys and key["CreateDate"] < cutoff_text:
                details = {"unusedIamUserAccessKeyDetails": {"accessKeyId": key["AccessKeyId"]}}
                found.append(
                    _unused_finding(
                        arn, "UnusedIAMUserAccessKey", user["Arn"], "AWS::IAM::User", ctx.account, [details],
                        key["AccessKeyId"],
                    )
                )  # fmt: skip
        profile = user.get("LoginProfile")
        if (
            profile
            and (user.get("PasswordLastUsed") or "") < cutoff_text
            and profile["CreateDate"] < cutoff_text
        ):
            password = {"lastAccessed": user["PasswordLastUsed"]} if user.get("PasswordLastUsed") else {}
            details = {"unusedIamUserPasswordDetails": password}
            found.append(
                _unused_finding(
                    arn, "UnusedIAMUserPassword", user["Arn"], "AWS::IAM::User", ctx.account, [details]
                )
            )
        if user["Arn"] in act.principals:
            found += _unused_permissions(ctx, arn, reference, act, "user", user)
    return found


def _unused_finding(
    analyzer_arn: str,
    finding_type: str,
    resource: str,
    resource_type: str,
    owner: str,
    details: list[dict[str, Any]],
    *more: str,
) -> Finding:
    return Finding(
        finding_id(analyzer_arn, finding_type, resource, *more),
        finding_type,
        resource,
        resource_type,
        owner,
        details,
    )


def _unused_permissions(
    ctx: OpContext,
    analyzer_arn: str,
    reference: ServiceReference,
    act: Activity,
    kind: str,
    doc: dict[str, Any],
) -> list[Finding]:
    """One UnusedPermission finding for a used user or role: each allowed service it never used, and for
    the services rolecall tracks by action, the allowed actions it never used."""
    sources = (sources_for_user if kind == "user" else sources_for_role)(ctx.tx, ctx.account, doc)
    allowed = granted_actions([s.policy for s in sources], reference)
    used_services = act.services(doc["Arn"])
    used_actions = act.actions.get(doc["Arn"], {})
    details: list[dict[str, Any]] = []
    for namespace in sorted(allowed):
        use = used_services.get(namespace.lower())
        if use is None:
            details.append({"unusedPermissionDetails": {"serviceNamespace": namespace}})
            continue
        if namespace.lower() not in TRACKED_SERVICES:
            continue
        unused = [
            {"action": f"{namespace}:{name}"}
            for name in sorted(allowed[namespace])
            if f"{namespace}:{name}".lower() not in used_actions
        ]
        if unused:
            details.append(
                {
                    "unusedPermissionDetails": {
                        "serviceNamespace": namespace,
                        "lastAccessed": use.time,
                        "actions": unused,
                    }
                }
            )
    if not details:
        return []
    resource_type = "AWS::IAM::User" if kind == "user" else "AWS::IAM::Role"
    return [
        _unused_finding(analyzer_arn, "UnusedPermission", doc["Arn"], resource_type, ctx.account, details)
    ]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
