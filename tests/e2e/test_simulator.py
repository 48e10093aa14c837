"""The IAM policy simulator over the wire with boto3: PolicyExclusionList by every kind of identifier, its
InvalidInput, SimulateCustomPolicy's Organizations levels, and a member the simulator does not implement."""

from __future__ import annotations

import json
import uuid

import botocore.config
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": "*"}


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


@pytest.fixture(scope="module")
def reader(iam):
    """A user whose only permission to read S3 objects is one policy of each kind, added per test."""
    name = f"reader-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    return name, arn


def decision(iam, source: str, *exclusions: dict, action: str = "s3:GetObject") -> str:
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=source, ActionNames=[action], PolicyExclusionList=list(exclusions)
    )["EvaluationResults"]
    return result["EvalDecision"]


def test_excluding_the_only_allowing_inline_policy(iam, reader):
    name, arn = reader
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=policy(allow("s3:GetObject")))
    try:
        assert decision(iam, arn) == "allowed"
        assert decision(iam, arn, {"PolicyType": "inline"}) == "implicitDeny"
        by_name = {"PolicyName": "read", "AttachmentType": "user", "AttachmentName": "reader-*"}
        assert decision(iam, arn, {"InlinePolicyIdentifier": by_name}) == "implicitDeny"
        other = {"PolicyName": "read", "AttachmentType": "role", "AttachmentName": name}
        assert decision(iam, arn, {"InlinePolicyIdentifier": other}) == "allowed"  # matches nothing
    finally:
        iam.delete_user_policy(UserName=name, PolicyName="read")


def test_excluding_managed_policies_by_type_and_arn(iam, reader):
    name, arn = reader
    mine = iam.create_policy(
        PolicyName=f"read-{uuid.uuid4().hex[:6]}", PolicyDocument=policy(allow("s3:GetObject"))
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=mine)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    try:
        assert decision(iam, arn) == "allowed"
        assert decision(iam, arn, {"PolicyType": "user-managed"}) == "allowed"  # the AWS managed one still
        assert (
            decision(iam, arn, {"PolicyType": "user-managed"}, {"PolicyType": "aws-managed"})
            == "implicitDeny"
        )
        assert (
            decision(iam, arn, {"PolicyArn": mine}, {"PolicyArn": "arn:aws:iam::aws:policy/AmazonS3*"})
            == "implicitDeny"
        )
        assert decision(iam, arn, {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/read-??????"}) == "allowed"
    finally:
        iam.detach_user_policy(UserName=name, PolicyArn=mine)
        iam.detach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")


def test_excluding_the_permissions_boundary(iam):
    name = f"bounded-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    fence = iam.create_policy(PolicyName=f"fence-{name}", PolicyDocument=policy(allow("ec2:*")))["Policy"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=fence["Arn"])
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=policy(allow("s3:GetObject")))
    assert decision(iam, arn) == "implicitDeny"  # the boundary leaves out S3
    assert decision(iam, arn, {"PolicyType": "permission-boundary"}) == "allowed"


@pytest.mark.parametrize(
    "identifier",
    [
        {"PolicyArn": "arn:aws:iam::aws:policy/*S3*"},
        {"PolicyArn": "arn:aws:iam::*:policy/read"},
        {"PolicyArn": "arn:aws:iam::123456789012:user/reader"},
        {"InlinePolicyIdentifier": {"PolicyName": "read", "AttachmentType": "user", "AttachmentName": "*r*"}},
    ],
)
def test_malformed_identifiers_are_invalid_input(iam, reader, identifier):
    with pytest.raises(ClientError) as exc:
        decision(iam, reader[1], identifier)
    error = exc.value.response["Error"]
    assert error["Code"] == "InvalidInput" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "PolicyExclusionList.1" in error["Message"]


def test_an_identifier_needs_exactly_one_member(server, iam, reader):
    # boto3 refuses this itself; the AWS CLI with parameter validation off, or any other client, may send it.
    config = botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1})
    unchecked = server.session().client("iam", endpoint_url=server.url, config=config)
    with pytest.raises(ClientError) as exc:
        unchecked.simulate_principal_policy(
            PolicySourceArn=reader[1],
            ActionNames=["s3:GetObject"],
            PolicyExclusionList=[
                {"PolicyType": "inline", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
            ],
        )
    error = exc.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "Value at 'policyExclusionList.1.member' failed to satisfy constraint" in error["Message"]


def test_organization_levels_in_a_custom_simulation(iam):
    out = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:*"))],
        OrderedOrganizationPolicyInputList=[
            {"ServiceControlPolicyInputList": [policy(allow("*"))]},
            {"ServiceControlPolicyInputList": [policy(allow("s3:Get*"))]},
        ],
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )
    results = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert results["s3:GetObject"]["EvalDecision"] == "allowed"
    assert results["s3:PutObject"]["EvalDecision"] == "implicitDeny"
    assert results["s3:PutObject"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}


def test_a_member_the_simulator_does_not_implement_is_refused(iam, reader):
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=reader[1], ActionNames=["ec2:RunInstances"], ResourceHandlingOption="EC2-VPC-EBS"
        )
    error = exc.value.response["Error"]
    assert (error["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotImplemented",
        501,
    )
    assert error["Message"] == (
        "rolecall does not implement the member ResourceHandlingOption of SimulatePrincipalPolicy; "
        "the request changed nothing."
    )
