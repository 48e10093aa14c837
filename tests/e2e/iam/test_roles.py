"""IAM roles over the wire against a real server, on SQLite and PostgreSQL, with boto3 and the AWS CLI."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, err, name


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
