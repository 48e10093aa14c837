"""The shared "a service assumes a role for one of its resources" step."""

from __future__ import annotations

import json

import pytest

from rolecall.services.sts.errors import ServiceCannotAssumeRole
from rolecall.services.sts.service_sessions import assume_role_for_service
from tests.servers import InProcessServer

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:f1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("svc")).start()
    yield s
    s.stop()


def trust(condition=None):
    st = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def test_service_gets_credentials_only_where_the_trust_policy_allows(srv):
    iam = srv.client("iam")
    pinned = iam.create_role(
        RoleName="pinned",
        AssumeRolePolicyDocument=trust(
            {
                "ArnEquals": {"aws:SourceArn": FUNCTION_ARN},
                "StringEquals": {"aws:SourceAccount": "123456789012"},
            }
        ),
    )["Role"]
    creds = assume_role_for_service(
        srv.pipeline,
        service="lambda.amazonaws.com",
        role_arn=pinned["Arn"],
        session_name="f1",
        duration=900,
        source_arn=FUNCTION_ARN,
        source_account="123456789012",
        session_context={"lambda:SourceFunctionArn": FUNCTION_ARN},
    )
    c = creds.as_dict()
    ident = srv.client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["Token"]).get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::123456789012:assumed-role/pinned/f1"
    with pytest.raises(ServiceCannotAssumeRole):  # another function: the confused-deputy condition refuses
        assume_role_for_service(
            srv.pipeline,
            service="lambda.amazonaws.com",
            role_arn=pinned["Arn"],
            session_name="f2",
            duration=900,
            source_arn=FUNCTION_ARN.replace("f1", "f2"),
            source_account="123456789012",
        )
    with pytest.raises(ServiceCannotAssumeRole):  # a service the role does not trust
        assume_role_for_service(
            srv.pipeline,
            service="ec2.amazonaws.com",
            role_arn=pinned["Arn"],
            session_name="i-1",
            duration=900,
        )
    srv.pipeline.trail.flush()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
    )["Events"]
    recs = [json.loads(e["CloudTrailEvent"]) for e in events]
    ok = next(r for r in recs if r["requestParameters"]["roleSessionName"] == "f1")
    assert ok["userIdentity"] == {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    assert c["SecretAccessKey"] not in json.dumps(recs) and c["Token"] not in json.dumps(recs)
    refused = next(r for r in recs if r["requestParameters"]["roleSessionName"] == "f2")
    assert refused["errorCode"] == "AccessDenied"
