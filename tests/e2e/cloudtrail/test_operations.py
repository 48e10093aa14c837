"""CloudTrail's event history against a real server with boto3: records without secrets, denials, insights."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, name, new_user


def test_trail_records_without_secrets(server):
    iam = server.client("iam")
    user = name("audited")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.create_login_profile(UserName=user, Password="Sup3r-Secret-Passw0rd!")
    ct = server.client("cloudtrail")
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}]
    )
    mine = [e for e in events["Events"] if user in e["CloudTrailEvent"]]
    assert mine, events
    rec = json.loads(mine[0]["CloudTrailEvent"])
    assert rec["eventSource"] == "iam.amazonaws.com" and rec["userIdentity"]["type"] == "Root"
    assert rec["requestParameters"]["userName"] == user
    text = json.dumps([json.loads(e["CloudTrailEvent"]) for e in ct.lookup_events(MaxResults=50)["Events"]])
    assert key["SecretAccessKey"] not in text
    assert "Sup3r-Secret-Passw0rd!" not in text


def test_insights_lookup_finds_no_management_events(server):
    server.client("iam").list_users()
    ct = server.client("cloudtrail")
    assert ct.lookup_events(MaxResults=5)["Events"]
    # EventCategory=insight asks for CloudTrail Insights events only; rolecall records none.
    assert ct.lookup_events(EventCategory="insight", MaxResults=5)["Events"] == []


def test_denials_are_in_the_trail(server):
    iam = server.client("iam")
    user, key = new_user(server, iam)
    with pytest.raises(ClientError):
        server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]).create_role(
            RoleName=name("nope"), AssumeRolePolicyDocument=TRUST_EC2
        )
    ct = server.client("cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])[
        "Events"
    ]
    recs = [json.loads(e["CloudTrailEvent"]) for e in events]
    denied = [r for r in recs if r["eventName"] == "CreateRole"]
    assert denied and denied[0]["errorCode"] == "AccessDenied"
    assert denied[0]["userIdentity"]["accessKeyId"] == key["AccessKeyId"]
