"""The IAM account's summary, in process."""

from __future__ import annotations

import json

from rolecall.errors import AccessDenied
from tests.services.iam.helpers import TRUST_EC2, allow, decoded, doc, no_allow


def test_account_summary(checked, call):
    call("CreateUser", UserName="s1")
    call("CreateGroup", GroupName="sg")
    call("CreateRole", RoleName="sr", AssumeRolePolicyDocument=TRUST_EC2)
    call("CreateInstanceProfile", InstanceProfileName="sp")
    summary = checked("GetAccountSummary")["SummaryMap"]
    assert (summary["Users"], summary["Groups"], summary["Roles"], summary["InstanceProfiles"]) == (
        1,
        1,
        1,
        1,
    )
    assert summary["AccessKeysPerUserQuota"] == 2 and summary["AccountAccessKeysPresent"] == 0


def test_get_account_authorization_details(call, role, user):
    arn = call("CreatePolicy", PolicyName="mine", PolicyDocument=doc(allow()))["Policy"]["Arn"]
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:PutObject")), SetAsDefault=True)
    call("AttachRolePolicy", RoleName=role, PolicyArn=arn)
    call("AttachUserPolicy", UserName=user, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    call("PutRolePolicy", RoleName=role, PolicyName="inline", PolicyDocument=doc(allow()))
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName=user)
    call("CreateInstanceProfile", InstanceProfileName="prof")
    call("AddRoleToInstanceProfile", InstanceProfileName="prof", RoleName=role)

    out = call("GetAccountAuthorizationDetails")
    assert out["IsTruncated"] is False
    (u,) = out["UserDetailList"]
    assert u["UserName"] == user and u["GroupList"] == ["devs"]
    assert u["AttachedManagedPolicies"] == [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    ]
    (r,) = out["RoleDetailList"]
    assert r["RolePolicyList"][0]["PolicyName"] == "inline"
    assert json.loads(decoded(r["RolePolicyList"][0]["PolicyDocument"])) == json.loads(doc(allow()))
    assert [p["InstanceProfileName"] for p in r["InstanceProfileList"]] == ["prof"]
    assert [g["GroupName"] for g in out["GroupDetailList"]] == ["devs"]
    # Customer policies, and only the AWS managed policies this account uses.
    names = [p["PolicyName"] for p in out["Policies"]]
    assert names == ["mine", "ReadOnlyAccess"]
    mine = out["Policies"][0]
    assert [v["VersionId"] for v in mine["PolicyVersionList"]] == ["v1", "v2"]
    assert [v["IsDefaultVersion"] for v in mine["PolicyVersionList"]] == [False, True]

    only_roles = call("GetAccountAuthorizationDetails", Filter=["Role"])
    assert (
        only_roles["UserDetailList"] == []
        and only_roles["Policies"] == []
        and len(only_roles["RoleDetailList"]) == 1
    )
    page = call("GetAccountAuthorizationDetails", MaxItems=2)
    assert page["IsTruncated"] is True
    rest = call("GetAccountAuthorizationDetails", MaxItems=100, Marker=page["Marker"])
    total = sum(
        len(page[k]) + len(rest[k])
        for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
    )
    assert total == 5


def test_reading_the_account_needs_its_actions(iam_env, call):
    auditor = iam_env.user("auditor", allow("iam:GetAccountSummary"))
    assert call("GetAccountSummary", caller=auditor)["SummaryMap"]["Users"] == 1
    err = iam_env.denied(auditor, "iam", "GetAccountAuthorizationDetails")
    assert isinstance(err, AccessDenied)
    assert err.message == no_allow("auditor", "iam:GetAccountAuthorizationDetails", "*")
    err = iam_env.denied(iam_env.user("nobody"), "iam", "GetAccountSummary")
    assert err.message == no_allow("nobody", "iam:GetAccountSummary", "*")
