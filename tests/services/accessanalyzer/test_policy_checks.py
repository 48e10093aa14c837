"""ValidatePolicy and the custom policy checks through the pipeline: findings, engine-decided checks, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolecall.authz.service_reference import key_matches, service_reference
from rolecall.errors import AwsError
from rolecall.services.accessanalyzer.locations import Locator
from tests.services.conftest import Harness, allow, policy

SVC = "access-analyzer"


def codes(env: Harness, document: str, policy_type: str = "IDENTITY_POLICY", **more: Any) -> list[str]:
    out = env.invoke(SVC, "ValidatePolicy", policyDocument=document, policyType=policy_type, **more)
    return [f"{f['findingType']}:{f['issueCode']}" for f in out["findings"]]


def test_reference_knows_actions_wildcards_and_keys() -> None:
    ref = service_reference()
    pass_role = ref.action("iam:passrole")
    assert pass_role is not None and pass_role.full_name == "iam:PassRole"
    assert "iam:PassedToService" in pass_role.condition_keys
    gets = {a.full_name for a in ref.matching_actions("s3:Get*")}
    assert "s3:GetObject" in gets and "s3:PutObject" not in gets
    assert "s3:prefix" in ref.condition_keys_for(ref.action("s3:ListBucket"))  # type: ignore[arg-type]
    assert key_matches("s3:ExistingObjectTag/<key>", "s3:ExistingObjectTag/team")
    assert not key_matches("s3:prefix", "s3:prefixes")


def test_locator_spans_point_at_the_text() -> None:
    text = '{"Statement": [\n  {"Action": ["a:b", "c:d"]}]}'
    loc = Locator(text).location(("value", "Statement"), ("index", 0), ("value", "Action"), ("index", 1))
    start, end = loc["span"]["start"], loc["span"]["end"]
    assert text[start["offset"] : end["offset"]] == '"c:d"'
    assert (start["line"], start["column"]) == (2, 21)  # lines from 1, columns from 0
    assert Locator("{not json").spans == {}


def test_validate_policy_findings_by_type(env: Harness) -> None:
    assert codes(env, policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))) == []
    no_version = json.dumps({"Statement": [allow("s3:GetObject")]})
    assert codes(env, no_version) == ["WARNING:MISSING_VERSION"]
    assert codes(env, policy(allow("iam:PassRole"))) == ["SECURITY_WARNING:PASS_ROLE_WITH_STAR_IN_RESOURCE"]
    assert codes(env, policy(allow("iam:*"))) == [
        "SECURITY_WARNING:PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE"
    ]
    assert codes(env, policy(allow(["iam:*", "iam:PassRole"]))) == [
        "SUGGESTION:REDUNDANT_ACTION",
        "SECURITY_WARNING:PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
    ]
    out = env.invoke(
        SVC, "ValidatePolicy", policyType="IDENTITY_POLICY",
        policyDocument=policy(allow(["s3:Get*", "s3:GetObject", "s3:GetObjectAcl"], "arn:aws:s3:::b/*")),
    )  # fmt: skip
    (redundant,) = out["findings"]  # one per statement: how many, an example, and where each one is
    assert redundant["findingDetails"].startswith("The 2 action(s) are redundant")
    assert [loc["path"][-1] for loc in redundant["locations"]] == [{"index": 1}, {"index": 2}]
    # A condition on iam:PassedToService removes the PassRole finding.
    scoped = allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})
    assert codes(env, policy(scoped)) == []
    assert codes(env, policy(allow("ec2:Describe*"), allow("ec2:Describe*"))) == [
        "SUGGESTION:REDUNDANT_STATEMENT"
    ]
    assert codes(env, policy(allow("s3:GetObject", ["arn:aws:s3:::b/*", "arn:aws:s3:::b/x"]))) == [
        "SUGGESTION:REDUNDANT_RESOURCE"
    ]
    assert codes(env, policy(allow("nosuchservice:Get"), allow("s3:Frobnicate"))) == [
        "ERROR:INVALID_SERVICE_IN_ACTION",
        "ERROR:INVALID_ACTION",
    ]
    bad_keys = allow("s3:ListBucket", Condition={"StringLike": {"s3:prefx": "a/*", "aws:SourceArn": "arn:*"}})
    assert codes(env, policy(bad_keys)) == ["ERROR:INVALID_SERVICE_CONDITION_KEY"]
    assert codes(env, policy(allow("s3:ListBucket", Condition={"StringEqualz": {"s3:prefix": "a"}}))) == [
        "ERROR:INVALID_CONDITION_OPERATOR"
    ]
    assert codes(env, '{"Version": "2012-10-17", "Statement": [') == ["ERROR:JSON_SYNTAX_ERROR"]
    assert codes(env, "[" * 3000 + "]" * 3000) == ["ERROR:JSON_SYNTAX_ERROR"]
    # Bucket ARNs name no account or Region; access point ARNs do.
    assert codes(env, policy(allow("s3:GetObject", "arn:aws:s3::123456789012:b/*"))) == [
        "ERROR:ARN_ACCOUNT_NOT_ALLOWED"
    ]
    assert codes(env, policy(allow("s3:GetObject", "arn:aws:s3:us-east-1::b/*"))) == [
        "ERROR:ARN_REGION_NOT_ALLOWED"
    ]
    assert (
        codes(env, policy(allow("s3:GetObject", "arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/k")))
        == []
    )
    assert codes(env, json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Permit"}]})) == [
        "ERROR:INVALID_EFFECT",
        "ERROR:MISSING_ACTION",
        "ERROR:MISSING_RESOURCE",
    ]
    with_principal = {**allow("s3:GetObject"), "Principal": "*"}
    assert codes(env, policy(with_principal)) == ["ERROR:UNSUPPORTED_PRINCIPAL"]
    not_principal = {**allow("s3:GetObject"), "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}
    assert codes(env, policy(not_principal), "RESOURCE_POLICY") == [
        "SECURITY_WARNING:ALLOW_WITH_NOT_PRINCIPAL"
    ]
    sids = policy({**allow("s3:GetObject"), "Sid": "A"}, {**allow("s3:PutObject"), "Sid": "A"})
    assert codes(env, sids) == ["ERROR:UNIQUE_SIDS_REQUIRED"]
    assert codes(env, policy({**allow("s3:GetObject"), "Principal": "*"}), "RESOURCE_CONTROL_POLICY") == []


def test_policy_checks_decide_with_the_engine(env: Harness) -> None:
    read = allow(["s3:GetObject"], "arn:aws:s3:::b/*")
    read_write = allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::b/*")
    out = env.invoke(
        SVC, "CheckNoNewAccess", newPolicyDocument=policy(read_write), existingPolicyDocument=policy(read),
        policyType="IDENTITY_POLICY",
    )  # fmt: skip
    assert out["result"] == "FAIL" and out["reasons"] == [
        {"description": "New access in the statement with index: 0.", "statementIndex": 0}
    ]
    # A Deny in the new policy that takes the new action back: no new access.
    deny_put = {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}
    out = env.invoke(
        SVC, "CheckNoNewAccess", newPolicyDocument=policy(read_write, deny_put), existingPolicyDocument=policy(read),
        policyType="IDENTITY_POLICY",
    )  # fmt: skip
    assert out["result"] == "PASS"
    out = env.invoke(
        SVC, "CheckAccessNotGranted", policyDocument=policy(read_write), policyType="IDENTITY_POLICY",
        access=[{"actions": ["s3:DeleteObject"]}],
    )  # fmt: skip
    assert out["result"] == "PASS"
    mfa = allow("s3:DeleteObject", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    out = env.invoke(
        SVC, "CheckAccessNotGranted", policyDocument=policy(mfa), policyType="IDENTITY_POLICY",
        access=[{"actions": ["s3:DeleteObject"]}],
    )  # fmt: skip
    assert out["result"] == "FAIL"  # granted under some condition is granted
    public = {**read, "Principal": {"AWS": "*"}}
    vpc_only = {**public, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    for document, expected in ((public, "FAIL"), (vpc_only, "PASS")):
        out = env.invoke(
            SVC, "CheckNoPublicAccess", policyDocument=policy(document), resourceType="AWS::S3::Bucket"
        )
        assert out["result"] == expected, document


def test_bad_input_is_refused_with_validation_errors(env: Harness) -> None:
    for op, params in (
        ("CheckNoNewAccess", {"newPolicyDocument": "[]", "existingPolicyDocument": policy(allow("s3:*"))}),
        (
            "CheckAccessNotGranted",
            {"policyDocument": policy(allow("s3:*")), "access": [{"actions": ["s3:*"]}]},
        ),
        ("CheckAccessNotGranted", {"policyDocument": policy(allow("s3:*")), "access": [{}]}),
    ):
        with pytest.raises(AwsError) as exc:
            env.invoke(SVC, op, policyType="IDENTITY_POLICY", **params)
        assert exc.value.code == "ValidationException", (op, params)
    with pytest.raises(AwsError) as exc:
        env.invoke(SVC, "ValidatePolicy", policyDocument="{}", policyType="IDENTITY_POLICY", nextToken="x")
    assert exc.value.code == "ValidationException"


def test_policy_checks_are_refused_without_permission(env: Harness) -> None:
    dev = env.user("dev", allow("access-analyzer:ValidatePolicy"))
    assert env.invoke(SVC, "ValidatePolicy", caller=dev, policyDocument="{}", policyType="IDENTITY_POLICY")
    for op, params in (
        (
            "CheckNoNewAccess",
            {"newPolicyDocument": "{}", "existingPolicyDocument": "{}", "policyType": "IDENTITY_POLICY"},
        ),
        (
            "CheckAccessNotGranted",
            {
                "policyDocument": "{}",
                "policyType": "IDENTITY_POLICY",
                "access": [{"actions": ["s3:GetObject"]}],
            },
        ),
        ("CheckNoPublicAccess", {"policyDocument": "{}", "resourceType": "AWS::S3::Bucket"}),
    ):
        refused = env.denied(dev, SVC, op, **params)
        assert refused.code == "AccessDenied" and f"access-analyzer:{op}" in refused.message
