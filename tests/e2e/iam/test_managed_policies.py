"""IAM managed policies against a real server with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, allow, as_key, err, name, new_user, no_allow


def test_denied_then_allowed_then_denied_again(any_server):
    iam = any_server.client("iam")
    user, key = new_user(any_server, iam)
    as_user = any_server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    code, message, status = err(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: iam:ListRoles on resource: "
        "arn:aws:iam::123456789012:role/ because no identity-based policy allows the iam:ListRoles action"
    )
    arn = iam.create_policy(PolicyName=name("list"), PolicyDocument=allow("iam:List*"))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert "Roles" in as_user.list_roles()
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    assert err(exc)[0] == "AccessDenied"


def test_policy_versions_tags_and_the_default_that_applies(server):
    iam = server.client("iam")
    policy = name("p")
    arn = iam.create_policy(PolicyName=policy, Path="/e2e/", PolicyDocument=allow("iam:ListRoles"))["Policy"][
        "Arn"
    ]
    assert arn == f"arn:aws:iam::123456789012:policy/e2e/{policy}"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    assert policy in [
        p["PolicyName"] for p in iam.list_policies(Scope="Local", PathPrefix="/e2e/")["Policies"]
    ]
    user, key = new_user(server, iam)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    as_user = as_key(server, key)
    assert "Roles" in as_user.list_roles()

    iam.create_policy_version(PolicyArn=arn, PolicyDocument=allow("iam:ListUsers"))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", False), ("v1", True)]
    v2 = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert v2["Document"]["Statement"][0]["Action"] == "iam:ListUsers"
    assert "Roles" in as_user.list_roles()  # v2 is not the default yet
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    assert err(exc)[0] == "AccessDenied"
    assert "Users" in as_user.list_users()
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v2"]

    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "owner", "Value": "e2e"}, {"Key": "x", "Value": "1"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["x"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "owner", "Value": "e2e"}]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert err(exc) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert err(exc)[0] == "NoSuchEntity"


def test_attachments_to_groups_and_roles(server):
    iam = server.client("iam")
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    group, role = name("g"), name("r")
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    user, _ = new_user(server, iam)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    expected = [{"PolicyName": "ReadOnlyAccess", "PolicyArn": arn}]
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == expected
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == expected
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == expected
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert group in [g["GroupName"] for g in entities["PolicyGroups"]]
    assert role in [r["RoleName"] for r in entities["PolicyRoles"]]
    assert user in [u["UserName"] for u in entities["PolicyUsers"]]
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_attaching_is_refused_beyond_the_allowed_policies(server):
    iam = server.client("iam")
    role = name("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    statement = {
        "Effect": "Allow",
        "Action": "iam:AttachRolePolicy",
        "Resource": "*",
        "Condition": {"ArnEquals": {"iam:PolicyARN": read_only}},
    }
    user, key = new_user(server, iam, json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    as_user = as_key(server, key)
    as_user.attach_role_policy(RoleName=role, PolicyArn=read_only)
    with pytest.raises(ClientError) as exc:
        as_user.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert err(exc) == (
        "AccessDenied",
        no_allow(user, "iam:AttachRolePolicy", f"arn:aws:iam::123456789012:role/{role}"),
        403,
    )
