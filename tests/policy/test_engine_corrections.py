"""Engine rules from the IAM User Guide: SCPs do not limit anonymous callers, a wildcard in an ARN's resource
type matches nothing, and date values are read as IAM reads them."""

from __future__ import annotations

import json

import pytest

from rolecall.policy import MalformedPolicy, Policy, Request, evaluate
from rolecall.policy.conditions import parse_date

BUCKET_POLICY = Policy.parse(
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::pub/*",
                }
            ],
        }
    ),
    kind="resource",
)
DENY_ALL_SCP = Policy.parse(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}', kind="scp"
)


def identity(resource: str, *, not_resource: bool = False) -> Policy:
    statement = {"Effect": "Allow", "Action": "*", ("NotResource" if not_resource else "Resource"): resource}
    return Policy.parse(json.dumps({"Version": "2012-10-17", "Statement": [statement]}), kind="identity")


def test_scps_do_not_apply_to_anonymous_callers():
    request = Request(action="s3:GetObject", resource="arn:aws:s3:::pub/k", principal="*")
    assert evaluate(
        request, resource_policy=BUCKET_POLICY, scps=[DENY_ALL_SCP], resource_account="123456789012"
    ).allowed
    # A principal of the organization is still bound by them.
    user = Request(
        action="s3:GetObject", resource="arn:aws:s3:::pub/k", principal="arn:aws:iam::123456789012:user/u"
    )
    decision = evaluate(
        user, resource_policy=BUCKET_POLICY, scps=[DENY_ALL_SCP], resource_account="123456789012"
    )
    assert decision.decision == "explicitDeny"


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        (
            "arn:aws:ec2:us-east-1:123456789012:*/12345",
            "arn:aws:ec2:us-east-1:123456789012:instance/12345",
            False,
        ),
        (
            "arn:aws:ec2:us-east-1:123456789012:*:12345",
            "arn:aws:ec2:us-east-1:123456789012:instance:12345",
            False,
        ),
        ("arn:aws:iam::123456789012:user/*", "arn:aws:iam::123456789012:user/bob", True),
        ("arn:aws:iam::123456789012:*", "arn:aws:iam::123456789012:user/bob", True),
        ("arn:aws:s3:::*/key", "arn:aws:s3:::bucket/key", True),  # S3's ARNs have no resource type
        ("arn:aws:sqs:*:123456789012:queue*", "arn:aws:sqs:us-east-1:123456789012:queue-1", True),
    ],
)
def test_a_wildcard_in_the_resource_type_grants_nothing(pattern, resource, allowed):
    request = Request(action="ec2:StartInstances", resource=resource)
    assert evaluate(request, identity=[identity(pattern)]).allowed is allowed


def test_a_not_resource_with_a_wildcard_resource_type_does_not_grant_everything():
    request = Request(action="ec2:StartInstances", resource="arn:aws:ec2:us-east-1:123456789012:volume/v")
    pattern = "arn:aws:ec2:us-east-1:123456789012:*/12345"
    assert not evaluate(request, identity=[identity(pattern, not_resource=True)]).allowed


def test_iam_refuses_a_wildcard_in_its_own_resource_type():
    with pytest.raises(MalformedPolicy):
        identity("arn:aws:iam::123456789012:u*")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2024-01-01", 1704067200),
        ("2024-01", 1704067200),
        ("2024-01-01T00:00Z", 1704067200),
        ("2024-01-01T01:00:00+01:00", 1704067200),
        ("2024-01-01T00:00:00.250Z", 1704067200.25),
        ("2024-01-01T00:00:00", 1704067200),  # no zone: UTC
        ("1704067200", 1704067200),
        ("9223372036854775807", 9223372036854775807),
        ("2024-01-01 00:00:00", None),  # a space is not the T
        ("2024-W01-1", None),  # week dates are not in the W3C profile
        ("20240101T000000Z", None),  # nor the basic format
        ("2024-02-30", None),
        ("9223372036854775808", None),  # past a signed 64-bit integer
        ("not a date", None),
    ],
)
def test_date_values(text, seconds):
    assert parse_date(text) == (None if seconds is None else float(seconds))
