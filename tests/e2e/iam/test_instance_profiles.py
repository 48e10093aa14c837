"""IAM instance profiles against a real server with boto3: the profile, its one role, its tags, and the
iam:PassRole that putting a role in it needs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, allow, as_key, err, name, new_user, no_allow

ACCOUNT = "123456789012"


def test_instance_profile_lifecycle(server):
    iam = server.client("iam")
    profile, role = name("web"), name("web-role")
    created = iam.create_instance_profile(InstanceProfileName=profile, Path="/srv/")["InstanceProfile"]
    assert (
        created["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/srv/{profile}" and created["Roles"] == []
    )
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    ] == [profile]
    assert profile in [
        p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/srv/")["InstanceProfiles"]
    ]
    iam.tag_instance_profile(
        InstanceProfileName=profile, Tags=[{"Key": "tier", "Value": "web"}, {"Key": "x", "Value": "y"}]
    )
    iam.untag_instance_profile(InstanceProfileName=profile, TagKeys=["x"])
    assert iam.list_instance_profile_tags(InstanceProfileName=profile)["Tags"] == [
        {"Key": "tier", "Value": "web"}
    ]
    with pytest.raises(ClientError) as exc:
        iam.delete_instance_profile(InstanceProfileName=profile)
    assert err(exc)[:2] == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)
    with pytest.raises(ClientError) as exc:
        iam.get_instance_profile(InstanceProfileName=profile)
    assert err(exc) == ("NoSuchEntity", f"Instance Profile {profile} cannot be found.", 404)


def test_adding_a_role_needs_pass_role_on_it(server):
    iam = server.client("iam")
    profile, role = name("box"), name("admin")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    user, key = new_user(server, iam, allow("iam:AddRoleToInstanceProfile"))
    with pytest.raises(ClientError) as exc:
        as_key(server, key).add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    assert err(exc) == (
        "AccessDenied",
        no_allow(user, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{role}"),
        403,
    )
    assert iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"] == []
