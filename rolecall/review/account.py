"""An account as the audit sees it: principals with their compiled policies, read from the output of
IAM's GetAccountAuthorizationDetails (a running rolecall server's, or `aws iam
get-account-authorization-details` run against a real account), plus optional SCPs and Lambda functions.

Every policy is parsed and compiled once: a managed policy attached to a thousand principals is one
Policy object, so the engine's per-policy action index is built once too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from rolecall.policy import MalformedPolicy, Policy

# Policies from an export are AWS's own, already accepted by IAM: no size quota applies here.
NO_LIMIT = 10**9

ManagedLookup = Callable[[str], str | None]


class AccountError(ValueError):
    """The input is not a GetAccountAuthorizationDetails document."""


@dataclass
class Group:
    name: str
    arn: str
    policies: list[Policy]
    managed: list[str]  # attached managed policy ARNs
    members: list[str] = field(default_factory=list)  # user ARNs


@dataclass
class Principal:
    """A user or role: who can make requests in the account."""

    kind: str  # "user" | "role"
    name: str
    arn: str
    account: str
    id: str
    policies: tuple[Policy, ...]  # every identity-based policy: inline, attached, and its groups'
    boundary: Policy | None = None
    groups: tuple[str, ...] = ()  # group names (users)
    managed: frozenset[str] = frozenset()  # managed policy ARNs that apply (directly or via a group)
    trust: Policy | None = None  # roles
    instance_profiles: tuple[str, ...] = ()
    last_used: str | None = None  # RoleLastUsed.LastUsedDate
    created: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    service_linked: bool = False
    scp_exempt: bool = False  # service-linked roles are not restricted by SCPs

    @property
    def request_principal(self) -> str:
        """The principal string a request of this principal carries (a role acts through a session)."""
        if self.kind == "role":
            return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/rolecall-audit"
        return self.arn

    def context(self, mfa: bool) -> dict[str, Any]:
        """The global condition keys its requests carry (no source IP, VPC or time: unknown offline)."""
        ctx: dict[str, Any] = {
            "aws:PrincipalArn": self.arn,
            "aws:PrincipalAccount": self.account,
            "aws:PrincipalIsAWSService": "false",
            "aws:ViaAWSService": "false",
            "aws:SecureTransport": "true",
        }
        if self.kind == "user":
            ctx["aws:PrincipalType"] = "User"
            ctx["aws:username"] = self.name
            ctx["aws:userid"] = self.id
        else:
            ctx["aws:PrincipalType"] = "AssumedRole"
            ctx["aws:userid"] = f"{self.id}:rolecall-audit"
        if mfa:
            ctx["aws:MultiFactorAuthPresent"] = "true"
        for key, value in self.tags.items():
            ctx[f"aws:PrincipalTag/{key}"] = value
        return ctx


@dataclass
class ManagedPolicy:
    arn: str
    name: str
    policy: Policy | None
    version_count: int
    attachments: int = 0


@dataclass
class Function:
    """A Lambda function and its execution role (from `aws lambda list-functions`)."""

    arn: str
    name: str
    role: str


@dataclass
class Account:
    id: str
    principals: list[Principal]
    groups: dict[str, Group]
    managed: dict[str, ManagedPolicy]
    scps: list[tuple[Policy, ...]] = field(default_factory=list)  # one tuple per organization level
    functions: list[Function] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # policies that could not be read, and why

    def by_arn(self) -> dict[str, Principal]:
        return {p.arn: p for p in self.principals}


def decode_document(value: Any) -> dict[str, Any] | str:
    """A policy document as the export holds it: a JSON object (the AWS CLI and boto3 decode them) or
    the URL-encoded JSON text IAM sends over the wire."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = value.strip()
        return text if text.startswith("{") else unquote(text)
    raise AccountError(f"a policy document must be a JSON object or a string, not {type(value).__name__}")


def _tags(entry: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in entry.get("Tags") or [] if "Key" in t and "Value" in t}


def _merge_pages(data: Any) -> dict[str, list[Any]]:
    pages = data if isinstance(data, list) else [data]
    merged: dict[str, list[Any]] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    for page in pages:
        if not isinstance(page, dict) or not any(k in page for k in merged):
            raise AccountError(
                "not a GetAccountAuthorizationDetails document: expected UserDetailList, GroupDetailList, "
                "RoleDetailList and Policies (the output of `aws iam get-account-authorization-details`)"
            )
        for key in merged:
            merged[key].extend(page.get(key) or [])
    return merged


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def compile(self, document: Any, kind: str, name: str) -> Policy | None:
        try:
            source = decode_document(document)
            if isinstance(source, dict):
                # Already JSON-decoded (the AWS CLI's form). IAM validated every document of an export when
                # it was written, so it is compiled as it is: re-serializing and re-validating 50,000
                # documents would more than double the cost of reading a large account. Only the shape the
                # compiler relies on is checked.
                statements = source.get("Statement")
                if isinstance(statements, dict):
                    statements = [statements]
                if not isinstance(statements, list) or not all(isinstance(st, dict) for st in statements):
                    raise AccountError("the document has no Statement list")
                return Policy("", source, kind, name)
            return Policy.parse(source, kind=kind, name=name, max_size=NO_LIMIT)
        except (MalformedPolicy, AccountError, ValueError, TypeError, AttributeError, KeyError) as exc:
            self.problems.append(f"{name}: {exc}")
            return None


def load_account(
    data: Any,
    *,
    scps: Iterable[Iterable[Any]] = (),
    functions: Iterable[Mapping[str, Any]] = (),
    managed_lookup: ManagedLookup | None = None,
) -> Account:
    """Build the Account from GetAccountAuthorizationDetails output (one document or a list of pages).

    scps: one iterable of policy documents per organization level (each level must allow).
    functions: Lambda FunctionConfiguration dicts (FunctionArn, FunctionName, Role).
    managed_lookup: a managed policy ARN -> its default version's text, for attached policies the export
    left out (an export filtered by --filter, or AWS managed policies).
    """
    details = _merge_pages(data)
    compiler = _Compiler()
    managed: dict[str, ManagedPolicy] = {}
    for entry in details["Policies"]:
        arn, name = entry.get("Arn", ""), entry.get("PolicyName", "")
        versions = entry.get("PolicyVersionList") or []
        default = next((v for v in versions if v.get("IsDefaultVersion")), None)
        policy = None
        if default is not None and "Document" in default:
            policy = compiler.compile(default["Document"], "identity", name or arn)
        managed[arn] = ManagedPolicy(arn, name, policy, len(versions), int(entry.get("AttachmentCount") or 0))

    def managed_policy(arn: str) -> Policy | None:
        found = managed.get(arn)
        if found is None:
            text = managed_lookup(arn) if managed_lookup else None
            policy = compiler.compile(text, "identity", arn.rsplit("/", 1)[-1]) if text else None
            if text is None:
                compiler.problems.append(f"{arn}: attached but not in the export; left out")
            found = managed[arn] = ManagedPolicy(arn, arn.rsplit("/", 1)[-1], policy, 1)
        return found.policy

    def inline(entries: Iterable[Mapping[str, Any]], owner: str) -> list[Policy]:
        out = []
        for item in entries:
            p = compiler.compile(
                item.get("PolicyDocument"), "identity", f"{owner} inline {item.get('PolicyName')}"
            )
            if p is not None:
                out.append(p)
        return out

    def attached(entry: Mapping[str, Any]) -> tuple[list[Policy], list[str]]:
        arns = [a["PolicyArn"] for a in entry.get("AttachedManagedPolicies") or [] if "PolicyArn" in a]
        return [p for p in (managed_policy(a) for a in arns) if p is not None], arns

    def boundary(entry: Mapping[str, Any]) -> Policy | None:
        arn = (entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if not arn:
            return None
        policy = managed_policy(arn)
        if policy is None:
            return None
        # The same document as a boundary is a different layer: compile it as such (once per ARN).
        found = _boundaries.get(arn)
        if found is None:
            found = _boundaries[arn] = Policy("", policy.document, "boundary", policy.name)
        return found

    _boundaries: dict[str, Policy] = {}
    groups: dict[str, Group] = {}
    for entry in details["GroupDetailList"]:
        name = entry["GroupName"]
        policies, arns = attached(entry)
        groups[name] = Group(
            name, entry["Arn"], inline(entry.get("GroupPolicyList") or [], f"group/{name}") + policies, arns
        )

    principals: list[Principal] = []
    account_id = ""
    for entry in details["UserDetailList"]:
        name, arn = entry["UserName"], entry["Arn"]
        account_id = account_id or arn.split(":")[4]
        own, arns = attached(entry)
        policies = inline(entry.get("UserPolicyList") or [], f"user/{name}") + own
        all_managed = set(arns)
        names = tuple(entry.get("GroupList") or [])
        for g in names:
            group = groups.get(g)
            if group is not None:
                policies += group.policies
                all_managed.update(group.managed)
                group.members.append(arn)
        principals.append(
            Principal(
                "user",
                name,
                arn,
                arn.split(":")[4],
                entry.get("UserId", name),
                tuple(policies),
                boundary=boundary(entry),
                groups=names,
                managed=frozenset(all_managed),
                created=str(entry.get("CreateDate") or "") or None,
                tags=_tags(entry),
            )
        )
    for entry in details["RoleDetailList"]:
        name, arn = entry["RoleName"], entry["Arn"]
        account_id = account_id or arn.split(":")[4]
        own, arns = attached(entry)
        policies = inline(entry.get("RolePolicyList") or [], f"role/{name}") + own
        trust = compiler.compile(
            entry.get("AssumeRolePolicyDocument"), "trust", f"trust policy of role/{name}"
        )
        last = (entry.get("RoleLastUsed") or {}).get("LastUsedDate")
        linked = (entry.get("Path") or "").startswith("/aws-service-role/")
        principals.append(
            Principal(
                "role",
                name,
                arn,
                arn.split(":")[4],
                entry.get("RoleId", name),
                tuple(policies),
                boundary=boundary(entry),
                managed=frozenset(arns),
                trust=trust,
                instance_profiles=tuple(p.get("Arn", "") for p in entry.get("InstanceProfileList") or []),
                last_used=str(last) if last else None,
                created=str(entry.get("CreateDate") or "") or None,
                tags=_tags(entry),
                service_linked=linked,
                scp_exempt=linked,
            )
        )
    levels: list[tuple[Policy, ...]] = []
    for level in scps:
        compiled = [
            compiler.compile(doc, "scp", f"SCP {i + 1} of level {len(levels) + 1}")
            for i, doc in enumerate(level)
        ]
        levels.append(tuple(p for p in compiled if p is not None))
    funcs = [
        Function(f["FunctionArn"], f.get("FunctionName", ""), f["Role"])
        for f in functions
        if f.get("FunctionArn") and f.get("Role")
    ]
    return Account(account_id, principals, groups, managed, levels, funcs, compiler.problems)
