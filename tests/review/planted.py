"""Build GetAccountAuthorizationDetails documents for planted accounts, the shape the AWS CLI prints."""

from __future__ import annotations

from typing import Any

ACCOUNT = "111122223333"
ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def allow(
    actions: str | list[str], resource: str | list[str] = "*", condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust(
    principal: dict[str, Any] | str, condition: dict[str, Any] | None = None, action: str = "sts:AssumeRole"
) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        st["Condition"] = condition
    return doc(st)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


class Planted:
    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []

    def user(
        self,
        name: str,
        *inline: dict[str, Any],
        groups: tuple[str, ...] = (),
        boundary: str | None = None,
        managed: tuple[str, ...] = (),
    ) -> str:
        entry: dict[str, Any] = {
            "Path": "/",
            "UserName": name,
            "UserId": f"AIDA{name.upper()}",
            "Arn": arn("user", name),
            "CreateDate": "2024-01-01T00:00:00Z",
            "UserPolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
            "GroupList": list(groups),
            "AttachedManagedPolicies": [
                {"PolicyName": m.rsplit("/", 1)[-1], "PolicyArn": m} for m in managed
            ],
            "Tags": [],
        }
        if boundary:
            entry["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": boundary,
            }
        self.users.append(entry)
        return entry["Arn"]

    def role(
        self,
        name: str,
        trust_doc: dict[str, Any],
        *inline: dict[str, Any],
        managed: tuple[str, ...] = (),
        profile: bool = False,
        last_used: str | None = "2026-12-01T00:00:00Z",
        boundary: str | None = None,
        path: str = "/",
    ) -> str:
        entry: dict[str, Any] = {
            "Path": path,
            "RoleName": name,
            "RoleId": f"AROA{name.upper()}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
            "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": trust_doc,
            "InstanceProfileList": [{"Arn": arn("instance-profile", name), "InstanceProfileName": name}]
            if profile
            else [],
            "RolePolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
            "AttachedManagedPolicies": [
                {"PolicyName": m.rsplit("/", 1)[-1], "PolicyArn": m} for m in managed
            ],
            "Tags": [],
            "RoleLastUsed": {"LastUsedDate": last_used} if last_used else {},
        }
        if boundary:
            entry["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": boundary,
            }
        self.roles.append(entry)
        return entry["Arn"]

    def group(self, name: str, *inline: dict[str, Any], managed: tuple[str, ...] = ()) -> str:
        entry = {
            "Path": "/",
            "GroupName": name,
            "GroupId": f"AGPA{name.upper()}",
            "Arn": arn("group", name),
            "CreateDate": "2024-01-01T00:00:00Z",
            "GroupPolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
            "AttachedManagedPolicies": [
                {"PolicyName": m.rsplit("/", 1)[-1], "PolicyArn": m} for m in managed
            ],
        }
        self.groups.append(entry)
        return entry["Arn"]

    def policy(self, name: str, document: dict[str, Any], versions: int = 1) -> str:
        parn = arn("policy", name)
        self.policies.append(
            {
                "PolicyName": name,
                "PolicyId": f"ANPA{name.upper()}",
                "Arn": parn,
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 1,
                "IsAttachable": True,
                "PolicyVersionList": [
                    {
                        "Document": document if v == 1 else doc(allow("s3:GetObject")),
                        "VersionId": f"v{v}",
                        "IsDefaultVersion": v == 1,
                    }
                    for v in range(1, versions + 1)
                ],
            }
        )
        return parn

    def details(self) -> dict[str, Any]:
        return {
            "UserDetailList": self.users,
            "GroupDetailList": self.groups,
            "RoleDetailList": self.roles,
            "Policies": self.policies,
        }
