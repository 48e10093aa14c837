"""IAM inline policies of users, groups and roles, in process: lifecycle, validation and the size quota."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AccessDenied, MalformedPolicyDocument
from rolecall.services.iam.errors import (
    LimitExceeded,
    NoSuchEntity,
    UnmodifiableEntity,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import TRUST, allow, decoded, doc, no_allow, padded


@pytest.mark.parametrize(
    ("kind", "create"),
    [
        ("User", {"op": "CreateUser", "UserName": "e1"}),
        ("Group", {"op": "CreateGroup", "GroupName": "e1"}),
        ("Role", {"op": "CreateRole", "RoleName": "e1", "AssumeRolePolicyDocument": TRUST}),
    ],
)
def test_inline_policy_lifecycle(call, kind, create):
    create = dict(create)
    call(create.pop("op"), **create)
    name_member = f"{kind}Name"
    text = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/*"))
    call(f"Put{kind}Policy", **{name_member: "e1"}, PolicyName="read", PolicyDocument=text)
    call(f"Put{kind}Policy", **{name_member: "e1"}, PolicyName="another", PolicyDocument=doc(allow()))

    got = call(f"Get{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    assert got[name_member] == "e1" and got["PolicyName"] == "read"
    assert got["PolicyDocument"] != text  # leaves URL-encoded, as IAM sends it
    assert json.loads(decoded(got["PolicyDocument"])) == json.loads(text)

    listed = call(f"List{kind}Policies", **{name_member: "e1"})
    assert listed["PolicyNames"] == ["another", "read"] and listed["IsTruncated"] is False
    page = call(f"List{kind}Policies", **{name_member: "e1"}, MaxItems=1)
    assert page["PolicyNames"] == ["another"] and page["IsTruncated"] is True
    rest = call(f"List{kind}Policies", **{name_member: "e1"}, MaxItems=1, Marker=page["Marker"])
    assert rest["PolicyNames"] == ["read"] and rest["IsTruncated"] is False

    # Putting again under the same name replaces the document.
    call(
        f"Put{kind}Policy",
        **{name_member: "e1"},
        PolicyName="read",
        PolicyDocument=doc(allow("s3:PutObject")),
    )
    again = call(f"Get{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    assert "s3:PutObject" in decoded(again["PolicyDocument"])

    call(f"Delete{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    with pytest.raises(NoSuchEntity, match=f"The {kind.lower()} policy with name read cannot be found."):
        call(f"Get{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    with pytest.raises(NoSuchEntity):
        call(f"Delete{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    assert call(f"List{kind}Policies", **{name_member: "e1"})["PolicyNames"] == ["another"]


def test_inline_policy_on_missing_entity(call):
    with pytest.raises(NoSuchEntity, match="The role with name ghost cannot be found."):
        call("PutRolePolicy", RoleName="ghost", PolicyName="p", PolicyDocument=doc(allow()))
    with pytest.raises(NoSuchEntity, match="The user with name ghost cannot be found."):
        call("ListUserPolicies", UserName="ghost")


def test_malformed_inline_policy_uses_the_engines_message(call, role):
    with pytest.raises(MalformedPolicyDocument) as err:
        call("PutRolePolicy", RoleName=role, PolicyName="p", PolicyDocument='{"Version": "2012-10-17"')
    assert err.value.message == "Syntax errors in policy."
    with pytest.raises(MalformedPolicyDocument):
        call(
            "PutRolePolicy",
            RoleName=role,
            PolicyName="p",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
            ),
        )
    assert call("ListRolePolicies", RoleName=role)["PolicyNames"] == []


@pytest.mark.parametrize(
    ("kind", "quota", "create"),
    [
        ("role", 10240, {"op": "CreateRole", "RoleName": "big", "AssumeRolePolicyDocument": TRUST}),
        ("user", 2048, {"op": "CreateUser", "UserName": "big"}),
        ("group", 5120, {"op": "CreateGroup", "GroupName": "big"}),
    ],
)
def test_inline_policies_share_one_size_quota(call, kind, quota, create):
    create = dict(create)
    call(create.pop("op"), **create)
    put = f"Put{kind.capitalize()}Policy"
    name = {f"{kind.capitalize()}Name": "big"}
    half = quota // 2
    call(put, **name, PolicyName="first", PolicyDocument=padded(half))
    # Whitespace does not count: the same document pretty-printed still fits exactly.
    exact = json.dumps(json.loads(padded(quota - half)), indent=4)
    call(put, **name, PolicyName="second", PolicyDocument=exact)
    with pytest.raises(LimitExceeded) as err:
        call(put, **name, PolicyName="third", PolicyDocument=doc(allow()))
    assert err.value.message == f"Maximum policy size of {quota} bytes exceeded for {kind} big"
    # Replacing a policy counts its new size, not old + new.
    call(put, **name, PolicyName="second", PolicyDocument=padded(quota - half))


def test_service_linked_role_policies_are_unmodifiable(call):
    out = call("CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com")
    name = out["Role"]["RoleName"]
    with pytest.raises(UnmodifiableEntity):
        call("PutRolePolicy", RoleName=name, PolicyName="p", PolicyDocument=doc(allow()))
    with pytest.raises(UnmodifiableEntity):
        call("AttachRolePolicy", RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(UnmodifiableEntity):
        call("DetachRolePolicy", RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")


def test_each_entity_keeps_its_own_inline_policies(call):
    call("CreateUser", UserName="same")
    call("CreateGroup", GroupName="same")
    call("CreateRole", RoleName="same", AssumeRolePolicyDocument=TRUST)
    texts = {
        "User": doc(allow("s3:GetObject")),
        "Group": doc(allow("sqs:SendMessage")),
        "Role": doc(allow("ec2:*")),
    }
    call("PutUserPolicy", UserName="same", PolicyName="p", PolicyDocument=texts["User"])
    call("PutGroupPolicy", GroupName="same", PolicyName="p", PolicyDocument=texts["Group"])
    call("PutRolePolicy", RoleName="same", PolicyName="p", PolicyDocument=texts["Role"])
    # One name, three policies: each entity answers with its own document.
    assert json.loads(
        decoded(call("GetUserPolicy", UserName="same", PolicyName="p")["PolicyDocument"])
    ) == json.loads(texts["User"])
    assert json.loads(
        decoded(call("GetGroupPolicy", GroupName="same", PolicyName="p")["PolicyDocument"])
    ) == json.loads(texts["Group"])
    assert json.loads(
        decoded(call("GetRolePolicy", RoleName="same", PolicyName="p")["PolicyDocument"])
    ) == json.loads(texts["Role"])
    call("DeleteGroupPolicy", GroupName="same", PolicyName="p")
    assert call("ListGroupPolicies", GroupName="same")["PolicyNames"] == []
    assert call("ListUserPolicies", UserName="same")["PolicyNames"] == ["p"]
    assert call("ListRolePolicies", RoleName="same")["PolicyNames"] == ["p"]
    call("DeleteUserPolicy", UserName="same", PolicyName="p")
    call("DeleteRolePolicy", RoleName="same", PolicyName="p")
    assert (
        call("ListUserPolicies", UserName="same")["PolicyNames"]
        == call("ListRolePolicies", RoleName="same")["PolicyNames"]
        == []
    )


def test_writing_inline_policies_is_allowed_entity_by_entity(iam_env, call):
    call("CreateRole", RoleName="app-web", AssumeRolePolicyDocument=TRUST)
    call("CreateRole", RoleName="admin", AssumeRolePolicyDocument=TRUST)
    call("PutRolePolicy", RoleName="admin", PolicyName="all", PolicyDocument=doc(allow("*")))
    app_roles = f"arn:aws:iam::{ACCOUNT}:role/app-*"
    ops = ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"]
    dev = iam_env.user("dev", allow(ops, app_roles))
    call("PutRolePolicy", caller=dev, RoleName="app-web", PolicyName="p", PolicyDocument=doc(allow()))
    admin = f"arn:aws:iam::{ACCOUNT}:role/admin"
    for op, params in (
        ("PutRolePolicy", {"PolicyDocument": doc(allow("iam:*"))}),
        ("GetRolePolicy", {}),
        ("DeleteRolePolicy", {}),
    ):
        err = iam_env.denied(dev, "iam", op, RoleName="admin", PolicyName="all", **params)
        assert isinstance(err, AccessDenied)
        assert err.message == no_allow("dev", f"iam:{op}", admin)
    assert json.loads(
        decoded(call("GetRolePolicy", RoleName="admin", PolicyName="all")["PolicyDocument"])
    ) == json.loads(doc(allow("*")))
