"""IAM groups, in process: groups, membership, renames and quotas."""

from __future__ import annotations

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, no_allow, raises


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


def test_adding_users_to_a_group_is_allowed_group_by_group(iam_env, call):
    call("CreateGroup", GroupName="devs")
    call("CreateGroup", GroupName="admins")
    helpdesk = iam_env.user("helpdesk", allow("iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/devs"))
    call("AddUserToGroup", caller=helpdesk, GroupName="devs", UserName="helpdesk")
    # Not into the admins: that would be a way to more permissions.
    err = iam_env.denied(helpdesk, "iam", "AddUserToGroup", GroupName="admins", UserName="helpdesk")
    assert isinstance(err, AccessDenied)
    assert err.message == no_allow("helpdesk", "iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/admins")
    assert [g["GroupName"] for g in call("ListGroupsForUser", UserName="helpdesk")["Groups"]] == ["devs"]
    err = iam_env.denied(helpdesk, "iam", "DeleteGroup", GroupName="admins")
    assert err.message == no_allow("helpdesk", "iam:DeleteGroup", f"arn:aws:iam::{ACCOUNT}:group/admins")
