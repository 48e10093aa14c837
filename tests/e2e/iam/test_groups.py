"""IAM groups against a real server with boto3: groups, membership, renames, and the permissions a group's
policy gives its members while they are members."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, name, new_user, no_allow

ACCOUNT = "123456789012"


def test_group_lifecycle_and_membership(server):
    iam = server.client("iam")
    group = name("devs")
    created = iam.create_group(GroupName=group, Path="/eng/")["Group"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/eng/{group}" and created["GroupId"].startswith(
        "AGPA"
    )
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/eng/")["Groups"]]
    user = name("member")
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    renamed = name("developers")
    iam.update_group(GroupName=group, NewGroupName=renamed)
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [renamed]
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName=renamed)
    assert err(exc) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    iam.remove_user_from_group(GroupName=renamed, UserName=user)
    iam.delete_group(GroupName=renamed)
    with pytest.raises(ClientError) as exc:
        iam.get_group(GroupName=renamed)
    assert err(exc)[0] == "NoSuchEntity"


def test_a_groups_policy_applies_to_members_only(server):
    iam = server.client("iam")
    group = name("readers")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="list", PolicyDocument=allow("iam:ListRoles"))
    user, key = new_user(server, iam)
    as_user = as_key(server, key)
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    assert err(exc) == ("AccessDenied", no_allow(user, "iam:ListRoles", f"arn:aws:iam::{ACCOUNT}:role/"), 403)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert "Roles" in as_user.list_roles()
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    assert err(exc)[0] == "AccessDenied"
