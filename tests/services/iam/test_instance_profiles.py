"""IAM instance profiles, in process: the profile, its one role, its tags, and the PassRole it needs."""

from __future__ import annotations

import urllib.parse

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import TRUST_EC2, allow, no_allow, raises, resolve


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


def test_putting_a_role_in_a_profile_needs_pass_role(iam_env, call):
    call("CreateRole", RoleName="admin", AssumeRolePolicyDocument=TRUST_EC2)
    call("CreateInstanceProfile", InstanceProfileName="box")
    builder = iam_env.user("builder", allow(["iam:AddRoleToInstanceProfile", "iam:GetInstanceProfile"]))
    err = iam_env.denied(
        builder, "iam", "AddRoleToInstanceProfile", InstanceProfileName="box", RoleName="admin"
    )
    assert isinstance(err, AccessDenied)
    assert err.message == no_allow("builder", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin")
    assert (
        call("GetInstanceProfile", caller=builder, InstanceProfileName="box")["InstanceProfile"]["Roles"]
        == []
    )
    err = iam_env.denied(builder, "iam", "DeleteInstanceProfile", InstanceProfileName="box")
    assert err.message == no_allow(
        "builder", "iam:DeleteInstanceProfile", f"arn:aws:iam::{ACCOUNT}:instance-profile/box"
    )
