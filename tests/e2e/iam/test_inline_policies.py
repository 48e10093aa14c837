"""IAM inline policies against a real server with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, allow, as_key, err, name, new_user, no_allow


def test_explicit_deny_names_it_and_get_caller_identity_still_works(server):
    iam = server.client("iam")
    user, key = new_user(
        server,
        iam,
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Sid": "NoRoles", "Effect": "Deny", "Action": "iam:*Role*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "sts:*", "Resource": "*"},
                ],
            }
        ),
    )
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        as_user.create_role(RoleName=name("x"), AssumeRolePolicyDocument=TRUST_EC2)
    assert "with an explicit deny in an identity-based policy" in err(exc)[1]
    assert as_user.list_users()["Users"]
    ident = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::123456789012:user/{user}"
    assert ident["UserId"].startswith("AIDA")


def test_inline_policies_of_users_groups_and_roles(server):
    iam = server.client("iam")
    user, group, role = name("u"), name("g"), name("r")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    text = json.dumps(document)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=text)
    iam.put_group_policy(GroupName=group, PolicyName="read", PolicyDocument=text)
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=text)
    # botocore decodes the URL-encoded document IAM sends.
    assert iam.get_user_policy(UserName=user, PolicyName="read")["PolicyDocument"] == document
    assert iam.get_group_policy(GroupName=group, PolicyName="read")["PolicyDocument"] == document
    assert iam.get_role_policy(RoleName=role, PolicyName="read")["PolicyDocument"] == document
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["read"]
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["read"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["read"]
    iam.delete_user_policy(UserName=user, PolicyName="read")
    iam.delete_group_policy(GroupName=group, PolicyName="read")
    iam.delete_role_policy(RoleName=role, PolicyName="read")
    with pytest.raises(ClientError) as exc:
        iam.get_role_policy(RoleName=role, PolicyName="read")
    assert err(exc) == ("NoSuchEntity", "The role policy with name read cannot be found.", 404)
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(RoleName=role, PolicyName="bad", PolicyDocument='{"Version": "2012-10-17"')
    assert err(exc)[0] == "MalformedPolicyDocument"


def test_writing_a_policy_on_another_role_is_refused(server):
    iam = server.client("iam")
    mine, theirs = name("app-mine"), name("admin")
    for role in (mine, theirs):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    user, key = new_user(server, iam, allow("iam:PutRolePolicy", f"arn:aws:iam::123456789012:role/{mine}"))
    as_user = as_key(server, key)
    as_user.put_role_policy(RoleName=mine, PolicyName="p", PolicyDocument=allow("s3:GetObject"))
    with pytest.raises(ClientError) as exc:
        as_user.put_role_policy(RoleName=theirs, PolicyName="p", PolicyDocument=allow("*"))
    assert err(exc) == (
        "AccessDenied",
        no_allow(user, "iam:PutRolePolicy", f"arn:aws:iam::123456789012:role/{theirs}"),
        403,
    )
    assert iam.list_role_policies(RoleName=theirs)["PolicyNames"] == []
