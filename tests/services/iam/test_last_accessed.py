"""IAM last accessed reports through the pipeline: roles through their sessions, policies' entities, the
tracking period, output shapes and refusals."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, Harness, allow


def _report(env: Harness, arn: str, granularity: str = "SERVICE_LEVEL") -> tuple[str, dict[str, dict]]:
    env.pipeline.flush_trail()
    job = env.call("GenerateServiceLastAccessedDetails", Arn=arn, Granularity=granularity)["JobId"]
    out = env.call("GetServiceLastAccessedDetails", JobId=job)
    return job, {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}


def test_a_role_is_reported_through_its_sessions(env: Harness, checked) -> None:
    session = env.role_session("worker", allow(["iam:ListRoles", "sts:GetCallerIdentity"]), allow("s3:*"))
    env.call("ListRoles", caller=session)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    job, services = _report(env, role_arn, "ACTION_LEVEL")
    assert set(services) == {"iam", "sts", "s3"}
    assert services["iam"]["LastAuthenticatedEntity"] == role_arn
    assert services["s3"]["TotalAuthenticatedEntities"] == 0
    s3_actions = {a["ActionName"] for a in services["s3"]["TrackedActionsLastAccessed"]}
    assert {"GetObject", "PutObject", "ListAllMyBuckets"} <= s3_actions  # s3:* expanded by the reference
    # The answers fit botocore's output shapes.
    checked("GetServiceLastAccessedDetails", JobId=job, MaxItems=1)
    checked("GetServiceLastAccessedDetailsWithEntities", JobId=job, ServiceNamespace="iam")


def test_a_policy_report_covers_its_entities_and_the_tracking_period(env: Harness) -> None:
    arn = env.call(
        "CreatePolicy", PolicyName="list", PolicyDocument='{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]}',
    )["Policy"]["Arn"]  # fmt: skip
    dev = env.user("dev")
    env.call("AttachUserPolicy", UserName="dev", PolicyArn=arn)
    env.call("CreateRole", RoleName="unused", AssumeRolePolicyDocument=_trust())
    env.call("AttachRolePolicy", RoleName="unused", PolicyArn=arn)
    env.call("ListUsers", caller=dev)
    job, services = _report(env, arn)
    assert services["iam"]["TotalAuthenticatedEntities"] == 1
    entities = env.call("GetServiceLastAccessedDetailsWithEntities", JobId=job, ServiceNamespace="iam")
    by_type = {e["EntityInfo"]["Type"]: e for e in entities["EntityDetailsList"]}
    assert set(by_type) == {"USER", "ROLE"} and "LastAuthenticated" in by_type["USER"]
    assert "LastAuthenticated" not in by_type["ROLE"]
    # 401 days on, the call is outside the 400-day tracking period.
    env.clock.advance(401 * 86400)
    _, later = _report(env, arn)
    assert later["iam"]["TotalAuthenticatedEntities"] == 0 and "LastAuthenticated" not in later["iam"]
    with pytest.raises(AwsError) as exc:
        env.call("GetServiceLastAccessedDetailsWithEntities", JobId=job, ServiceNamespace="ec2")
    assert exc.value.code == "InvalidInput"


def _trust() -> str:
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
    )


def test_bad_arguments(env: Harness) -> None:
    for arn, code in (
        ("arn:aws:iam::123456789012:user/nobody", "NoSuchEntity"),
        ("arn:aws:iam::111122223333:user/elsewhere", "InvalidInput"),
        ("arn:aws:s3:::some-bucket-name", "InvalidInput"),
    ):
        with pytest.raises(AwsError) as exc:
            env.call("GenerateServiceLastAccessedDetails", Arn=arn)
        assert exc.value.code == code, arn
    with pytest.raises(AwsError) as exc:
        env.call("GetServiceLastAccessedDetails", JobId="00000000-0000-0000-0000-000000000000")
    assert exc.value.code == "NoSuchEntity"


def test_reports_are_refused_without_permission(env: Harness) -> None:
    dev = env.user("dev", allow("iam:GenerateServiceLastAccessedDetails", f"arn:aws:iam::{ACCOUNT}:user/dev"))
    job = env.call("GenerateServiceLastAccessedDetails", caller=dev, Arn=f"arn:aws:iam::{ACCOUNT}:user/dev")[
        "JobId"
    ]
    refused = env.denied(dev, "iam", "GenerateServiceLastAccessedDetails", Arn=f"arn:aws:iam::{ACCOUNT}:root")
    assert refused.code == "AccessDenied"
    for op, params in (
        ("GetServiceLastAccessedDetails", {"JobId": job}),
        ("GetServiceLastAccessedDetailsWithEntities", {"JobId": job, "ServiceNamespace": "iam"}),
    ):
        refused = env.denied(dev, "iam", op, **params)
        assert refused.code == "AccessDenied" and f"iam:{op}" in refused.message
