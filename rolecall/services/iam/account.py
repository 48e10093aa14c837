"""The entity half of the IAM API: users, access keys, console passwords, groups, roles (with
service-linked roles) and instance profiles, plus the account summary that counts them.

Each family lives in its own module; this mixin gathers them for rolecall.services.iam.service.IAM.
"""

from __future__ import annotations

from typing import Any

from rolecall.core.operations import OpContext, operation
from rolecall.services.iam.access_keys import ACCESS_KEYS_PER_USER, AccessKeyOperations
from rolecall.services.iam.groups import GROUPS_PER_USER, GroupOperations
from rolecall.services.iam.instance_profiles import InstanceProfileOperations
from rolecall.services.iam.roles import TRUST_POLICY_QUOTA, RoleOperations
from rolecall.services.iam.users import UserOperations

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


class EntityOperations(
    UserOperations,
    AccessKeyOperations,
    GroupOperations,
    RoleOperations,
    InstanceProfileOperations,
):
    @operation("iam:GetAccountSummary")
    def GetAccountSummary(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        tx, account = ctx.tx, ctx.account
        users, groups, roles = tx.list(account, "user"), tx.list(account, "group"), tx.list(account, "role")
        policies = tx.list(account, "policy")
        attachments = sum(len(e.get("AttachedPolicies") or []) for e in (*users, *groups, *roles))
        root_keys = [k for k in tx.list(account, "access_key") if k.get("UserName") is None]
        summary = {
            "Users": len(users),
            "Groups": len(groups),
            "Roles": len(roles),
            "Policies": len(policies),
            "InstanceProfiles": len(tx.list(account, "instance_profile")),
            "PolicyVersionsInUse": attachments,
            "Providers": 0,
            "ServerCertificates": 0,
            "MFADevices": 0,
            "MFADevicesInUse": 0,
            "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": 1 if root_keys else 0,
            "AccountPasswordPresent": 0,
            "AccountSigningCertificatesPresent": 0,
            **SUMMARY_QUOTAS,
        }
        return {"SummaryMap": summary}
