"""The account as a whole: GetAccountSummary (what it holds, against its quotas) and
GetAccountAuthorizationDetails (every user, group, role and policy in one snapshot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rolecall.authz.managed import list_aws_managed_policies
from rolecall.authz.principals import (
    managed_policy_record,
)
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.credentials.mfa_devices import KIND as MFA_KIND
from rolecall.services.iam.common import (
    paginate,
    role_shape,
    url_encode_document,
)

if TYPE_CHECKING:
    from rolecall.store import Tx
from rolecall.services.iam.access_keys import ACCESS_KEYS_PER_USER
from rolecall.services.iam.groups import GROUPS_PER_USER
from rolecall.services.iam.managed_policies import (
    Usage,
    boundary_shape,
    detail_versions,
    listing_key,
    policy_shape,
    version_shape,
)
from rolecall.services.iam.roles import TRUST_POLICY_QUOTA

# AWS's default IAM quotas, as GetAccountSummary reports them.
SUMMARY_QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "ServerCertificatesQuota": 20,
    "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
    "SigningCertificatesPerUserQuota": 2,
    "GroupsPerUserQuota": GROUPS_PER_USER,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "PolicySizeQuota": 6144,
    "AssumeRolePolicySizeQuota": TRUST_POLICY_QUOTA,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "VersionsPerPolicyQuota": 5,
    "PolicyVersionsInUseQuota": 10000,
    "GlobalEndpointTokenVersion": 1,
}


class AccountOperations(Family):
    @operation("iam:GetAccountSummary")
    def GetAccountSummary(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        tx, account = ctx.tx, ctx.account
        users, groups, roles = tx.list(account, "user"), tx.list(account, "group"), tx.list(account, "role")
        policies = tx.list(account, "policy")
        attachments = sum(len(e.get("AttachedPolicies") or []) for e in (*users, *groups, *roles))
        root_keys = [k for k in tx.list(account, "access_key") if k.get("UserName") is None]
        devices = tx.list(account, MFA_KIND)
        summary = {
            "Users": len(users),
            "Groups": len(groups),
            "Roles": len(roles),
            "Policies": len(policies),
            "InstanceProfiles": len(tx.list(account, "instance_profile")),
            "PolicyVersionsInUse": attachments,
            "Providers": 0,
            "ServerCertificates": len(tx.list(account, "server_certificate")),
            "MFADevices": len(devices),  # assigned or not
            "MFADevicesInUse": sum(1 for d in devices if d.get("UserName")),
            "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": 1 if root_keys else 0,
            "AccountPasswordPresent": 0,
            "AccountSigningCertificatesPresent": int(
                any(not c.get("UserName") for c in tx.list(account, "signing_certificate"))
            ),
            **SUMMARY_QUOTAS,
        }
        return {"SummaryMap": summary}

    @operation("iam:GetAccountAuthorizationDetails")
    def GetAccountAuthorizationDetails(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(
            params.get("Filter") or ("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")
        )
        tx, account = ctx.tx, ctx.account
        usage = Usage(tx, account)
        items: list[tuple[str, dict[str, Any]]] = []
        if "User" in wanted:
            items += [("UserDetailList", _user_detail(tx, account, d)) for d in tx.list(account, "user")]
        if "Group" in wanted:
            items += [("GroupDetailList", _group_detail(tx, account, d)) for d in tx.list(account, "group")]
        if "Role" in wanted:
            profiles = tx.list(account, "instance_profile")
            items += [
                ("RoleDetailList", _role_detail(tx, account, d, profiles)) for d in tx.list(account, "role")
            ]
        policies: list[dict[str, Any]] = []
        if "AWSManagedPolicy" in wanted:
            # AWS's own policies appear when the account uses them, not all ~1,500 of them.
            used = set(usage.attachments) | set(usage.boundaries)
            policies += [r for r in list_aws_managed_policies() if r["Arn"] in used]
        if "LocalManagedPolicy" in wanted:
            policies += tx.list(account, "policy")
        policies.sort(key=listing_key)
        for record in policies:
            if "Document" not in record and "Versions" not in record:
                record = managed_policy_record(tx, account, record["Arn"]) or record
            detail = policy_shape(record, usage, description=True, tags=False)
            detail["PolicyVersionList"] = [
                version_shape(record, v, document=True) for v in detail_versions(record)
            ]
            items.append(("Policies", detail))
        page = paginate(items, params, "_items")
        out: dict[str, Any] = {
            "UserDetailList": [],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
        }
        for key, entry in page.pop("_items"):
            out[key].append(entry)
        out.update(page)
        return out


def _inline_list(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"PolicyName": name, "PolicyDocument": url_encode_document(text)}
        for name, text in sorted((doc.get("InlinePolicies") or {}).items(), key=lambda kv: kv[0].lower())
    ]


def _attached_list(tx: Tx, account: str, doc: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for arn in doc.get("AttachedPolicies") or []:
        record = managed_policy_record(tx, account, arn)
        if record is not None:
            out.append({"PolicyName": record["PolicyName"], "PolicyArn": arn})
    return out


def _user_detail(tx: Tx, account: str, doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: doc[k] for k in ("Path", "UserName", "UserId", "Arn", "CreateDate")}
    out["UserPolicyList"] = _inline_list(doc)
    out["GroupList"] = list(doc.get("Groups") or [])
    out["AttachedManagedPolicies"] = _attached_list(tx, account, doc)
    boundary = boundary_shape(doc)
    if boundary:
        out["PermissionsBoundary"] = boundary
    out["Tags"] = [dict(t) for t in doc.get("Tags") or []]
    return out


def _group_detail(tx: Tx, account: str, doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: doc[k] for k in ("Path", "GroupName", "GroupId", "Arn", "CreateDate")}
    out["GroupPolicyList"] = _inline_list(doc)
    out["AttachedManagedPolicies"] = _attached_list(tx, account, doc)
    return out


def _role_detail(tx: Tx, account: str, doc: dict[str, Any], profiles: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: doc[k] for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate")}
    out["AssumeRolePolicyDocument"] = url_encode_document(doc["AssumeRolePolicyDocument"])
    out["InstanceProfileList"] = [
        _profile_shape(tx, account, p) for p in profiles if doc["RoleName"] in (p.get("Roles") or [])
    ]
    out["RolePolicyList"] = _inline_list(doc)
    out["AttachedManagedPolicies"] = _attached_list(tx, account, doc)
    boundary = boundary_shape(doc)
    if boundary:
        out["PermissionsBoundary"] = boundary
    out["Tags"] = [dict(t) for t in doc.get("Tags") or []]
    out["RoleLastUsed"] = dict(doc.get("RoleLastUsed") or {})
    return out


def _profile_shape(tx: Tx, account: str, profile: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: profile[k] for k in ("Path", "InstanceProfileName", "InstanceProfileId", "Arn", "CreateDate")
    }
    roles = [tx.get(account, "role", name) for name in profile.get("Roles") or []]
    out["Roles"] = [role_shape(r) for r in roles if r is not None]
    if profile.get("Tags"):
        out["Tags"] = [dict(t) for t in profile["Tags"]]
    return out
