"""A member newer than the handlers, sent by boto3 to a real server, is refused rather than ignored.

The server's snapshot of known members is swapped for one made before SimulatePrincipalPolicy had
PolicyExclusionList and before ContextEntry had ContextKeyType: what a server would hold if botocore added
those members after the handlers were written.
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from rolecall.services import all_services
from rolecall.wire.member_guard import MemberGuard, build_snapshot
from tests.servers import InProcessServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("guard")).start()
    older = copy.deepcopy(build_snapshot(all_services()))
    del older["services"]["iam"]["shapes"]["SimulatePrincipalPolicyRequest"]["PolicyExclusionList"]
    del older["services"]["iam"]["shapes"]["ContextEntry"]["ContextKeyType"]
    s.pipeline.members = MemberGuard(older)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def user_arn(srv) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    return arn


def test_the_new_member_is_refused_and_recorded(srv, user_arn):
    iam = srv.client("iam")
    plain = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=["s3:GetObject"])
    assert plain["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=user_arn,
            ActionNames=["s3:GetObject"],
            PolicyExclusionList=[{"PolicyType": "inline"}],
        )
    response = exc.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotImplemented",
        501,
    )
    assert response["Error"]["Message"] == (
        "rolecall does not implement the member PolicyExclusionList of SimulatePrincipalPolicy; "
        "the request changed nothing."
    )
    srv.pipeline.trail.flush()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "SimulatePrincipalPolicy"}]
    )["Events"]
    assert any(json.loads(e["CloudTrailEvent"]).get("errorCode") == "NotImplemented" for e in events)


def test_a_new_nested_member_is_refused(srv, user_arn):
    iam = srv.client("iam")
    entry = {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"]}
    iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["s3:GetObject"], ContextEntries=[entry]
    )
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(
            PolicySourceArn=user_arn,
            ActionNames=["s3:GetObject"],
            ContextEntries=[{**entry, "ContextKeyType": "ip"}],
        )
    assert "the member ContextEntries.ContextKeyType of SimulatePrincipalPolicy" in str(exc.value)


def test_the_aws_cli_gets_the_same_refusal(srv, user_arn):
    out = srv.cli(
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        user_arn,
        "--action-names",
        "s3:GetObject",
        "--policy-exclusion-list",
        "PolicyType=inline",
        check=False,
    )
    assert out.returncode != 0
    assert "NotImplemented" in out.stderr and "PolicyExclusionList" in out.stderr
