"""Access Analyzer's policy checks against a real server: the AWS CLI and boto3, unchanged."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import as_key, err, new_user


def doc(*statements, version=True):
    body = {"Statement": list(statements)}
    if version:
        body = {"Version": "2012-10-17", **body}
    return json.dumps(body, indent=2)


BUCKET_READ = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::shared", "arn:aws:s3:::shared/*"],
}


def test_cli_validate_policy_reports_codes_and_locations(server, tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text(
        doc(
            {"Effect": "Allow", "Action": ["iam:PassRole", "s3:GetObjekt"], "Resource": "*"},
            version=False,
        )
    )
    out = server.cli(
        "accessanalyzer", "validate-policy", "--policy-type", "IDENTITY_POLICY",
        "--policy-document", f"file://{policy}",
    )  # fmt: skip
    findings = json.loads(out.stdout)["findings"]
    codes = {(f["findingType"], f["issueCode"]) for f in findings}
    assert codes == {
        ("WARNING", "MISSING_VERSION"),
        ("ERROR", "INVALID_ACTION"),
        ("SECURITY_WARNING", "PASS_ROLE_WITH_STAR_IN_RESOURCE"),
    }
    invalid = next(f for f in findings if f["issueCode"] == "INVALID_ACTION")
    assert invalid["findingDetails"] == "The action s3:GetObjekt does not exist."
    location = invalid["locations"][0]
    assert location["path"] == [{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 1}]
    span = location["span"]
    assert policy.read_text()[span["start"]["offset"] : span["end"]["offset"]] == '"s3:GetObjekt"'
    assert invalid["learnMoreLink"].endswith("#access-analyzer-reference-policy-checks-error-invalid-action")


def test_validate_policy_condition_key_checks_and_paging(server):
    aa = server.client("accessanalyzer")
    text = doc(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "iam:GetRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {"s3:prefix": "home/", "aws:SorceAccount": "1"}},
        },
        {"Effect": "Allow", "Action": ["s3:GetObject", "iam:GetRole"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "iam:GetRole"], "Resource": "*"},
    )
    findings = aa.validate_policy(policyDocument=text, policyType="IDENTITY_POLICY")["findings"]
    codes = [f["issueCode"] for f in findings]
    assert codes == [
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
        "INVALID_GLOBAL_CONDITION_KEY",
        "REDUNDANT_STATEMENT",
    ]
    unsupported = findings[0]
    assert "s3:GetObject, iam:GetRole" in unsupported["findingDetails"]  # s3:prefix is ListBucket's key
    first = aa.validate_policy(policyDocument=text, policyType="IDENTITY_POLICY", maxResults=2)
    rest = aa.validate_policy(
        policyDocument=text, policyType="IDENTITY_POLICY", maxResults=2, nextToken=first["nextToken"]
    )
    assert [f["issueCode"] for f in first["findings"] + rest["findings"]] == codes and "nextToken" not in rest
    # A resource policy without a principal, an SCP with one.
    resource = aa.validate_policy(policyDocument=doc(BUCKET_READ), policyType="RESOURCE_POLICY")["findings"]
    assert [f["issueCode"] for f in resource] == ["MISSING_PRINCIPAL"]
    scp = doc({**BUCKET_READ, "Principal": "*"})
    found = aa.validate_policy(policyDocument=scp, policyType="SERVICE_CONTROL_POLICY")["findings"]
    assert [f["issueCode"] for f in found] == ["SCP_SYNTAX_ERROR_PRINCIPAL"]
    with pytest.raises(ClientError) as exc:
        aa.validate_policy(policyDocument=text, policyType="TRUST_POLICY")
    assert err(exc)[0] == "ValidationException" and err(exc)[2] == 400


def test_cli_check_no_new_access(server, tmp_path):
    existing, new = tmp_path / "existing.json", tmp_path / "new.json"
    existing.write_text(doc(BUCKET_READ))
    wider = {**BUCKET_READ, "Action": ["s3:GetObject", "s3:GetObjectAcl", "s3:ListBucket"]}
    new.write_text(doc(wider))
    args = ["accessanalyzer", "check-no-new-access", "--policy-type", "IDENTITY_POLICY"]
    out = json.loads(
        server.cli(
            *args,
            "--existing-policy-document",
            f"file://{existing}",
            "--new-policy-document",
            f"file://{new}",
        ).stdout
    )
    assert out == {
        "result": "FAIL",
        "message": "The modified permissions grant new access compared to your existing policy.",
        "reasons": [{"description": "New access in the statement with index: 0.", "statementIndex": 0}],
    }
    reverse = json.loads(
        server.cli(
            *args,
            "--existing-policy-document",
            f"file://{new}",
            "--new-policy-document",
            f"file://{existing}",
        ).stdout
    )
    assert reverse["result"] == "PASS" and reverse["reasons"] == []


def test_check_no_new_access_honours_conditions(server):
    aa = server.client("accessanalyzer")
    open_read = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    same_account = {**open_read, "Condition": {"StringEquals": {"aws:ResourceAccount": "123456789012"}}}
    # Adding the condition narrows: no new access. Dropping it widens: new access, named by Sid.
    narrowed = aa.check_no_new_access(
        existingPolicyDocument=doc(open_read),
        newPolicyDocument=doc(same_account),
        policyType="IDENTITY_POLICY",
    )
    assert narrowed["result"] == "PASS"
    widened = aa.check_no_new_access(
        existingPolicyDocument=doc(same_account),
        newPolicyDocument=doc(open_read),
        policyType="IDENTITY_POLICY",
    )
    assert widened["result"] == "FAIL" and widened["reasons"][0]["statementId"] == "Read"
    # Resource policies: a grant to every principal is new access next to a grant to one account.
    one_account = {**BUCKET_READ, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    everyone = {**BUCKET_READ, "Principal": "*"}
    wider = aa.check_no_new_access(
        existingPolicyDocument=doc(one_account), newPolicyDocument=doc(everyone), policyType="RESOURCE_POLICY"
    )
    assert wider["result"] == "FAIL"
    with pytest.raises(ClientError) as exc:
        aa.check_no_new_access(
            existingPolicyDocument="{", newPolicyDocument=doc(open_read), policyType="IDENTITY_POLICY"
        )
    assert err(exc)[0] == "ValidationException"


def test_check_access_not_granted_and_no_public_access(server):
    aa = server.client("accessanalyzer")
    granted = aa.check_access_not_granted(
        policyDocument=doc(BUCKET_READ), access=[{"actions": ["s3:GetObject"]}], policyType="IDENTITY_POLICY"
    )
    assert granted["result"] == "FAIL" and granted["reasons"][0]["statementIndex"] == 0
    not_granted = aa.check_access_not_granted(
        policyDocument=doc(BUCKET_READ),
        access=[{"actions": ["s3:DeleteBucket"], "resources": ["arn:aws:s3:::other/key"]}],
        policyType="IDENTITY_POLICY",
    )
    assert not_granted == {
        "result": "PASS",
        "message": "The policy document does not grant access to perform one or more of the listed actions or resources.",
        "reasons": [],
        "ResponseMetadata": not_granted["ResponseMetadata"],
    }
    elsewhere = aa.check_access_not_granted(
        policyDocument=doc(BUCKET_READ),
        access=[{"resources": ["arn:aws:s3:::shared/key"]}],
        policyType="IDENTITY_POLICY",
    )
    assert elsewhere["result"] == "FAIL"
    assert (
        elsewhere["message"]
        == "The policy document grants access to perform one or more of the listed resources."
    )
    public = {**BUCKET_READ, "Principal": "*"}
    assert (
        aa.check_no_public_access(policyDocument=doc(public), resourceType="AWS::S3::Bucket")["result"]
        == "FAIL"
    )
    confined = {**public, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}
    assert (
        aa.check_no_public_access(policyDocument=doc(confined), resourceType="AWS::S3::Bucket")["result"]
        == "PASS"
    )
    trust = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    out = aa.check_no_public_access(
        policyDocument=doc(trust), resourceType="AWS::IAM::AssumeRolePolicyDocument"
    )
    assert out["result"] == "FAIL"


def test_a_user_without_permission_is_refused(server):
    _, key = new_user(server, server.client("iam"))
    with pytest.raises(ClientError) as exc:
        as_key(server, key, "accessanalyzer").validate_policy(
            policyDocument=doc(BUCKET_READ), policyType="IDENTITY_POLICY"
        )
    code, message, status = err(exc)
    assert code == "AccessDeniedException" and status == 403
    assert "access-analyzer:ValidatePolicy" in message
