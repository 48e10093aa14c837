"""Managed policies: customer managed policies with their versions and tags, AWS managed policies
(read-only, the same in every account), and their attachment to users, groups and roles.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from rolecall import ids
from rolecall.authz.managed import aws_managed_policy_versions, is_aws_managed_arn, list_aws_managed_policies
from rolecall.authz.principals import (
    managed_policy_record,
    parse_policy_arn,
)
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import AccessDenied
from rolecall.services.iam.common import (
    arn_of,
    check_modifiable,
    entity_arn,
    entity_context,
    get_entity,
    insert_entity,
    iso_now,
    merge_tags,
    paginate,
    path_matches,
    policy_path,
    remove_tags,
    request_tag_context,
    resource_tag_context,
    touched,
    url_encode_document,
    validate_tags,
)
from rolecall.services.iam.errors import (
    DeleteConflict,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    PolicyNotAttachable,
)

if TYPE_CHECKING:
    from rolecall.store import Tx
from rolecall.services.iam.policy_documents import (
    MANAGED_POLICY_SIZE,
    NAME_MEMBER,
    document_size,
    validate_identity_policy,
)

MAX_VERSIONS = 5
MAX_ATTACHED = 10  # managed policies per user, group or role (AWS's default quota)
ATTACH_QUOTA_NAME = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}


# ---------------------------------------------------------------- @operation resolvers


def _policy_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return params["PolicyArn"]


def _new_policy_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return entity_arn(ctx.account, "policy", params.get("Path") or "/", params["PolicyName"])


def _policy_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """The policy's own tags (aws:ResourceTag/...) and any tags the request sets."""
    context = request_tag_context(params)
    parsed = parse_policy_arn(params.get("PolicyArn") or "")
    if parsed and parsed[0] == ctx.account and getattr(ctx, "tx", None) is not None:
        context.update(resource_tag_context(ctx.tx.get(ctx.account, "policy", parsed[2])))
    return context


def _attach_context(kind: str):
    tags = entity_context(kind)

    def resolve(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        context = tags(ctx, params)
        context["iam:PolicyARN"] = params["PolicyArn"]
        return context

    return resolve


# ---------------------------------------------------------------- shapes


def boundary_shape(doc: dict[str, Any]) -> dict[str, str] | None:
    boundary = doc.get("PermissionsBoundary") or {}
    if not boundary.get("PermissionsBoundaryArn"):
        return None
    return {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary["PermissionsBoundaryArn"],
    }


def _attachable(record: dict[str, Any]) -> bool:
    # Policies for service-linked roles can only be used by those roles, which AWS attaches itself.
    return not (is_aws_managed_arn(record["Arn"]) and record["Path"].startswith("/aws-service-role/"))


def policy_shape(record: dict[str, Any], usage: Usage, *, description: bool, tags: bool) -> dict[str, Any]:
    out = {
        "PolicyName": record["PolicyName"],
        "PolicyId": record["PolicyId"],
        "Arn": record["Arn"],
        "Path": record["Path"],
        "DefaultVersionId": record["DefaultVersionId"],
        "AttachmentCount": usage.attachments[record["Arn"]],
        "PermissionsBoundaryUsageCount": usage.boundaries[record["Arn"]],
        "IsAttachable": _attachable(record),
    }
    if description and record.get("Description"):
        out["Description"] = record["Description"]
    out["CreateDate"] = record["CreateDate"]
    out["UpdateDate"] = record["UpdateDate"]
    if tags and record.get("Tags"):
        out["Tags"] = [dict(t) for t in record["Tags"]]
    return out


def versions(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every version of a managed policy: a stored one carries its own, AWS's come from the snapshot."""
    if "Versions" in record:
        return record["Versions"]
    return aws_managed_policy_versions(record["Arn"]) or []


def detail_versions(record: dict[str, Any]) -> list[dict[str, Any]]:
    """GetAccountAuthorizationDetails' versions: an AWS managed policy shows its default one alone (as it
    did before the snapshot had older ones: ReadOnlyAccess alone has over a hundred)."""
    if "Versions" in record:
        return record["Versions"]
    return [
        {
            "VersionId": record["DefaultVersionId"],
            "Document": record["Document"],
            "CreateDate": record["UpdateDate"],
        }
    ]


def version_shape(record: dict[str, Any], version: dict[str, Any], *, document: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if document:
        out["Document"] = url_encode_document(version["Document"])
    out["VersionId"] = version["VersionId"]
    out["IsDefaultVersion"] = version["VersionId"] == record["DefaultVersionId"]
    out["CreateDate"] = version["CreateDate"]
    return out


class Usage:
    """How often each managed policy is used in an account, as a permissions policy and as a boundary."""

    def __init__(self, tx: Tx | None, account: str = ""):
        self.attachments: Counter[str] = Counter()
        self.boundaries: Counter[str] = Counter()
        if tx is None:
            return
        for kind in ("user", "group", "role"):
            for doc in tx.list(account, kind):
                self.attachments.update(set(doc.get("AttachedPolicies") or []))
                boundary = (doc.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
                if boundary:
                    self.boundaries[boundary] += 1

    @classmethod
    def none(cls) -> Usage:
        return cls(None)


# ---------------------------------------------------------------- lookups


def _check_arn(arn: str) -> None:
    if parse_policy_arn(arn) is None:
        raise InvalidInput(f"ARN {arn} is not valid.")


def _find_policy(ctx: OpContext, arn: str) -> dict[str, Any]:
    """A managed policy the caller's account can see (its own or AWS's) -> its record; else NoSuchEntity."""
    _check_arn(arn)
    record = managed_policy_record(ctx.tx, ctx.account, arn)
    if record is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return record


def _own_policy(ctx: OpContext, arn: str, action: str) -> dict[str, Any]:
    """A customer managed policy the request may change; AWS managed policies belong to AWS."""
    record = _find_policy(ctx, arn)
    if is_aws_managed_arn(arn):
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: iam:{action} on resource: policy {arn}"
            " because AWS managed policies can only be changed by AWS"
        )
    return record


def _find_version(record: dict[str, Any], version_id: str) -> dict[str, Any]:
    for version in versions(record):
        if version["VersionId"] == version_id:
            return version
    raise NoSuchEntity(f"Policy {record['Arn']} version {version_id} does not exist or is not attachable.")


def _attach(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["PolicyArn"]
    doc = get_entity(ctx.tx, ctx.account, kind, params[NAME_MEMBER[kind]])
    if kind == "role":
        check_modifiable(doc)
    _check_arn(arn)
    record = managed_policy_record(ctx.tx, ctx.account, arn)
    if record is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    if not _attachable(record):
        raise PolicyNotAttachable(f"Cannot attach a Service Role Policy to a Customer {kind.capitalize()}.")
    attached = list(doc.get("AttachedPolicies") or [])
    if record["Arn"] in attached:
        return {}  # attaching again changes nothing, as in IAM
    if len(attached) >= MAX_ATTACHED:
        raise LimitExceeded(f"Cannot exceed quota for {ATTACH_QUOTA_NAME[kind]}: {MAX_ATTACHED}")
    attached.append(record["Arn"])
    doc["AttachedPolicies"] = attached
    ctx.tx.update(ctx.account, kind, doc[NAME_MEMBER[kind]], doc)
    touched(ctx, kind, doc["Arn"])
    return {}


def _detach(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["PolicyArn"]
    doc = get_entity(ctx.tx, ctx.account, kind, params[NAME_MEMBER[kind]])
    if kind == "role":
        check_modifiable(doc)
    _check_arn(arn)
    attached = list(doc.get("AttachedPolicies") or [])
    if arn not in attached:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    attached.remove(arn)
    doc["AttachedPolicies"] = attached
    ctx.tx.update(ctx.account, kind, doc[NAME_MEMBER[kind]], doc)
    touched(ctx, kind, doc["Arn"])
    return {}


def _list_attached(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_entity(ctx.tx, ctx.account, kind, params[NAME_MEMBER[kind]])
    out = []
    for arn in doc.get("AttachedPolicies") or []:
        record = managed_policy_record(ctx.tx, ctx.account, arn)
        if record is not None and path_matches(record["Path"], params.get("PathPrefix")):
            out.append({"PolicyName": record["PolicyName"], "PolicyArn": arn})
    return paginate(out, params, "AttachedPolicies")


class ManagedPolicyOperations(Family):
    # ------------------------------------------------------------ attachments

    @operation("iam:AttachUserPolicy", arn_of("user"), _attach_context("user"))
    def AttachUserPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _attach(ctx, "user", params)

    @operation("iam:AttachGroupPolicy", arn_of("group"), _attach_context("group"))
    def AttachGroupPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _attach(ctx, "group", params)

    @operation("iam:AttachRolePolicy", arn_of("role"), _attach_context("role"))
    def AttachRolePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _attach(ctx, "role", params)

    @operation("iam:DetachUserPolicy", arn_of("user"), _attach_context("user"))
    def DetachUserPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _detach(ctx, "user", params)

    @operation("iam:DetachGroupPolicy", arn_of("group"), _attach_context("group"))
    def DetachGroupPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _detach(ctx, "group", params)

    @operation("iam:DetachRolePolicy", arn_of("role"), _attach_context("role"))
    def DetachRolePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _detach(ctx, "role", params)

    @operation("iam:ListAttachedUserPolicies", arn_of("user"), entity_context("user"))
    def ListAttachedUserPolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _list_attached(ctx, "user", params)

    @operation("iam:ListAttachedGroupPolicies", arn_of("group"))
    def ListAttachedGroupPolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _list_attached(ctx, "group", params)

    @operation("iam:ListAttachedRolePolicies", arn_of("role"), entity_context("role"))
    def ListAttachedRolePolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _list_attached(ctx, "role", params)

    # ------------------------------------------------------------ customer managed policies

    @operation("iam:CreatePolicy", _new_policy_arn, _policy_context)
    def CreatePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path, text = params["PolicyName"], params.get("Path") or "/", params["PolicyDocument"]
        tags = validate_tags(params.get("Tags"))
        arn = entity_arn(ctx.account, "policy", path, name)
        if document_size(text) > MANAGED_POLICY_SIZE:
            raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        validate_identity_policy(text, arn, managed=True)
        now = iso_now(ctx)
        doc: dict[str, Any] = {
            "PolicyName": name,
            "PolicyId": ids.unique_id(ids.MANAGED_POLICY),
            "Arn": arn,
            "Path": path,
            "CreateDate": now,
            "UpdateDate": now,
            "DefaultVersionId": "v1",
            "Versions": [{"VersionId": "v1", "Document": text, "CreateDate": now}],
            "NextVersion": 2,
            "Tags": tags,
        }
        if params.get("Description"):
            doc["Description"] = params["Description"]
        insert_entity(
            ctx.tx,
            ctx.account,
            "policy",
            name,
            doc,
            doc["PolicyId"],
            f"A policy called {name} already exists. Duplicate names are not allowed.",
        )
        touched(ctx, "policy", arn)
        # CreatePolicy's answer leaves the Description out, as IAM's does; GetPolicy shows it.
        return {"Policy": policy_shape(doc, Usage.none(), description=False, tags=True)}

    @operation("iam:GetPolicy", _policy_arn, _policy_context)
    def GetPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        record = _find_policy(ctx, params["PolicyArn"])
        shape = policy_shape(record, Usage(ctx.tx, ctx.account), description=True, tags=True)
        return {"Policy": {**shape, "Tags": shape.get("Tags", [])}}  # an empty list when untagged, as IAM's

    @operation("iam:ListPolicies", policy_path)
    def ListPolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = params.get("Scope") or "All"
        usage = Usage(ctx.tx, ctx.account)
        records: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            records += list_aws_managed_policies()
        if scope in ("All", "Local"):
            records += ctx.tx.list(ctx.account, "policy")
        records.sort(key=listing_key)
        usage_filter = params.get("PolicyUsageFilter")
        out = []
        for record in records:
            arn = record["Arn"]
            if not path_matches(record["Path"], params.get("PathPrefix")):
                continue
            if usage_filter == "PermissionsBoundary" and not usage.boundaries[arn]:
                continue
            if (
                params.get("OnlyAttached")
                and usage_filter != "PermissionsBoundary"
                and not usage.attachments[arn]
            ):
                continue
            out.append(policy_shape(record, usage, description=False, tags=False))
        return paginate(out, params, "Policies", cursor=listing_key)

    @operation("iam:DeletePolicy", _policy_arn, _policy_context)
    def DeletePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicyArn"]
        record = _own_policy(ctx, arn, "DeletePolicy")
        usage = Usage(ctx.tx, ctx.account)
        if usage.attachments[arn] or usage.boundaries[arn]:
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        if len(record["Versions"]) > 1:
            raise DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the"
                " policy's versions. The default version is deleted with the policy."
            )
        ctx.tx.delete(ctx.account, "policy", record["PolicyName"])
        touched(ctx, "policy", arn)
        return {}

    # ------------------------------------------------------------ versions

    @operation("iam:CreatePolicyVersion", _policy_arn, _policy_context)
    def CreatePolicyVersion(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn, text = params["PolicyArn"], params["PolicyDocument"]
        record = _own_policy(ctx, arn, "CreatePolicyVersion")
        if document_size(text) > MANAGED_POLICY_SIZE:
            raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        validate_identity_policy(text, arn, managed=True)
        if len(record["Versions"]) >= MAX_VERSIONS:
            raise LimitExceeded(
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version,"
                " you must delete an existing version."
            )
        now = iso_now(ctx)
        number = record.get("NextVersion") or len(record["Versions"]) + 1
        version = {"VersionId": f"v{number}", "Document": text, "CreateDate": now}
        record["Versions"] = [*record["Versions"], version]
        record["NextVersion"] = number + 1
        record["UpdateDate"] = now  # IAM: the creation time of the policy's newest version
        if params.get("SetAsDefault"):
            record["DefaultVersionId"] = version["VersionId"]
        ctx.tx.update(ctx.account, "policy", record["PolicyName"], record)
        touched(ctx, "policy", arn)
        return {"PolicyVersion": version_shape(record, version, document=False)}

    @operation("iam:GetPolicyVersion", _policy_arn, _policy_context)
    def GetPolicyVersion(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        record = _find_policy(ctx, params["PolicyArn"])
        version = _find_version(record, params["VersionId"])
        return {"PolicyVersion": version_shape(record, version, document=True)}

    @operation("iam:ListPolicyVersions", _policy_arn, _policy_context)
    def ListPolicyVersions(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        record = _find_policy(ctx, params["PolicyArn"])
        newest_first = sorted(
            versions(record), key=lambda v: int(v["VersionId"][1:].split(".")[0]), reverse=True
        )
        return paginate([version_shape(record, v, document=False) for v in newest_first], params, "Versions")

    @operation("iam:DeletePolicyVersion", _policy_arn, _policy_context)
    def DeletePolicyVersion(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicyArn"]
        record = _own_policy(ctx, arn, "DeletePolicyVersion")
        version = _find_version(record, params["VersionId"])
        if version["VersionId"] == record["DefaultVersionId"]:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        record["Versions"] = [v for v in record["Versions"] if v["VersionId"] != version["VersionId"]]
        ctx.tx.update(ctx.account, "policy", record["PolicyName"], record)
        touched(ctx, "policy", arn)
        return {}

    @operation("iam:SetDefaultPolicyVersion", _policy_arn, _policy_context)
    def SetDefaultPolicyVersion(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicyArn"]
        record = _own_policy(ctx, arn, "SetDefaultPolicyVersion")
        version = _find_version(record, params["VersionId"])
        record["DefaultVersionId"] = version["VersionId"]
        ctx.tx.update(ctx.account, "policy", record["PolicyName"], record)
        touched(ctx, "policy", arn)
        return {}

    # ------------------------------------------------------------ tags

    @operation("iam:TagPolicy", _policy_arn, _policy_context)
    def TagPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicyArn"]
        record = _own_policy(ctx, arn, "TagPolicy")
        record["Tags"] = merge_tags(record.get("Tags") or [], params["Tags"], "TagsPerPolicy")
        ctx.tx.update(ctx.account, "policy", record["PolicyName"], record)
        touched(ctx, "policy", arn)
        return {}

    @operation("iam:UntagPolicy", _policy_arn, _policy_context)
    def UntagPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicyArn"]
        record = _own_policy(ctx, arn, "UntagPolicy")
        record["Tags"] = remove_tags(record.get("Tags") or [], params["TagKeys"])
        ctx.tx.update(ctx.account, "policy", record["PolicyName"], record)
        touched(ctx, "policy", arn)
        return {}

    @operation("iam:ListPolicyTags", _policy_arn, _policy_context)
    def ListPolicyTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        record = _find_policy(ctx, params["PolicyArn"])
        return paginate([dict(t) for t in record.get("Tags") or []], params, "Tags")

    # ------------------------------------------------------------ who uses a policy

    @operation("iam:ListEntitiesForPolicy", _policy_arn, _policy_context)
    def ListEntitiesForPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["PolicyArn"]
        _find_policy(ctx, arn)
        wanted = params.get("EntityFilter")
        usage_filter = params.get("PolicyUsageFilter")
        found: list[tuple[str, dict[str, str]]] = []
        for kind, member, id_member, out_key in (
            ("group", "GroupName", "GroupId", "PolicyGroups"),
            ("user", "UserName", "UserId", "PolicyUsers"),
            ("role", "RoleName", "RoleId", "PolicyRoles"),
        ):
            if wanted and wanted != kind.capitalize():
                continue
            for doc in ctx.tx.list(ctx.account, kind):
                if not path_matches(doc.get("Path") or "/", params.get("PathPrefix")):
                    continue
                as_policy = arn in (doc.get("AttachedPolicies") or [])
                as_boundary = (doc.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") == arn
                if usage_filter == "PermissionsPolicy":
                    used = as_policy
                elif usage_filter == "PermissionsBoundary":
                    used = as_boundary
                else:
                    used = as_policy or as_boundary
                if used:
                    found.append((out_key, {member: doc[member], id_member: doc[id_member]}))
        page = paginate(found, params, "_found")
        out: dict[str, Any] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
        for out_key, entry in page.pop("_found"):
            out[out_key].append(entry)
        out.update(page)
        return out


def listing_key(record: dict[str, Any]) -> str:
    """ListPolicies' order: by name, an AWS managed policy before a customer one of the same name.
    (Short, so the pagination marker stays within the model's 320 characters.)"""
    return f"{record['PolicyName'].lower()} {0 if is_aws_managed_arn(record['Arn']) else 1}"
