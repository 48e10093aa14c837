"""Policy generation from the trail against a real server: start-policy-generation with the AWS CLI, the
generated policy read with boto3, and the policy holding what the role did -- and nothing it was refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, name, new_user

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def test_cli_generates_the_policy_of_what_a_role_did(server):
    iam, s3 = server.client("iam"), server.client("s3")
    worker, reader = name("worker"), name("analyzer-access")
    iam.create_role(RoleName=reader, AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName=worker, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(
        RoleName=worker, PolicyName="p", PolicyDocument=allow(["iam:GetRole", "s3:ListAllMyBuckets"])
    )
    bucket = name("gen-bucket")
    s3.create_bucket(Bucket=bucket)
    creds = server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{worker}", RoleSessionName="job"
    )["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    server.client("iam", *session).get_role(RoleName=worker)
    server.client("s3", *session).list_buckets()
    with pytest.raises(ClientError):  # refused: not part of what it did
        server.client("iam", *session).list_users()
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    details = {
        "trails": [
            {"cloudTrailArn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main", "allRegions": True}
        ],
        "accessRole": f"arn:aws:iam::{ACCOUNT}:role/{reader}",
        "startTime": start,
    }
    out = server.cli(
        "accessanalyzer", "start-policy-generation",
        "--policy-generation-details", json.dumps({"principalArn": f"arn:aws:iam::{ACCOUNT}:role/{worker}"}),
        "--cloud-trail-details", json.dumps(details),
    )  # fmt: skip
    job = json.loads(out.stdout)["jobId"]
    aa = server.client("accessanalyzer")
    result = aa.get_generated_policy(jobId=job)
    assert result["jobDetails"]["status"] == "SUCCEEDED"
    properties = result["generatedPolicyResult"]["properties"]
    assert properties["principalArn"] == f"arn:aws:iam::{ACCOUNT}:role/{worker}"
    assert properties["cloudTrailProperties"]["trailProperties"][0]["cloudTrailArn"].endswith(":trail/main")
    policy = json.loads(result["generatedPolicyResult"]["generatedPolicies"][0]["policy"])
    statements = {json.dumps(st["Action"]): st for st in policy["Statement"]}
    assert set(statements) == {'"iam:GetRole"', '"s3:ListAllMyBuckets"'}
    assert (
        statements['"iam:GetRole"']["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/{worker}"
    )  # from the trail
    assert statements['"s3:ListAllMyBuckets"']["Resource"] == "*"
    jobs = aa.list_policy_generations(principalArn=f"arn:aws:iam::{ACCOUNT}:role/{worker}")[
        "policyGenerations"
    ]
    assert [j["jobId"] for j in jobs] == [job]
    aa.cancel_policy_generation(jobId=job)  # already complete: nothing to cancel
    assert aa.get_generated_policy(jobId=job)["jobDetails"]["status"] == "SUCCEEDED"


def test_policy_generation_refusals(server):
    iam = server.client("iam")
    reader = name("reader")
    iam.create_role(RoleName=reader, AssumeRolePolicyDocument=TRUST)
    details = {
        "trails": [],
        "accessRole": f"arn:aws:iam::{ACCOUNT}:role/{reader}",
        "startTime": datetime.now(UTC),
    }
    aa = server.client("accessanalyzer")
    with pytest.raises(ClientError) as exc:
        aa.start_policy_generation(
            policyGenerationDetails={"principalArn": f"arn:aws:iam::{ACCOUNT}:role/nobody-here"},
            cloudTrailDetails=details,
        )
    assert err(exc)[0] == "ValidationException"
    # StartPolicyGeneration passes the access role to Access Analyzer: the caller needs iam:PassRole on it.
    _, key = new_user(server, iam, allow("access-analyzer:StartPolicyGeneration"))
    with pytest.raises(ClientError) as exc:
        as_key(server, key, "accessanalyzer").start_policy_generation(
            policyGenerationDetails={"principalArn": f"arn:aws:iam::{ACCOUNT}:role/{reader}"},
            cloudTrailDetails=details,
        )
    assert err(exc)[0] == "AccessDeniedException" and "iam:PassRole" in err(exc)[1]
    with pytest.raises(ClientError) as exc:
        aa.get_generated_policy(jobId="00000000-0000-0000-0000-000000000000")
    assert err(exc)[0] == "ResourceNotFoundException"
