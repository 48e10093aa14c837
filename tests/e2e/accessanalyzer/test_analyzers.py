"""Analyzers, archive rules and findings against a real server, on a planted account: each external access
finding type, conditions that remove one, archive rules, UpdateFindings and RESOLVED findings."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import as_key, err, name, new_user

ACCOUNT = "123456789012"


def trust(principal, condition=None, action="sts:AssumeRole"):
    st = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


@pytest.fixture(scope="module")
def planted(server):
    """Roles and a bucket, each trusting (or not) someone outside the account."""
    iam, s3 = server.client("iam"), server.client("s3")
    roles = {
        "cross": trust(
            {"AWS": "arn:aws:iam::111122223333:root"}, {"StringEquals": {"sts:ExternalId": "x-1"}}
        ),
        "public": trust({"AWS": "*"}),
        "public-confined": trust({"AWS": "*"}, {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}),
        "deputy": trust({"Service": "lambda.amazonaws.com"}),
        "deputy-confined": trust(
            {"Service": "lambda.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        ),
        "internal": trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
    }
    names = {}
    for label, document in roles.items():
        names[label] = name(label)
        iam.create_role(RoleName=names[label], AssumeRolePolicyDocument=document)
    bucket = name("shared-data")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    return names, bucket


def role_arn(role):
    return f"arn:aws:iam::{ACCOUNT}:role/{role}"


def test_external_access_findings(server, planted):
    names, bucket = planted
    aa = server.client("accessanalyzer")
    arn = aa.create_analyzer(analyzerName=name("account"), type="ACCOUNT")["arn"]
    assert arn.startswith(f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/")
    findings = aa.list_findings(analyzerArn=arn)["findings"]
    by_resource = {f["resource"]: f for f in findings}
    mine = {label: by_resource.get(role_arn(role)) for label, role in names.items()}
    assert mine["public-confined"] is None and mine["deputy-confined"] is None and mine["internal"] is None
    assert mine["cross"]["principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert mine["cross"]["condition"] == {"sts:ExternalId": "x-1"} and mine["cross"]["isPublic"] is False
    assert mine["cross"]["action"] == ["sts:AssumeRole"] and mine["cross"]["status"] == "ACTIVE"
    assert mine["public"]["isPublic"] is True and mine["deputy"]["principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    shared = by_resource[f"arn:aws:s3:::{bucket}"]
    assert (
        shared["resourceType"] == "AWS::S3::Bucket"
        and shared["isPublic"]
        and shared["action"] == ["s3:GetObject"]
    )
    one = aa.get_finding(analyzerArn=arn, id=mine["cross"]["id"])["finding"]
    assert one["resource"] == role_arn(names["cross"])
    # The AWS CLI's list-findings-v2, and GetFindingV2's details.
    out = json.loads(server.cli("accessanalyzer", "list-findings-v2", "--analyzer-arn", arn).stdout)
    assert {f["findingType"] for f in out["findings"]} == {"ExternalAccess"}
    assert {f["id"] for f in out["findings"]} == {f["id"] for f in findings}
    v2 = aa.get_finding_v2(analyzerArn=arn, id=mine["public"]["id"])
    assert v2["findingDetails"] == [
        {
            "externalAccessDetails": {
                "action": ["sts:AssumeRole"],
                "condition": {},
                "isPublic": True,
                "principal": {"AWS": "*"},
                "sources": [{"type": "POLICY"}],
            }
        }
    ]
    listed = aa.list_analyzers(type="ACCOUNT")["analyzers"]
    assert arn in [a["arn"] for a in listed]
    assert aa.get_analyzer(analyzerName=arn.rsplit("/", 1)[1])["analyzer"]["status"] == "ACTIVE"


def test_archive_rules_updates_and_resolution(server, planted):
    names, _ = planted
    aa, iam = server.client("accessanalyzer"), server.client("iam")
    analyzer = name("rules")
    arn = aa.create_analyzer(analyzerName=analyzer, type="ACCOUNT")["arn"]
    services = {"principal.Service": {"eq": ["lambda.amazonaws.com"]}}
    aa.create_archive_rule(analyzerName=analyzer, ruleName="lambda", filter=services)
    assert aa.get_archive_rule(analyzerName=analyzer, ruleName="lambda")["archiveRule"]["filter"] == services
    assert [r["ruleName"] for r in aa.list_archive_rules(analyzerName=analyzer)["archiveRules"]] == ["lambda"]

    def status_of(role):
        found = aa.list_findings_v2(analyzerArn=arn, filter={"resource": {"eq": [role_arn(role)]}})[
            "findings"
        ]
        return found[0]["status"] if found else None

    # A rule archives new findings, not the ones already there -- until it is applied.
    assert status_of(names["deputy"]) == "ACTIVE"
    later = name("deputy-later")
    iam.create_role(RoleName=later, AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    assert status_of(later) == "ARCHIVED"
    aa.apply_archive_rule(analyzerArn=arn, ruleName="lambda")
    assert status_of(names["deputy"]) == "ARCHIVED"
    active = aa.list_findings_v2(analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}})["findings"]
    assert role_arn(names["deputy"]) not in {f["resource"] for f in active}
    # UpdateFindings, by id and back.
    cross = aa.list_findings_v2(analyzerArn=arn, filter={"resource": {"eq": [role_arn(names["cross"])]}})[
        "findings"
    ][0]
    aa.update_findings(analyzerArn=arn, ids=[cross["id"]], status="ARCHIVED")
    assert status_of(names["cross"]) == "ARCHIVED"
    aa.update_findings(analyzerArn=arn, resourceArn=role_arn(names["cross"]), status="ACTIVE")
    assert status_of(names["cross"]) == "ACTIVE"
    # Fixing the trust policy resolves the finding.
    iam.update_assume_role_policy(
        RoleName=names["cross"], PolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    )
    assert status_of(names["cross"]) == "RESOLVED"
    aa.update_archive_rule(analyzerName=analyzer, ruleName="lambda", filter={"isPublic": {"eq": ["true"]}})
    aa.delete_archive_rule(analyzerName=analyzer, ruleName="lambda")
    assert aa.list_archive_rules(analyzerName=analyzer)["archiveRules"] == []
    aa.delete_analyzer(analyzerName=analyzer)
    with pytest.raises(ClientError) as exc:
        aa.get_analyzer(analyzerName=analyzer)
    assert err(exc)[0] == "ResourceNotFoundException" and err(exc)[2] == 404


def test_analyzer_errors_and_refusals(server):
    aa = server.client("accessanalyzer")
    analyzer = name("dup")
    aa.create_analyzer(analyzerName=analyzer, type="ACCOUNT")
    with pytest.raises(ClientError) as exc:
        aa.create_analyzer(analyzerName=analyzer, type="ACCOUNT")
    assert err(exc)[0] == "ConflictException" and err(exc)[2] == 409
    with pytest.raises(ClientError) as exc:  # no AWS Organizations here: refused, not ignored
        aa.create_analyzer(analyzerName=name("org"), type="ORGANIZATION")
    assert err(exc)[2] == 501
    _, key = new_user(server, server.client("iam"))
    with pytest.raises(ClientError) as exc:
        as_key(server, key, "accessanalyzer").list_analyzers()
    assert err(exc)[0] == "AccessDeniedException" and "access-analyzer:ListAnalyzers" in err(exc)[1]


def test_statistics_tags_and_configuration(server, planted):
    aa = server.client("accessanalyzer")
    analyzer = name("stats")
    arn = aa.create_analyzer(analyzerName=analyzer, type="ACCOUNT", tags={"team": "sec"})["arn"]
    stats = aa.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0][
        "externalAccessFindingsStatistics"
    ]
    roles = stats["resourceTypeStatistics"]["AWS::IAM::Role"]
    assert roles["totalActivePublic"] >= 1 and roles["totalActiveCrossAccount"] >= 2  # the planted ones
    assert stats["resourceTypeStatistics"]["AWS::S3::Bucket"]["totalActivePublic"] >= 1
    aa.tag_resource(resourceArn=arn, tags={"env": "prod"})
    aa.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert aa.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}
    unused = name("unused")
    aa.create_analyzer(analyzerName=unused, type="ACCOUNT_UNUSED_ACCESS")
    updated = aa.update_analyzer(analyzerName=unused, configuration={"unusedAccess": {"unusedAccessAge": 30}})
    assert updated["configuration"] == {"unusedAccess": {"unusedAccessAge": 30}}
    assert (
        aa.get_analyzer(analyzerName=unused)["analyzer"]["configuration"]["unusedAccess"]["unusedAccessAge"]
        == 30
    )
