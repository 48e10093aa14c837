"""IAM roles over the wire against a real server, on SQLite and PostgreSQL, with boto3 and the AWS CLI."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, allow, as_key, err, name, new_user, no_allow


def test_role_lifecycle(any_server):
    iam = any_server.client("iam")
    role = name("app")
    created = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=TRUST_EC2,
        Path="/team/",
        Tags=[{"Key": "env", "Value": "dev"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::123456789012:role/team/{role}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    got = iam.get_role(RoleName=role)["Role"]
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert got["MaxSessionDuration"] == 3600
    assert role in [r["RoleName"] for r in iam.list_roles(PathPrefix="/team/")["Roles"]]
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=role.upper(), AssumeRolePolicyDocument=TRUST_EC2)
    assert err(exc)[0] == "EntityAlreadyExists" and err(exc)[2] == 409
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=role)
    assert err(exc) == ("NoSuchEntity", f"The role with name {role} cannot be found.", 404)


def test_model_validation_errors(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=TRUST_EC2)
    code, message, status = err(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "roleName" in message and "regular expression pattern" in message
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name("r"), AssumeRolePolicyDocument="{not json")
    assert err(exc)[0] == "MalformedPolicyDocument"


def test_aws_cli(server):
    role = name("cli")
    out = server.cli("iam", "create-role", "--role-name", role, "--assume-role-policy-document", TRUST_EC2)
    assert json.loads(out.stdout)["Role"]["RoleName"] == role
    out = server.cli("iam", "list-roles")
    assert role in out.stdout
    out = server.cli("iam", "get-role", "--role-name", "does-not-exist", check=False)
    assert out.returncode != 0 and "NoSuchEntity" in out.stderr
    out = server.cli(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=CreateRole",
        "--max-results",
        "5",
    )
    assert "CreateRole" in out.stdout


def test_role_settings_tags_and_boundary(server):
    iam = server.client("iam")
    role = name("svc")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    iam.update_role(RoleName=role, MaxSessionDuration=7200, Description="first")
    iam.update_role_description(RoleName=role, Description="second")
    got = iam.get_role(RoleName=role)["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (7200, "second")
    lambda_trust = TRUST_EC2.replace("ec2.amazonaws.com", "lambda.amazonaws.com")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=lambda_trust)
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    iam.tag_role(RoleName=role, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    iam.untag_role(RoleName=role, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "team", "Value": "a"}]
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=boundary)
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    iam.delete_role_permissions_boundary(RoleName=role)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]


def test_service_linked_role_is_aws_s_to_change(server):
    iam = server.client("iam")
    role = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=name("e2e")
    )["Role"]
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role["RoleName"])
    assert err(exc)[0] == "UnmodifiableEntity"
    task = iam.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=role["RoleName"])
    assert err(exc)[0] == "NoSuchEntity"


def test_changing_a_roles_trust_is_refused_without_permission(server):
    iam = server.client("iam")
    role = name("guarded")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_EC2)
    user, key = new_user(server, iam, allow("iam:GetRole"))
    as_user = as_key(server, key)
    assert as_user.get_role(RoleName=role)["Role"]["RoleName"] == role
    with pytest.raises(ClientError) as exc:
        as_user.update_assume_role_policy(RoleName=role, PolicyDocument=TRUST_EC2.replace("ec2", "lambda"))
    assert err(exc) == (
        "AccessDenied",
        no_allow(user, "iam:UpdateAssumeRolePolicy", f"arn:aws:iam::123456789012:role/{role}"),
        403,
    )
