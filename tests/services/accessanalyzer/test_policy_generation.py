"""Policy generation through the pipeline on a fake clock: the time range, placeholders, listing, refusals."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rolecall.authz.service_reference import service_reference
from rolecall.errors import AwsError
from rolecall.services.accessanalyzer.policy_generation import policy_document
from tests.services.conftest import ACCOUNT, ACCOUNT_TRUST, Harness, allow

SVC = "access-analyzer"
DAY = 86400


def _start(env: Harness, principal: str, start, end=None, caller=None) -> str:
    details = {"trails": [], "accessRole": f"arn:aws:iam::{ACCOUNT}:role/reader", "startTime": start}
    if end is not None:
        details["endTime"] = end
    return env.invoke(
        SVC, "StartPolicyGeneration", caller=caller,
        policyGenerationDetails={"principalArn": principal}, cloudTrailDetails=details,
    )["jobId"]  # fmt: skip


def _policy(env: Harness, job: str, **more) -> dict:
    out = env.invoke(SVC, "GetGeneratedPolicy", jobId=job, **more)
    return json.loads(out["generatedPolicyResult"]["generatedPolicies"][0]["policy"])


def _grants(document: dict) -> dict[str, object]:
    """Action -> its Resource, over the statements (actions sharing resources share a statement)."""
    out = {}
    for st in document["Statement"]:
        for action in [st["Action"]] if isinstance(st["Action"], str) else st["Action"]:
            out[action] = st["Resource"]
    return out


def test_generated_policy_covers_the_time_range(env: Harness) -> None:
    env.call("CreateRole", RoleName="reader", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    session = env.role_session("app", allow(["iam:ListUsers", "iam:GetUser", "s3:ListAllMyBuckets"]))
    env.call("ListUsers", caller=session)
    early = env.clock.now()
    env.clock.advance(2 * DAY)
    env.invoke("s3", "ListBuckets", caller=session)
    env.call("CreateUser", UserName="u")
    env.call("GetUser", caller=session, UserName="u")
    role = f"arn:aws:iam::{ACCOUNT}:role/app"
    everything = _start(env, role, early - timedelta(hours=1))
    actions = _grants(_policy(env, everything))
    assert actions == {
        "iam:GetUser": f"arn:aws:iam::{ACCOUNT}:user/u",
        "iam:ListUsers": "*",
        "s3:ListAllMyBuckets": "*",
    }
    later = _start(env, role, early + timedelta(days=1))
    assert set(_grants(_policy(env, later))) == {"iam:GetUser", "s3:ListAllMyBuckets"}
    first_day = _start(env, role, early - timedelta(hours=1), early + timedelta(hours=1))
    assert _grants(_policy(env, first_day)) == {"iam:ListUsers": "*"}
    # Placeholders: only for actions with a resource type (ListUsers and ListAllMyBuckets have none).
    assert _grants(_policy(env, everything, includeResourcePlaceholders=True)) == actions
    listed = env.invoke(SVC, "ListPolicyGenerations", principalArn=role, maxResults=2)
    assert [j["jobId"] for j in listed["policyGenerations"]] == [everything, later] and listed["nextToken"]
    retried = env.invoke(
        SVC, "StartPolicyGeneration", clientToken="once",
        policyGenerationDetails={"principalArn": role},
        cloudTrailDetails={"trails": [], "accessRole": f"arn:aws:iam::{ACCOUNT}:role/reader", "startTime": early},
    )["jobId"]  # fmt: skip
    again = env.invoke(
        SVC, "StartPolicyGeneration", clientToken="once",
        policyGenerationDetails={"principalArn": role},
        cloudTrailDetails={"trails": [], "accessRole": f"arn:aws:iam::{ACCOUNT}:role/reader", "startTime": early},
    )["jobId"]  # fmt: skip
    assert again == retried
    env.invoke(SVC, "CancelPolicyGeneration", jobId=first_day)
    assert env.invoke(SVC, "GetGeneratedPolicy", jobId=first_day)["jobDetails"]["status"] == "SUCCEEDED"


def test_placeholders_come_from_the_reference(env: Harness) -> None:
    with env.store.transaction() as tx:
        ctx = env.context("StartPolicyGeneration", tx, service=SVC)
        used = [("s3:GetObject", []), ("iam:GetRole", [f"arn:aws:iam::{ACCOUNT}:role/app"])]
        document = json.loads(policy_document(used, service_reference(), True, ctx))
        plain = json.loads(policy_document(used, service_reference(), False, ctx))
    assert _grants(document) == {
        "s3:GetObject": "arn:aws:s3:::${BucketName}/${ObjectName}",
        "iam:GetRole": f"arn:aws:iam::{ACCOUNT}:role/app",
    }
    assert _grants(plain)["s3:GetObject"] == "*"


def test_bad_ranges_and_principals(env: Harness) -> None:
    env.call("CreateRole", RoleName="reader", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    now = env.clock.now()
    role = f"arn:aws:iam::{ACCOUNT}:role/reader"
    for principal, start, end in (
        (role, now, now - timedelta(days=1)),
        (role, now - timedelta(days=100), now),
        (f"arn:aws:iam::{ACCOUNT}:group/readers", now - timedelta(days=1), None),
        ("arn:aws:iam::111122223333:role/elsewhere", now - timedelta(days=1), None),
    ):
        with pytest.raises(AwsError) as exc:
            _start(env, principal, start, end)
        assert exc.value.code == "ValidationException", (principal, start, end)


def test_policy_generation_is_refused_without_permission(env: Harness) -> None:
    env.call("CreateRole", RoleName="reader", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    job = _start(env, f"arn:aws:iam::{ACCOUNT}:role/reader", env.clock.now() - timedelta(days=1))
    dev = env.user("dev", allow("access-analyzer:StartPolicyGeneration"))
    refused = env.denied(
        dev, SVC, "StartPolicyGeneration",
        policyGenerationDetails={"principalArn": f"arn:aws:iam::{ACCOUNT}:role/reader"},
        cloudTrailDetails={"trails": [], "accessRole": f"arn:aws:iam::{ACCOUNT}:role/reader", "startTime": env.clock.now()},
    )  # fmt: skip
    assert refused.code == "AccessDenied" and "iam:PassRole" in refused.message
    for op, params in (
        ("GetGeneratedPolicy", {"jobId": job}),
        ("ListPolicyGenerations", {}),
        ("CancelPolicyGeneration", {"jobId": job}),
    ):
        refused = env.denied(dev, SVC, op, **params)
        assert refused.code == "AccessDenied" and f"access-analyzer:{op}" in refused.message
