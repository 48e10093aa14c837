"""The entity half of IAM, in process: users, access keys, login profiles, groups, roles, service-linked
roles, instance profiles, and what each operation declares for authorization."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import botocore.session
import pytest

from rolecall.core.context import Caller
from rolecall.errors import AwsError, MalformedPolicyDocument, ValidationError
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    UnmodifiableEntity,
)
from rolecall.services.iam.users import verify_password
from rolecall.store import GLOBAL
from tests.iam.conftest import ACCOUNT

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MODEL = botocore.session.get_session().get_service_model("iam")


def trust_for(principal: dict[str, Any]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def raises(exc_type: type[AwsError], fn, *args, **kwargs) -> AwsError:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    return info.value


def conforms(value: Any, shape, where: str = "") -> None:
    """Assert an output value fits botocore's shape: known members only, required ones present, types."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members not in {shape.name}: {unknown}"
        # The account root's GetUser answer omits UserName and Path, as AWS's does: checked separately.
        for required in shape.required_members:
            assert required in value, f"{where}: {shape.name} lacks required {required}"
        for name, member in value.items():
            conforms(member, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            conforms(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), where
        for k, v in value.items():
            conforms(k, shape.key, f"{where}.key")
            conforms(v, shape.value, f"{where}[{k}]")
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "timestamp":
        assert isinstance(value, str) and ISO.match(value), f"{where}: {value!r}"
    else:  # pragma: no cover - IAM's outputs use nothing else
        raise AssertionError(f"{where}: unexpected shape type {kind}")


@pytest.fixture
def checked(iam_env):
    """Like `call`, and every answer must fit the operation's output shape in botocore's model."""

    def run(op: str, **params: Any) -> dict[str, Any]:
        out = iam_env.call(op, **params)
        output = MODEL.operation_model(op).output_shape
        if output is None:
            assert out == {}
        else:
            conforms(out, output, op)
        return out

    return run


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
    me = call("GetUser", caller=iam_env.user_caller("bob"))["User"]
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/bob"
    session = Caller(
        account=ACCOUNT,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        type="AssumedRole",
        principal_id="AROAEXAMPLEEXAMPLEEX:s",
    )
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


def test_create_with_duplicate_tags_is_refused(call):
    tags = [{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}]
    raises(InvalidInput, call, "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST_EC2, Tags=tags)
    raises(NoSuchEntity, call, "GetRole", RoleName="r")


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


# ---------------------------------------------------------------- access keys


def test_access_keys(iam_env, checked, call):
    call("CreateUser", UserName="k")
    created = checked("CreateAccessKey", UserName="k")["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", created["AccessKeyId"])
    assert len(created["SecretAccessKey"]) == 40 and created["Status"] == "Active"
    # Stored sealed, never in the clear; the store's owner lookup finds it by id.
    with iam_env.store.transaction() as tx:
        account, doc = tx.find("access_key", created["AccessKeyId"])
    assert account == ACCOUNT and created["SecretAccessKey"] not in json.dumps(doc)
    assert iam_env.config.secret_box.open(doc["SecretSealed"]).decode() == created["SecretAccessKey"]
    second = call("CreateAccessKey", UserName="k")["AccessKey"]
    err = raises(LimitExceeded, call, "CreateAccessKey", UserName="k")
    assert (err.status, err.message) == (409, "Cannot exceed quota for AccessKeysPerUser: 2")
    listed = checked("ListAccessKeys", UserName="k")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] and {k["AccessKeyId"] for k in listed} == {
        created["AccessKeyId"],
        second["AccessKeyId"],
    }
    assert all("SecretAccessKey" not in k for k in listed)
    call("UpdateAccessKey", UserName="k", AccessKeyId=second["AccessKeyId"], Status="Inactive")
    statuses = {
        k["AccessKeyId"]: k["Status"] for k in call("ListAccessKeys", UserName="k")["AccessKeyMetadata"]
    }
    assert statuses[second["AccessKeyId"]] == "Inactive"
    last = checked("GetAccessKeyLastUsed", AccessKeyId=created["AccessKeyId"])
    assert last == {"UserName": "k", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}
    call("CreateUser", UserName="other")
    err = raises(NoSuchEntity, call, "DeleteAccessKey", UserName="other", AccessKeyId=created["AccessKeyId"])
    assert err.message == f"The Access Key with id {created['AccessKeyId']} cannot be found."
    call("DeleteAccessKey", UserName="k", AccessKeyId=created["AccessKeyId"])
    assert len(call("ListAccessKeys", UserName="k")["AccessKeyMetadata"]) == 1


def test_keys_without_user_name_belong_to_the_caller(iam_env, call):
    root_key = call("CreateAccessKey")["AccessKey"]
    assert "UserName" not in root_key
    with iam_env.store.transaction() as tx:
        assert tx.get(ACCOUNT, "access_key", root_key["AccessKeyId"])["UserName"] is None
    assert [k["AccessKeyId"] for k in call("ListAccessKeys")["AccessKeyMetadata"]] == [
        root_key["AccessKeyId"]
    ]
    call("CreateUser", UserName="self")
    me = iam_env.user_caller("self")
    mine = call("CreateAccessKey", caller=me)["AccessKey"]
    assert mine["UserName"] == "self"
    assert [k["AccessKeyId"] for k in call("ListAccessKeys", caller=me)["AccessKeyMetadata"]] == [
        mine["AccessKeyId"]
    ]
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["AccountAccessKeysPresent"] == 1 and summary["Users"] == 1


# ---------------------------------------------------------------- groups


def test_groups_and_membership(checked, call):
    group = checked("CreateGroup", GroupName="admins", Path="/ops/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/ops/admins" and group["GroupId"].startswith("AGPA")
    raises(EntityAlreadyExists, call, "CreateGroup", GroupName="ADMINS")
    for name in ["m3", "m1", "m2"]:
        call("CreateUser", UserName=name)
        call("AddUserToGroup", GroupName="admins", UserName=name)
    call("AddUserToGroup", GroupName="Admins", UserName="m1")  # already a member: no change
    page = checked("GetGroup", GroupName="admins", MaxItems=2)
    assert [u["UserName"] for u in page["Users"]] == ["m1", "m2"] and page["IsTruncated"]
    rest = checked("GetGroup", GroupName="admins", Marker=page["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["m3"]
    assert [g["GroupName"] for g in checked("ListGroupsForUser", UserName="m1")["Groups"]] == ["admins"]
    err = raises(DeleteConflict, call, "DeleteGroup", GroupName="admins")
    assert err.message == "Cannot delete entity, must remove users from group first."
    call("UpdateGroup", GroupName="admins", NewGroupName="root-admins", NewPath="/")
    assert [g["Arn"] for g in call("ListGroupsForUser", UserName="m2")["Groups"]] == [
        f"arn:aws:iam::{ACCOUNT}:group/root-admins"
    ]
    raises(NoSuchEntity, call, "GetGroup", GroupName="admins")
    for name in ["m1", "m2", "m3"]:
        call("RemoveUserFromGroup", GroupName="root-admins", UserName=name)
    err = raises(NoSuchEntity, call, "RemoveUserFromGroup", GroupName="root-admins", UserName="m1")
    assert err.code == "NoSuchEntity"
    call("DeleteGroup", GroupName="root-admins")
    assert checked("ListGroups")["Groups"] == []
    err = raises(NoSuchEntity, call, "DeleteGroup", GroupName="root-admins")
    assert err.message == "The group with name root-admins cannot be found."


def test_groups_per_user_quota(call):
    call("CreateUser", UserName="joiner")
    for i in range(10):
        call("CreateGroup", GroupName=f"g{i}")
        call("AddUserToGroup", GroupName=f"g{i}", UserName="joiner")
    call("CreateGroup", GroupName="g10")
    err = raises(LimitExceeded, call, "AddUserToGroup", GroupName="g10", UserName="joiner")
    assert err.message == "Cannot exceed quota for GroupsPerUser: 10"


# ---------------------------------------------------------------- roles


def test_create_and_get_role(checked, call):
    role = checked(
        "CreateRole",
        RoleName="app",
        Path="/team/",
        AssumeRolePolicyDocument=TRUST_EC2,
        Description="the app",
        Tags=[{"Key": "env", "Value": "dev"}],
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/team/app"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role["RoleId"])
    # Leaves URL-encoded, as IAM sends it (botocore decodes it for callers).
    assert "%7B" in role["AssumeRolePolicyDocument"]
    assert urllib.parse.unquote(role["AssumeRolePolicyDocument"]) == TRUST_EC2
    got = checked("GetRole", RoleName="APP")["Role"]
    assert got["MaxSessionDuration"] == 3600 and got["Description"] == "the app"
    assert got["RoleLastUsed"] == {} and got["Tags"] == [{"Key": "env", "Value": "dev"}]
    err = raises(EntityAlreadyExists, call, "CreateRole", RoleName="App", AssumeRolePolicyDocument=TRUST_EC2)
    assert err.message == "Role with name App already exists."
    err = raises(NoSuchEntity, call, "GetRole", RoleName="nope")
    assert err.message == "The role with name nope cannot be found."
    listed = checked("ListRoles", PathPrefix="/team/")["Roles"]
    assert (
        [r["RoleName"] for r in listed] == ["app"]
        and "Tags" not in listed[0]
        and "RoleLastUsed" not in listed[0]
    )
    assert checked("ListRoles", PathPrefix="/other/")["Roles"] == []


def test_trust_policy_is_validated(call):
    err = raises(
        MalformedPolicyDocument, call, "CreateRole", RoleName="bad", AssumeRolePolicyDocument="{not json"
    )
    assert (err.code, err.status) == ("MalformedPolicyDocument", 400) and err.message
    missing = f"arn:aws:iam::{ACCOUNT}:user/ghost"
    err = raises(
        MalformedPolicyDocument,
        call,
        "CreateRole",
        RoleName="r",
        AssumeRolePolicyDocument=trust_for({"AWS": missing}),
    )
    assert err.message == f'Invalid principal in policy: "AWS":"{missing}"'
    call("CreateUser", UserName="real", Path="/p/")
    # The path is part of the principal's ARN.
    wrong_path = f"arn:aws:iam::{ACCOUNT}:user/real"
    raises(
        MalformedPolicyDocument,
        call,
        "CreateRole",
        RoleName="r",
        AssumeRolePolicyDocument=trust_for({"AWS": wrong_path}),
    )
    right = f"arn:aws:iam::{ACCOUNT}:user/p/real"
    foreign = "arn:aws:iam::999999999999:role/elsewhere"  # an account this store does not hold
    call("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust_for({"AWS": [right, foreign, ACCOUNT]}))
    big = trust_for({"AWS": [f"arn:aws:iam::999999999999:role/r{i:04d}" for i in range(60)]})
    err = raises(LimitExceeded, call, "UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=big)
    assert err.message == "Cannot exceed quota for ACLSizePerRole: 2048"
    call("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=TRUST_EC2)
    got = call("GetRole", RoleName="r")["Role"]
    assert urllib.parse.unquote(got["AssumeRolePolicyDocument"]) == TRUST_EC2


def test_update_role(checked, call):
    call("CreateRole", RoleName="u", AssumeRolePolicyDocument=TRUST_EC2)
    checked("UpdateRole", RoleName="u", Description="d1", MaxSessionDuration=7200)
    got = call("GetRole", RoleName="u")["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("d1", 7200)
    role = checked("UpdateRoleDescription", RoleName="u", Description="d2")["Role"]
    assert role["Description"] == "d2"


def test_role_signin_session_duration(checked, call):
    created = checked(
        "CreateRole", RoleName="s", AssumeRolePolicyDocument=TRUST_EC2, MaxSigninSessionDuration=7200
    )["Role"]
    assert created["MaxSigninSessionDuration"] == 7200
    assert call("GetRole", RoleName="s")["Role"]["MaxSigninSessionDuration"] == 7200
    checked("UpdateRole", RoleName="s", MaxSigninSessionDuration=86400)
    assert call("ListRoles")["Roles"][0]["MaxSigninSessionDuration"] == 86400
    checked("UpdateRole", RoleName="s", Description="only this")  # leaves the setting as it is
    assert call("GetRole", RoleName="s")["Role"]["MaxSigninSessionDuration"] == 86400
    err = raises(
        InvalidInput,
        call,
        "UpdateRole",
        RoleName="s",
        MaxSigninSessionDuration=3600,
        ResetMaxSigninSessionDuration=True,
    )
    assert "ResetMaxSigninSessionDuration" in err.message
    checked("UpdateRole", RoleName="s", ResetMaxSigninSessionDuration=True)
    assert "MaxSigninSessionDuration" not in call("GetRole", RoleName="s")["Role"]  # unset: left out
    call("CreateServiceLinkedRole", AWSServiceName="spot.amazonaws.com")
    raises(
        UnmodifiableEntity,
        call,
        "UpdateRole",
        RoleName="AWSServiceRoleForEC2Spot",
        ResetMaxSigninSessionDuration=True,
    )


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


def test_delete_role_conflicts(iam_env, call):
    call("CreateRole", RoleName="d", AssumeRolePolicyDocument=TRUST_EC2)
    call("CreateInstanceProfile", InstanceProfileName="ip")
    call("AddRoleToInstanceProfile", InstanceProfileName="ip", RoleName="d")
    err = raises(DeleteConflict, call, "DeleteRole", RoleName="d")
    assert err.message == "Cannot delete entity, must remove roles from instance profile first."
    call("RemoveRoleFromInstanceProfile", InstanceProfileName="ip", RoleName="d")
    with iam_env.store.transaction() as tx:
        doc = tx.get(ACCOUNT, "role", "d")
        doc["InlinePolicies"] = {"p": "{}"}
        doc["AttachedPolicies"] = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        tx.update(ACCOUNT, "role", "d", doc)
    assert raises(DeleteConflict, call, "DeleteRole", RoleName="d").message == (
        "Cannot delete entity, must delete policies first."
    )
    with iam_env.store.transaction() as tx:
        doc = tx.get(ACCOUNT, "role", "d")
        doc["InlinePolicies"] = {}
        tx.update(ACCOUNT, "role", "d", doc)
    assert raises(DeleteConflict, call, "DeleteRole", RoleName="d").message == (
        "Cannot delete entity, must detach all policies first."
    )
    with iam_env.store.transaction() as tx:
        doc = tx.get(ACCOUNT, "role", "d")
        doc["AttachedPolicies"] = []
        tx.update(ACCOUNT, "role", "d", doc)
    call("DeleteRole", RoleName="d")
    raises(NoSuchEntity, call, "DeleteRole", RoleName="d")


def test_role_tags(checked, call):
    call("CreateRole", RoleName="tr", AssumeRolePolicyDocument=TRUST_EC2)
    call("TagRole", RoleName="tr", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    call("UntagRole", RoleName="tr", TagKeys=["A"])
    assert checked("ListRoleTags", RoleName="tr") == {
        "Tags": [{"Key": "b", "Value": "2"}],
        "IsTruncated": False,
    }


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


# ---------------------------------------------------------------- service-linked roles


def test_service_linked_roles(checked, call):
    role = checked(
        "CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com", Description="eb"
    )["Role"]
    name = "AWSServiceRoleForElasticBeanstalk"
    assert role["RoleName"] == name and role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    assert (
        role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticbeanstalk.amazonaws.com/{name}"
    )
    trust = json.loads(urllib.parse.unquote(role["AssumeRolePolicyDocument"]))
    assert trust["Statement"][0]["Principal"] == {"Service": ["elasticbeanstalk.amazonaws.com"]}
    err = raises(
        InvalidInput, call, "CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com"
    )
    assert (
        err.message
        == f"Service role name {name} has been taken in this account, please try a different suffix."
    )
    suffixed = call(
        "CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web"
    )["Role"]
    assert suffixed["RoleName"] == "AWSServiceRoleForAutoScaling_web"
    assert call("CreateServiceLinkedRole", AWSServiceName="spot.amazonaws.com")["Role"]["RoleName"] == (
        "AWSServiceRoleForEC2Spot"
    )

    protected = (
        f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    )
    for op, extra in [
        ("UpdateAssumeRolePolicy", {"PolicyDocument": TRUST_EC2}),
        ("DeleteRole", {}),
        ("PutRolePermissionsBoundary", {"PermissionsBoundary": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        ("UpdateRole", {"MaxSessionDuration": 7200}),
    ]:
        err = raises(UnmodifiableEntity, call, op, RoleName=name, **extra)
        assert (err.code, err.message) == ("UnmodifiableEntity", protected)
    call("UpdateRoleDescription", RoleName=name, Description="edited")  # the description is the caller's

    task = checked("DeleteServiceLinkedRole", RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/elasticbeanstalk.amazonaws.com/{name}/")
    assert checked("GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task) == {"Status": "SUCCEEDED"}
    raises(NoSuchEntity, call, "GetRole", RoleName=name)
    call("CreateRole", RoleName="plain", AssumeRolePolicyDocument=TRUST_EC2)
    raises(InvalidInput, call, "DeleteServiceLinkedRole", RoleName="plain")


# ---------------------------------------------------------------- instance profiles


def test_instance_profiles(checked, call):
    profile = checked(
        "CreateInstanceProfile",
        InstanceProfileName="web",
        Path="/srv/",
        Tags=[{"Key": "tier", "Value": "web"}],
    )["InstanceProfile"]
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/srv/web"
    assert profile["InstanceProfileId"].startswith("AIPA") and profile["Roles"] == []
    err = raises(EntityAlreadyExists, call, "CreateInstanceProfile", InstanceProfileName="WEB")
    assert err.message == "Instance Profile WEB already exists."
    err = raises(NoSuchEntity, call, "GetInstanceProfile", InstanceProfileName="none")
    assert err.message == "Instance Profile none cannot be found."
    call("CreateRole", RoleName="r1", AssumeRolePolicyDocument=TRUST_EC2)
    call("CreateRole", RoleName="r2", AssumeRolePolicyDocument=TRUST_EC2)
    call("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="r1")
    err = raises(LimitExceeded, call, "AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="r2")
    assert (err.status, err.message) == (409, "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    got = checked("GetInstanceProfile", InstanceProfileName="web")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["r1"] and got["Tags"] == [
        {"Key": "tier", "Value": "web"}
    ]
    assert urllib.parse.unquote(got["Roles"][0]["AssumeRolePolicyDocument"]) == TRUST_EC2
    for_role = checked("ListInstanceProfilesForRole", RoleName="r1")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == ["web"]
    assert checked("ListInstanceProfilesForRole", RoleName="r2")["InstanceProfiles"] == []
    assert [
        p["InstanceProfileName"]
        for p in checked("ListInstanceProfiles", PathPrefix="/srv")["InstanceProfiles"]
    ] == ["web"]
    err = raises(DeleteConflict, call, "DeleteInstanceProfile", InstanceProfileName="web")
    assert err.message == "Cannot delete entity, must remove roles from instance profile first."
    raises(NoSuchEntity, call, "RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="r2")
    call("RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="r1")
    call("TagInstanceProfile", InstanceProfileName="web", Tags=[{"Key": "x", "Value": "y"}])
    call("UntagInstanceProfile", InstanceProfileName="web", TagKeys=["tier"])
    assert checked("ListInstanceProfileTags", InstanceProfileName="web")["Tags"] == [
        {"Key": "x", "Value": "y"}
    ]
    call("DeleteInstanceProfile", InstanceProfileName="web")
    assert call("ListInstanceProfiles")["InstanceProfiles"] == []


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


# ---------------------------------------------------------------- what each operation asks the policy engine

ENTITY_OPERATIONS = [
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "UpdateGroup",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "CreateServiceLinkedRole",
    "DeleteServiceLinkedRole",
    "GetServiceLinkedRoleDeletionStatus",
    "CreateInstanceProfile",
    "GetInstanceProfile",
    "ListInstanceProfiles",
    "DeleteInstanceProfile",
    "AddRoleToInstanceProfile",
    "RemoveRoleFromInstanceProfile",
    "ListInstanceProfilesForRole",
    "TagInstanceProfile",
    "UntagInstanceProfile",
    "ListInstanceProfileTags",
    "GetAccountSummary",
]


def resolve(iam_env, op: str, **params: Any) -> tuple[list[tuple[str, Any, dict[str, Any]]], bool]:
    """What the pipeline would authorize for a request: [(action, resource, context)] (the declared one,
    then its `extra` ones), and whether the operation is read-only."""
    handler = iam_env.iam.handler(op)
    auth = handler.authorization
    with iam_env.store.transaction() as tx:
        ctx = iam_env.context(op, tx)
        resource = auth.resource(ctx, params) if callable(auth.resource) else auth.resource
        out = [(auth.action, resource, auth.context(ctx, params) if auth.context else {})]
        if auth.extra:
            out.extend(auth.extra(ctx, params))
    return out, handler.read_only


def test_every_entity_operation_is_declared(iam_env):
    for op in ENTITY_OPERATIONS:
        assert op in MODEL.operation_names
        handler = iam_env.iam.handler(op)
        assert handler is not None, op
        assert handler.authorization.action == f"iam:{op}"
        assert handler.read_only == op.startswith(("Get", "List"))


def test_declarations_resolve_arns_with_paths(iam_env, call):
    [(action, resource, context)], read_only = resolve(
        iam_env, "CreateRole", RoleName="new", Path="/p/", AssumeRolePolicyDocument=TRUST_EC2
    )
    assert (action, resource, read_only) == ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/p/new", False)
    call("CreateRole", RoleName="Existing", Path="/deep/path/", AssumeRolePolicyDocument=TRUST_EC2)
    [(_, resource, _)], read_only = resolve(iam_env, "GetRole", RoleName="existing")
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/deep/path/Existing" and read_only
    # The List* operations are authorized on the path they list, as IAM names it in AccessDenied.
    [(_, resource, _)], _ = resolve(iam_env, "ListRoles")
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/"
    [(_, resource, _)], _ = resolve(iam_env, "ListRoles", PathPrefix="/aws-service-role/")
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/"
    for op, word in (
        ("ListUsers", "user"),
        ("ListGroups", "group"),
        ("ListInstanceProfiles", "instance-profile"),
    ):
        [(_, resource, _)], _ = resolve(iam_env, op)
        assert resource == f"arn:aws:iam::{ACCOUNT}:{word}/", op
    call("CreateUser", UserName="mover", Path="/a/")
    [(_, resources, _)], _ = resolve(iam_env, "UpdateUser", UserName="mover", NewUserName="moved")
    assert resources == [f"arn:aws:iam::{ACCOUNT}:user/a/mover", f"arn:aws:iam::{ACCOUNT}:user/a/moved"]
    [(_, resource, _)], _ = resolve(iam_env, "GetUser")
    assert resource == f"arn:aws:iam::{ACCOUNT}:root"


def test_declarations_carry_tag_and_boundary_context(iam_env, call):
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    [(_, _, context)], _ = resolve(
        iam_env,
        "CreateUser",
        UserName="n",
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "dev"}],
    )
    assert context == {
        "aws:RequestTag/team": "red",
        "aws:RequestTag/env": "dev",
        "aws:TagKeys": ["team", "env"],
        "iam:PermissionsBoundary": boundary,
    }
    call(
        "CreateRole",
        RoleName="tagged",
        AssumeRolePolicyDocument=TRUST_EC2,
        Tags=[{"Key": "owner", "Value": "me"}],
    )
    [(_, _, context)], _ = resolve(iam_env, "TagRole", RoleName="tagged", Tags=[{"Key": "x", "Value": "1"}])
    assert context == {"aws:RequestTag/x": "1", "aws:TagKeys": ["x"], "aws:ResourceTag/owner": "me"}
    [(_, _, context)], _ = resolve(iam_env, "UntagRole", RoleName="tagged", TagKeys=["owner"])
    assert context == {"aws:TagKeys": ["owner"], "aws:ResourceTag/owner": "me"}
    [(_, resource, context)], _ = resolve(
        iam_env, "CreateServiceLinkedRole", AWSServiceName="ecs.amazonaws.com"
    )
    assert context == {"iam:AWSServiceName": "ecs.amazonaws.com"}
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"


def test_add_role_to_instance_profile_also_needs_pass_role(iam_env, call):
    call("CreateRole", RoleName="passed", Path="/svc/", AssumeRolePolicyDocument=TRUST_EC2)
    call("CreateInstanceProfile", InstanceProfileName="holder")
    auths, _ = resolve(iam_env, "AddRoleToInstanceProfile", InstanceProfileName="holder", RoleName="passed")
    profile_arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/holder"
    assert [(a, r) for a, r, _ in auths] == [
        ("iam:AddRoleToInstanceProfile", profile_arn),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/svc/passed"),
    ]
    assert auths[1][2]["iam:PassedToService"] == "ec2.amazonaws.com"
    assert auths[1][2]["iam:AssociatedResourceArn"] == profile_arn


def test_account_must_be_known_to_check_foreign_principals(iam_env, call):
    """A second account held by this store is checked like our own."""
    other = "210987654321"
    with iam_env.store.transaction() as tx:
        tx.insert(GLOBAL, "account", other, {"AccountId": other, "CreateDate": "2027-01-01T00:00:00Z"})
    missing = f"arn:aws:iam::{other}:role/absent"
    raises(
        MalformedPolicyDocument,
        call,
        "CreateRole",
        RoleName="x",
        AssumeRolePolicyDocument=trust_for({"AWS": missing}),
    )
