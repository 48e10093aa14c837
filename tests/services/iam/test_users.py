"""IAM users in process, through the authorizer: the user, its tags, its permissions boundary and its login
profile, and who may change them."""

from __future__ import annotations

import json
import re

from rolecall.errors import AccessDenied, ValidationError
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from rolecall.services.iam.users import verify_password
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import TRUST_EC2, allow, no_allow, raises

# ---------------------------------------------------------------- users


def test_create_user_shapes_and_ids(checked):
    user = checked("CreateUser", UserName="alice", Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"])
    assert user["CreateDate"] == "2027-01-15T08:00:00Z"
    assert user["Tags"] == [{"Key": "team", "Value": "a"}]
    got = checked("GetUser", UserName="ALICE")["User"]  # names are case-insensitive
    assert got == user


def test_user_names_are_unique_case_insensitively(call):
    call("CreateUser", UserName="Alice")
    err = raises(EntityAlreadyExists, call, "CreateUser", UserName="alice")
    assert (err.code, err.status, err.message) == (
        "EntityAlreadyExists",
        409,
        "User with name alice already exists.",
    )


def test_missing_user(call):
    err = raises(NoSuchEntity, call, "GetUser", UserName="ghost")
    assert (err.code, err.status, err.message) == (
        "NoSuchEntity",
        404,
        "The user with name ghost cannot be found.",
    )


def test_get_user_defaults_to_the_caller(iam_env, call):
    root = call("GetUser")["User"]
    assert root == {
        "UserId": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
        "CreateDate": "2027-01-01T00:00:00Z",
    }
    call("CreateUser", UserName="bob", Path="/ops/")
    # Through the authorizer: asking about yourself needs iam:GetUser too.
    me = call("GetUser", caller=iam_env.user_caller("bob", allow("iam:GetUser")))["User"]
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/bob"
    session = iam_env.role_session("r", allow("iam:GetUser"), session_name="s")
    err = raises(ValidationError, call, "GetUser", caller=session)
    assert err.message == "Must specify userName when calling with non-User credentials"


def test_list_users_path_prefix_and_pagination(checked, call):
    for name in ["u3", "u1", "u5", "u2", "u4"]:
        call("CreateUser", UserName=name, Path="/a/" if name != "u5" else "/b/")
    first = checked("ListUsers", PathPrefix="/a/", MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == ["u1", "u2"]
    assert first["IsTruncated"] is True
    assert "Tags" not in first["Users"][0]
    # Deleting the last item of a page between calls must not repeat or skip anything.
    call("DeleteUser", UserName="u2")
    second = checked("ListUsers", PathPrefix="/a/", MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == ["u3", "u4"]
    assert second["IsTruncated"] is False and "Marker" not in second
    assert len(call("ListUsers")["Users"]) == 4
    err = raises(ValidationError, call, "ListUsers", Marker="not-a-marker")
    assert err.code == "ValidationError"


def test_update_user_renames_and_moves_with_keys_and_groups(call):
    created = call("CreateUser", UserName="carol")["User"]
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName="carol")
    key = call("CreateAccessKey", UserName="carol")["AccessKey"]
    call("CreateLoginProfile", UserName="carol", Password="Secr3t!pass")
    call("UpdateUser", UserName="carol", NewUserName="carla", NewPath="/moved/")
    user = call("GetUser", UserName="carla")["User"]
    assert user["UserId"] == created["UserId"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/moved/carla"
    raises(NoSuchEntity, call, "GetUser", UserName="carol")
    keys = call("ListAccessKeys", UserName="carla")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["UserName"]) for k in keys] == [(key["AccessKeyId"], "carla")]
    assert [u["UserName"] for u in call("GetGroup", GroupName="devs")["Users"]] == ["carla"]
    assert call("GetLoginProfile", UserName="carla")["LoginProfile"]["UserName"] == "carla"
    call("CreateUser", UserName="dave")
    err = raises(EntityAlreadyExists, call, "UpdateUser", UserName="carla", NewUserName="DAVE")
    assert err.message == "User with name DAVE already exists."
    call("UpdateUser", UserName="carla", NewUserName="Carla")  # a change of case only is allowed
    assert call("GetUser", UserName="carla")["User"]["UserName"] == "Carla"


def test_delete_user_conflicts_in_aws_order(iam_env, call):
    call("CreateUser", UserName="erin")
    call("CreateGroup", GroupName="g")
    call("AddUserToGroup", GroupName="g", UserName="erin")
    key = call("CreateAccessKey", UserName="erin")["AccessKey"]["AccessKeyId"]
    call("CreateLoginProfile", UserName="erin", Password="Secr3t!pass")
    with iam_env.store.transaction() as tx:  # policies belong to the policy half; set them directly
        doc = tx.get(ACCOUNT, "user", "erin")
        doc["InlinePolicies"] = {"p": '{"Version":"2012-10-17","Statement":[]}'}
        doc["AttachedPolicies"] = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        tx.update(ACCOUNT, "user", "erin", doc)
    steps = [
        (
            "Cannot delete entity, must delete login profile first.",
            lambda: call("DeleteLoginProfile", UserName="erin"),
        ),
        (
            "Cannot delete entity, must delete access keys first.",
            lambda: call("DeleteAccessKey", UserName="erin", AccessKeyId=key),
        ),
        ("Cannot delete entity, must delete policies first.", None),
        ("Cannot delete entity, must detach all policies first.", None),
        (
            "Cannot delete entity, must remove users from group first.",
            lambda: call("RemoveUserFromGroup", GroupName="g", UserName="erin"),
        ),
    ]
    for message, fix in steps:
        err = raises(DeleteConflict, call, "DeleteUser", UserName="erin")
        assert (err.code, err.status, err.message) == ("DeleteConflict", 409, message)
        if fix is not None:
            fix()
        else:
            with iam_env.store.transaction() as tx:
                doc = tx.get(ACCOUNT, "user", "erin")
                if doc["InlinePolicies"]:
                    doc["InlinePolicies"] = {}
                else:
                    doc["AttachedPolicies"] = []
                tx.update(ACCOUNT, "user", "erin", doc)
    assert call("DeleteUser", UserName="erin") == {}
    raises(NoSuchEntity, call, "GetUser", UserName="erin")


# ---------------------------------------------------------------- tags


def test_tags_merge_case_insensitively_and_validate(checked, call):
    call("CreateUser", UserName="t", Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "x"}])
    call("TagUser", UserName="t", Tags=[{"Key": "env", "Value": "prod"}, {"Key": "cost", "Value": "1"}])
    tags = checked("ListUserTags", UserName="t")["Tags"]
    assert tags == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "x"},
        {"Key": "cost", "Value": "1"},
    ]
    err = raises(
        InvalidInput,
        call,
        "TagUser",
        UserName="t",
        Tags=[{"Key": "a", "Value": ""}, {"Key": "A", "Value": ""}],
    )
    assert err.message == "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    raises(InvalidInput, call, "TagUser", UserName="t", Tags=[{"Key": "aws:x", "Value": ""}])
    many = [{"Key": f"k{i}", "Value": ""} for i in range(48)]
    err = raises(LimitExceeded, call, "TagUser", UserName="t", Tags=many)
    assert err.message == "Cannot exceed quota for TagsPerUser: 50"
    call("UntagUser", UserName="t", TagKeys=["ENV", "missing"])
    assert [t["Key"] for t in call("ListUserTags", UserName="t")["Tags"]] == ["team", "cost"]
    page = call("ListUserTags", UserName="t", MaxItems=1)
    assert page["IsTruncated"] and page["Tags"] == [{"Key": "team", "Value": "x"}]
    rest = call("ListUserTags", UserName="t", MaxItems=1, Marker=page["Marker"])
    assert rest == {"Tags": [{"Key": "cost", "Value": "1"}], "IsTruncated": False}


# ---------------------------------------------------------------- login profiles


def test_login_profile_lifecycle(iam_env, checked, call):
    call("CreateUser", UserName="lp")
    profile = checked(
        "CreateLoginProfile", UserName="lp", Password="Correct-Horse-9", PasswordResetRequired=True
    )
    assert profile["LoginProfile"] == {
        "UserName": "lp",
        "CreateDate": "2027-01-15T08:00:00Z",
        "PasswordResetRequired": True,
    }
    with iam_env.store.transaction() as tx:
        stored = tx.get(ACCOUNT, "user", "lp")["LoginProfile"]
    assert "Correct-Horse-9" not in json.dumps(stored)
    assert verify_password(stored["PasswordHash"], "Correct-Horse-9")
    assert not verify_password(stored["PasswordHash"], "correct-horse-9")
    err = raises(EntityAlreadyExists, call, "CreateLoginProfile", UserName="lp", Password="x")
    assert err.message == "Login Profile for user lp already exists."
    call("UpdateLoginProfile", UserName="lp", Password="New-Pass-1", PasswordResetRequired=False)
    assert checked("GetLoginProfile", UserName="lp")["LoginProfile"]["PasswordResetRequired"] is False
    with iam_env.store.transaction() as tx:
        assert verify_password(tx.get(ACCOUNT, "user", "lp")["LoginProfile"]["PasswordHash"], "New-Pass-1")
    call("DeleteLoginProfile", UserName="lp")
    err = raises(NoSuchEntity, call, "GetLoginProfile", UserName="lp")
    assert err.message == "Login Profile for User lp cannot be found."
    raises(NoSuchEntity, call, "DeleteLoginProfile", UserName="lp")


def test_login_profile_signin_session_duration(checked, call):
    call("CreateUser", UserName="sd")
    profile = checked(
        "CreateLoginProfile", UserName="sd", Password="Correct-Horse-9", MaxSigninSessionDuration=3600
    )["LoginProfile"]
    assert profile["MaxSigninSessionDuration"] == 3600
    checked("UpdateLoginProfile", UserName="sd", MaxSigninSessionDuration=43200)
    got = checked("GetLoginProfile", UserName="sd")["LoginProfile"]
    assert (got["MaxSigninSessionDuration"], got["PasswordResetRequired"]) == (43200, False)
    checked("UpdateLoginProfile", UserName="sd", ResetMaxSigninSessionDuration=True)
    assert "MaxSigninSessionDuration" not in call("GetLoginProfile", UserName="sd")["LoginProfile"]


def test_permissions_boundaries(iam_env, call):
    customer = f"arn:aws:iam::{ACCOUNT}:policy/guard/Boundary"
    with iam_env.store.transaction() as tx:
        tx.insert(
            ACCOUNT,
            "policy",
            "Boundary",
            {
                "PolicyName": "Boundary",
                "PolicyId": "ANPAEXAMPLEEXAMPLEEX",
                "Arn": customer,
                "Path": "/guard/",
                "CreateDate": "2027-01-01T00:00:00Z",
                "UpdateDate": "2027-01-01T00:00:00Z",
                "DefaultVersionId": "v1",
                "Versions": [{"VersionId": "v1", "Document": "{}", "CreateDate": "2027-01-01T00:00:00Z"}],
                "NextVersion": 2,
                "Tags": [],
            },
        )
    missing = f"arn:aws:iam::{ACCOUNT}:policy/Nope"
    err = raises(NoSuchEntity, call, "CreateUser", UserName="bu", PermissionsBoundary=missing)
    assert err.message == f"Scope ARN: {missing} does not exist or is not attachable."
    raises(NoSuchEntity, call, "GetUser", UserName="bu")
    user = call("CreateUser", UserName="bu", PermissionsBoundary=customer)["User"]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": customer,
    }
    call("DeleteUserPermissionsBoundary", UserName="bu")
    assert "PermissionsBoundary" not in call("GetUser", UserName="bu")["User"]
    call("PutUserPermissionsBoundary", UserName="bu", PermissionsBoundary=customer)
    assert call("GetUser", UserName="bu")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == customer

    call("CreateRole", RoleName="br", AssumeRolePolicyDocument=TRUST_EC2, PermissionsBoundary=customer)
    assert call("GetRole", RoleName="br")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == customer
    aws_managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    call("PutRolePermissionsBoundary", RoleName="br", PermissionsBoundary=aws_managed)
    assert (
        call("GetRole", RoleName="br")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == aws_managed
    )
    raises(NoSuchEntity, call, "PutRolePermissionsBoundary", RoleName="br", PermissionsBoundary=missing)
    call("DeleteRolePermissionsBoundary", RoleName="br")
    assert "PermissionsBoundary" not in call("GetRole", RoleName="br")["Role"]


# ---------------------------------------------------------------- refusals


def test_user_operations_are_refused_without_permission(iam_env, call):
    call("CreateUser", UserName="ann", Path="/team-a/")
    # May rename and move users of team A, within team A only: a move needs the target ARN allowed too.
    lead = iam_env.user("lead", allow("iam:UpdateUser", f"arn:aws:iam::{ACCOUNT}:user/team-a/*"))
    call("UpdateUser", caller=lead, UserName="ann", NewUserName="anne")
    err = iam_env.denied(lead, "iam", "UpdateUser", UserName="anne", NewPath="/team-b/")
    assert isinstance(err, AccessDenied)
    assert err.message == no_allow("lead", "iam:UpdateUser", f"arn:aws:iam::{ACCOUNT}:user/team-b/anne")
    assert call("GetUser", UserName="anne")["User"]["Path"] == "/team-a/"
    err = iam_env.denied(lead, "iam", "CreateUser", UserName="eve")
    assert err.message == no_allow("lead", "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/eve")
    # Tagging may be limited to some tag keys (aws:TagKeys).
    only_team = {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}
    tagger = iam_env.user("tagger", allow("iam:TagUser", "*", Condition=only_team))
    call("TagUser", caller=tagger, UserName="anne", Tags=[{"Key": "team", "Value": "a"}])
    err = iam_env.denied(tagger, "iam", "TagUser", UserName="anne", Tags=[{"Key": "cost", "Value": "1"}])
    assert err.message == no_allow("tagger", "iam:TagUser", f"arn:aws:iam::{ACCOUNT}:user/team-a/anne")
    assert call("ListUserTags", UserName="anne")["Tags"] == [{"Key": "team", "Value": "a"}]
