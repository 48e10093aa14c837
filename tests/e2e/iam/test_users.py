"""IAM users against a real server with boto3: the user, its tags, its permissions boundary and its login
profile, and a user refused what its policy does not allow."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, name, new_user, no_allow

ACCOUNT = "123456789012"


def test_user_lifecycle_with_tags_and_boundary(server):
    iam = server.client("iam")
    user = name("ann")
    created = iam.create_user(UserName=user, Path="/team/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{user}" and created["UserId"].startswith(
        "AIDA"
    )
    iam.tag_user(UserName=user, Tags=[{"Key": "cost", "Value": "7"}])
    iam.untag_user(UserName=user, TagKeys=["team"])
    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "cost", "Value": "7"}]
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary)
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]

    renamed = name("anne")
    iam.update_user(UserName=user, NewUserName=renamed, NewPath="/other/")
    moved = iam.get_user(UserName=renamed)["User"]
    assert (moved["UserId"], moved["Path"]) == (created["UserId"], "/other/")
    iam.delete_user(UserName=renamed)
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName=renamed)
    assert err(exc) == ("NoSuchEntity", f"The user with name {renamed} cannot be found.", 404)


def test_login_profile_lifecycle(server):
    iam = server.client("iam")
    user = name("console")
    iam.create_user(UserName=user)
    profile = iam.create_login_profile(UserName=user, Password="Correct-Horse-9", PasswordResetRequired=True)
    assert profile["LoginProfile"]["UserName"] == user and profile["LoginProfile"]["PasswordResetRequired"]
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName=user, Password="Another-Pass-1")
    assert err(exc)[:2] == ("EntityAlreadyExists", f"Login Profile for user {user} already exists.")
    iam.update_login_profile(UserName=user, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    iam.delete_login_profile(UserName=user)
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName=user)
    assert err(exc) == ("NoSuchEntity", f"Login Profile for User {user} cannot be found.", 404)


def test_a_user_may_read_itself_and_is_refused_the_rest(server):
    iam = server.client("iam")
    self_only = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
    user, key = new_user(server, iam, allow(["iam:GetUser", "iam:ListUserTags"], self_only))
    as_user = as_key(server, key)
    assert as_user.get_user()["User"]["UserName"] == user  # no name: the caller itself
    other = name("other")
    iam.create_user(UserName=other)
    for call, action in (
        (lambda: as_user.get_user(UserName=other), "iam:GetUser"),
        (lambda: as_user.tag_user(UserName=other, Tags=[{"Key": "k", "Value": "v"}]), "iam:TagUser"),
        (lambda: as_user.delete_user(UserName=other), "iam:DeleteUser"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert err(exc) == (
            "AccessDenied",
            no_allow(user, action, f"arn:aws:iam::{ACCOUNT}:user/{other}"),
            403,
        )
    assert iam.get_user(UserName=other)["User"]["UserName"] == other
