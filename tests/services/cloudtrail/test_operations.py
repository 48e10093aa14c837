"""CloudTrail's event history in process, through the authorizer: LookupEvents over the records the pipeline
writes for every call, allowed or refused, and who may read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, START, allow


def lookup(env, key: str, value: str, **params) -> list[dict]:
    attrs = [{"AttributeKey": key, "AttributeValue": value}]
    return env.invoke("cloudtrail", "LookupEvents", LookupAttributes=attrs, **params)["Events"]


def test_lookup_events_finds_a_change_and_a_refusal_by_user(env):
    env.call("CreateUser", UserName="dev")
    dev = env.user_caller("dev", allow("iam:ListRoles"))
    env.call("ListRoles", caller=dev)
    with pytest.raises(AwsError):
        env.call("CreateRole", caller=dev, RoleName="x", AssumeRolePolicyDocument="{}")
    events = lookup(env, "Username", "dev")
    assert [e["EventName"] for e in events] == ["CreateRole", "ListRoles"]  # newest first
    refused, listed = events
    assert (refused["ReadOnly"], listed["ReadOnly"]) == ("false", "true")
    assert refused["EventTime"] == datetime.fromtimestamp(START, UTC)
    assert refused["Resources"] == [
        {"ResourceType": "AWS::IAM::Role", "ResourceName": f"arn:aws:iam::{ACCOUNT}:role/x"}
    ]
    record = json.loads(refused["CloudTrailEvent"])
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"].endswith(
        "because no identity-based policy allows the iam:CreateRole action"
    )
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/dev"
    # The root's own CreateUser is found by its event name, and only it.
    (created,) = lookup(env, "EventName", "CreateUser")
    assert json.loads(created["CloudTrailEvent"])["userIdentity"]["type"] == "Root"


def test_lookup_events_pages_and_refuses_bad_input(env):
    for name in ("a1", "a2", "a3"):
        env.call("CreateUser", UserName=name)
    first = env.invoke("cloudtrail", "LookupEvents", MaxResults=2)
    rest = env.invoke("cloudtrail", "LookupEvents", MaxResults=2, NextToken=first["NextToken"])
    names = [json.loads(e["CloudTrailEvent"])["requestParameters"]["userName"] for e in first["Events"]]
    assert names == ["a3", "a2"] and [e["EventName"] for e in rest["Events"]][:1] == ["CreateUser"]
    with pytest.raises(AwsError) as bad:
        env.invoke("cloudtrail", "LookupEvents", NextToken="garbage")
    assert (bad.value.code, bad.value.message) == ("InvalidNextTokenException", "Invalid NextToken.")
    with pytest.raises(AwsError) as two:
        env.invoke(
            "cloudtrail",
            "LookupEvents",
            LookupAttributes=[
                {"AttributeKey": "Username", "AttributeValue": "a1"},
                {"AttributeKey": "EventName", "AttributeValue": "CreateUser"},
            ],
        )
    assert two.value.code == "InvalidLookupAttributesException"
    # CloudTrail Insights events only: rolecall records none.
    assert env.invoke("cloudtrail", "LookupEvents", EventCategory="insight") == {"Events": []}


def test_reading_the_trail_needs_cloudtrail_lookup_events(env):
    auditor = env.user("auditor")
    err = env.denied(auditor, "cloudtrail", "LookupEvents")
    assert (err.code, err.message) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: cloudtrail:LookupEvents "
        "on resource: * because no identity-based policy allows the cloudtrail:LookupEvents action",
    )
    env.user_caller("auditor", allow("cloudtrail:LookupEvents"))
    reader = env.user_caller("auditor")
    events = env.invoke("cloudtrail", "LookupEvents", caller=reader, MaxResults=50)["Events"]
    # Its own refusal is there, with its error.
    refusals = [json.loads(e["CloudTrailEvent"]) for e in events if e.get("Username") == "auditor"]
    assert any(r["eventName"] == "LookupEvents" and r["errorCode"] == "AccessDenied" for r in refusals)
