"""The policies that apply to a principal, compiled for the policy engine.

The pipeline asks for them on every request an IAM user or role session makes, and the simulator
asks for them with the labels it reports, so lookups are direct store reads and compilation is
cached by document text.

Labels (Policy.name, which Decision.matched reports): a managed policy is named by its ARN, an
inline policy by where it lives, e.g. "role/app inline policy s3-read".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rolecall.authz.managed import aws_managed_policy, is_aws_managed_arn
from rolecall.policy import MalformedPolicy, Policy

if TYPE_CHECKING:
    from rolecall.store import Tx

# Stored documents passed their quotas when they were written, and AWS managed policies can be far
# larger than a customer's (ReadOnlyAccess is ~95,000 characters): compiling must not re-check size.
_NO_SIZE_LIMIT = 1 << 30

_POLICY_ARN = re.compile(
    r"^arn:aws:iam::(?P<account>\d{12}|aws):policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$"
)

# Stand-in for a permissions boundary that names a policy which no longer exists: it allows nothing,
# so the principal keeps no permissions rather than silently losing its boundary.
_MISSING_BOUNDARY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rolecall:NoSuchBoundary","Resource":"*"}]}'


@dataclass(frozen=True)
class PolicySource:
    """One policy that applies to a principal, with what the simulator reports about it."""

    policy: Policy
    source_type: str  # SimulatePrincipalPolicy's SourcePolicyType: user|group|role|aws-managed|user-managed
    source_id: str  # its SourcePolicyId: the policy's name
    text: str
    entity_name: str = ""  # an inline policy's user, group or role (what PolicyExclusionList names)
    policy_arn: str = ""  # a managed policy's ARN


def parse_policy_arn(arn: str) -> tuple[str, str, str] | None:
    """(account or "aws", path, name) of a managed policy ARN, or None when it is not one."""
    m = _POLICY_ARN.match(arn or "")
    if m is None:
        return None
    return m["account"], m["path"], m["name"]


def managed_policy_record(tx: Tx, account: str, arn: str) -> dict[str, Any] | None:
    """The managed policy this ARN names, as seen from `account`: an AWS managed policy's static record,
    or the account's stored "policy" document (whose Arn must match, path included). None otherwise."""
    if is_aws_managed_arn(arn):
        return aws_managed_policy(arn)
    parsed = parse_policy_arn(arn)
    if parsed is None or parsed[0] != account:
        return None
    doc = tx.get(account, "policy", parsed[2])
    if doc is None or doc["Arn"] != arn:
        return None
    return doc


def default_version_text(record: dict[str, Any]) -> str:
    """The default version's document text of a managed policy record (stored or AWS managed)."""
    if "Versions" not in record:  # AWS managed: the record carries only its default version
        return record["Document"]
    default = record["DefaultVersionId"]
    return next(v["Document"] for v in record["Versions"] if v["VersionId"] == default)


def managed_policy_document(tx: Tx, account: str, arn: str) -> str | None:
    """The default version's text of a managed policy, or None when `account` cannot see such a policy."""
    record = managed_policy_record(tx, account, arn)
    return None if record is None else default_version_text(record)


def managed_policy_exists(tx: Tx, account: str, arn: str) -> bool:
    return managed_policy_record(tx, account, arn) is not None


@lru_cache(maxsize=4096)
def compiled(text: str, kind: str, name: str | None) -> Policy:
    """Policy.parse, cached. Keyed by the label too: two principals may share a document's text under
    different names, and Decision.matched must report the right one."""
    try:
        return Policy.parse(text, kind=kind, name=name, max_size=_NO_SIZE_LIMIT)
    except MalformedPolicy:
        if name and is_aws_managed_arn(name):
            # AWS's own documents are valid by definition; a validator that lags behind AWS's newest
            # resource types (e.g. arn:aws:iam::aws:role-template/...) must not lock callers out.
            return Policy(text, json.loads(text), kind, name)
        raise


def inline_label(kind: str, entity_name: str, policy_name: str) -> str:
    return f"{kind}/{entity_name} inline policy {policy_name}"


# ---------------------------------------------------------------- gathering


def _inline_sources(kind: str, doc: dict[str, Any]) -> list[PolicySource]:
    entity_name = doc[{"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]]
    return [
        PolicySource(
            compiled(text, "identity", inline_label(kind, entity_name, name)), kind, name, text, entity_name
        )
        for name, text in (doc.get("InlinePolicies") or {}).items()
    ]


def _managed_sources(tx: Tx, account: str, doc: dict[str, Any], seen: set[str]) -> list[PolicySource]:
    out = []
    for arn in doc.get("AttachedPolicies") or []:
        if arn in seen:
            continue
        seen.add(arn)
        record = managed_policy_record(tx, account, arn)
        if record is None:  # detached by a concurrent delete; nothing to apply
            continue
        text = default_version_text(record)
        source_type = "aws-managed" if is_aws_managed_arn(arn) else "user-managed"
        out.append(
            PolicySource(
                compiled(text, "identity", arn), source_type, record["PolicyName"], text, policy_arn=arn
            )
        )
    return out


def sources_for_group(
    tx: Tx, account: str, group: dict[str, Any], seen: set[str] | None = None
) -> list[PolicySource]:
    """A group's inline and attached policies."""
    return _inline_sources("group", group) + _managed_sources(
        tx, account, group, set() if seen is None else seen
    )


def sources_for_user(tx: Tx, account: str, user: dict[str, Any]) -> list[PolicySource]:
    """A user's inline and attached policies, then each of its groups' (a managed policy reached
    through several routes counts once)."""
    seen: set[str] = set()
    out = _inline_sources("user", user) + _managed_sources(tx, account, user, seen)
    for group_name in user.get("Groups") or []:
        group = tx.get(account, "group", group_name)
        if group is not None:
            out += sources_for_group(tx, account, group, seen)
    return out


def sources_for_role(tx: Tx, account: str, role: dict[str, Any]) -> list[PolicySource]:
    return _inline_sources("role", role) + _managed_sources(tx, account, role, set())


def boundary_source(tx: Tx, account: str, entity: dict[str, Any]) -> PolicySource | None:
    """The permissions boundary set on a user or role, or None when it has none."""
    arn = ((entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")) or ""
    if not arn:
        return None
    record = managed_policy_record(tx, account, arn)
    if record is None:
        return PolicySource(
            compiled(_MISSING_BOUNDARY, "boundary", arn),
            "user-managed",
            arn,
            _MISSING_BOUNDARY,
            policy_arn=arn,
        )
    text = default_version_text(record)
    source_type = "aws-managed" if is_aws_managed_arn(arn) else "user-managed"
    return PolicySource(
        compiled(text, "boundary", arn), source_type, record["PolicyName"], text, policy_arn=arn
    )


def policies_for_user(tx: Tx, account: str, user: dict[str, Any]) -> tuple[list[Policy], Policy | None]:
    """(identity policies, permissions boundary or None) of an IAM user."""
    boundary = boundary_source(tx, account, user)
    return [s.policy for s in sources_for_user(tx, account, user)], boundary.policy if boundary else None


def policies_for_role(tx: Tx, account: str, role: dict[str, Any]) -> tuple[list[Policy], Policy | None]:
    """(identity policies, permissions boundary or None) of a role (what its sessions start from)."""
    boundary = boundary_source(tx, account, role)
    return [s.policy for s in sources_for_role(tx, account, role)], boundary.policy if boundary else None
