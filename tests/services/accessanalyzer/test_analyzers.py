"""Analyzers through the pipeline on a fake clock: unused access over the tracking period, the analyzer and
archive rule life cycles, finding filters and statuses, and refusals per family."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, ACCOUNT_TRUST, Harness, allow, policy

SVC = "access-analyzer"
DAY = 86400


def aa(env: Harness, op: str, **params: Any) -> dict[str, Any]:
    return env.invoke(SVC, op, **params)


def by_type(env: Harness, arn: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in aa(env, "ListFindingsV2", analyzerArn=arn)["findings"]:
        out.setdefault(f["findingType"], []).append(f)
    return out


def test_unused_access_over_the_tracking_period(env: Harness) -> None:
    # Planted 100 days ago: a role nobody assumes, a used role with more than it uses, a user with an
    # access key nothing signs with and a console password.
    env.call("CreateRole", RoleName="idle", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    worker = env.role_session(
        "worker", allow(["iam:ListRoles", "iam:ListUsers"]), allow("ec2:DescribeInstances")
    )
    env.call("CreateUser", UserName="ops")
    key = env.call("CreateAccessKey", UserName="ops")["AccessKey"]["AccessKeyId"]
    env.call("CreateLoginProfile", UserName="ops", Password="Correct-Horse-9!")
    env.clock.advance(100 * DAY)
    env.call("ListRoles", caller=worker)  # the worker role is used, and only for iam:ListRoles
    arn = aa(env, "CreateAnalyzer", analyzerName="unused", type="ACCOUNT_UNUSED_ACCESS")["arn"]
    found = by_type(env, arn)
    assert [f["resource"] for f in found["UnusedIAMRole"]] == [f"arn:aws:iam::{ACCOUNT}:role/idle"]
    assert [f["resource"] for f in found["UnusedIAMUserAccessKey"]] == [f"arn:aws:iam::{ACCOUNT}:user/ops"]
    assert [f["resource"] for f in found["UnusedIAMUserPassword"]] == [f"arn:aws:iam::{ACCOUNT}:user/ops"]
    unused = found["UnusedPermission"]
    assert [f["resource"] for f in unused] == [f"arn:aws:iam::{ACCOUNT}:role/worker"]
    details = aa(env, "GetFindingV2", analyzerArn=arn, id=unused[0]["id"])["findingDetails"]
    by_service = {
        d["unusedPermissionDetails"]["serviceNamespace"]: d["unusedPermissionDetails"] for d in details
    }
    assert set(by_service) == {"iam", "ec2"}  # ec2 never used; iam used, but not ListUsers
    assert (
        by_service["iam"]["actions"] == [{"action": "iam:ListUsers"}] and "lastAccessed" in by_service["iam"]
    )
    key_finding = aa(env, "GetFindingV2", analyzerArn=arn, id=found["UnusedIAMUserAccessKey"][0]["id"])
    assert key_finding["findingDetails"] == [{"unusedIamUserAccessKeyDetails": {"accessKeyId": key}}]
    # A longer tracking period: nothing planted 100 days ago is unused over 365 days.
    long_arn = aa(
        env, "CreateAnalyzer", analyzerName="year", type="ACCOUNT_UNUSED_ACCESS",
        configuration={"unusedAccess": {"unusedAccessAge": 365}},
    )["arn"]  # fmt: skip
    assert set(by_type(env, long_arn)) == {"UnusedPermission"}
    with pytest.raises(AwsError) as exc:  # unused access findings have no v1 form
        aa(env, "ListFindings", analyzerArn=arn)
    assert exc.value.code == "ValidationException"


def test_analyzer_and_archive_rule_life_cycle(env: Harness) -> None:
    cross = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "sts:AssumeRole",
    }
    env.call("CreateRole", RoleName="partner", AssumeRolePolicyDocument=policy(cross))
    rules = [{"ruleName": "partners", "filter": {"principal.AWS": {"contains": ["111122223333"]}}}]
    arn = aa(env, "CreateAnalyzer", analyzerName="ext", type="ACCOUNT", archiveRules=rules)["arn"]
    assert aa(env, "GetAnalyzer", analyzerName="ext")["analyzer"]["arn"] == arn
    assert [a["name"] for a in aa(env, "ListAnalyzers")["analyzers"]] == ["ext"]
    (finding,) = aa(env, "ListFindings", analyzerArn=arn)["findings"]
    assert finding["status"] == "ARCHIVED"  # new at creation, so the analyzer's rule archived it
    assert (
        aa(env, "GetFinding", analyzerArn=arn, id=finding["id"])["finding"]["principal"] == cross["Principal"]
    )
    aa(env, "UpdateFindings", analyzerArn=arn, ids=[finding["id"]], status="ACTIVE")
    assert aa(env, "GetFindingV2", analyzerArn=arn, id=finding["id"])["status"] == "ACTIVE"
    assert aa(env, "GetArchiveRule", analyzerName="ext", ruleName="partners")["archiveRule"]["filter"]
    aa(
        env,
        "UpdateArchiveRule",
        analyzerName="ext",
        ruleName="partners",
        filter={"isPublic": {"eq": ["true"]}},
    )
    aa(env, "CreateArchiveRule", analyzerName="ext", ruleName="all", filter={"status": {"exists": True}})
    assert [r["ruleName"] for r in aa(env, "ListArchiveRules", analyzerName="ext")["archiveRules"]] == [
        "all",
        "partners",
    ]
    aa(env, "ApplyArchiveRule", analyzerArn=arn, ruleName="all")
    assert aa(env, "GetFindingV2", analyzerArn=arn, id=finding["id"])["status"] == "ARCHIVED"
    aa(env, "DeleteArchiveRule", analyzerName="ext", ruleName="all")
    filtered = aa(env, "ListFindings", analyzerArn=arn, filter={"status": {"neq": ["ARCHIVED"]}})
    assert filtered["findings"] == []
    aa(env, "DeleteAnalyzer", analyzerName="ext")
    for op, params in (
        ("GetAnalyzer", {"analyzerName": "ext"}),
        ("ListFindingsV2", {"analyzerArn": arn}),
        ("GetArchiveRule", {"analyzerName": "ext", "ruleName": "partners"}),
    ):
        with pytest.raises(AwsError) as exc:
            aa(env, op, **params)
        assert exc.value.code == "ResourceNotFoundException", op


def test_bad_filters_and_ids(env: Harness) -> None:
    arn = aa(env, "CreateAnalyzer", analyzerName="a", type="ACCOUNT", clientToken="t-1")["arn"]
    # A retry with the same client token is the same request; another token is another analyzer.
    assert aa(env, "CreateAnalyzer", analyzerName="a", type="ACCOUNT", clientToken="t-1")["arn"] == arn
    with pytest.raises(AwsError) as exc:
        aa(env, "CreateAnalyzer", analyzerName="a", type="ACCOUNT", clientToken="t-2")
    assert exc.value.code == "ConflictException"
    with pytest.raises(AwsError) as exc:
        aa(env, "ListFindingsV2", analyzerArn=arn, filter={"status": {}})
    assert exc.value.code == "ValidationException"
    with pytest.raises(AwsError) as exc:
        aa(env, "UpdateFindings", analyzerArn=arn, ids=["nope"], status="ARCHIVED")
    assert exc.value.code == "ResourceNotFoundException"
    with pytest.raises(AwsError) as exc:
        aa(env, "CreateAnalyzer", analyzerName="9starts-with-digit", type="ACCOUNT")
    assert exc.value.code == "ValidationException"


def test_each_family_is_refused_without_permission(env: Harness) -> None:
    arn = aa(env, "CreateAnalyzer", analyzerName="guarded", type="ACCOUNT")["arn"]
    aa(env, "CreateArchiveRule", analyzerName="guarded", ruleName="r", filter={"isPublic": {"eq": ["true"]}})
    dev = env.user("dev", allow("access-analyzer:GetAnalyzer"))
    assert aa(env, "GetAnalyzer", caller=dev, analyzerName="guarded")["analyzer"]["arn"] == arn
    for op, params in (
        ("CreateAnalyzer", {"analyzerName": "mine", "type": "ACCOUNT"}),
        ("ListAnalyzers", {}),
        ("DeleteAnalyzer", {"analyzerName": "guarded"}),
        (
            "CreateArchiveRule",
            {"analyzerName": "guarded", "ruleName": "x", "filter": {"isPublic": {"eq": ["true"]}}},
        ),
        ("ApplyArchiveRule", {"analyzerArn": arn, "ruleName": "r"}),
        ("ListFindings", {"analyzerArn": arn}),
        ("ListFindingsV2", {"analyzerArn": arn}),
        ("UpdateFindings", {"analyzerArn": arn, "ids": ["x"], "status": "ARCHIVED"}),
    ):
        refused = env.denied(dev, SVC, op, **params)
        assert refused.code == "AccessDenied", op
    assert json.dumps(aa(env, "ListAnalyzers"))  # the refusals changed nothing
    assert [a["name"] for a in aa(env, "ListAnalyzers")["analyzers"]] == ["guarded"]


def test_update_tags_and_statistics(env: Harness) -> None:
    public = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    partner = {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}
    env.call("CreateRole", RoleName="open", AssumeRolePolicyDocument=policy(public))
    env.call("CreateRole", RoleName="shared", AssumeRolePolicyDocument=policy(partner))
    arn = aa(env, "CreateAnalyzer", analyzerName="ext", type="ACCOUNT", tags={"team": "sec"})["arn"]
    stats = aa(env, "GetFindingsStatistics", analyzerArn=arn)["findingsStatistics"][0]
    external = stats["externalAccessFindingsStatistics"]
    assert external["totalActiveFindings"] == 2 and external["totalArchivedFindings"] == 0
    assert external["resourceTypeStatistics"]["AWS::IAM::Role"]["totalActivePublic"] == 1
    assert external["resourceTypeStatistics"]["AWS::IAM::Role"]["totalActiveCrossAccount"] == 1
    aa(env, "TagResource", resourceArn=arn, tags={"env": "prod"})
    aa(env, "UntagResource", resourceArn=arn, tagKeys=["team"])
    assert aa(env, "ListTagsForResource", resourceArn=arn)["tags"] == {"env": "prod"}
    unused = aa(env, "CreateAnalyzer", analyzerName="unused", type="ACCOUNT_UNUSED_ACCESS")["arn"]
    out = aa(
        env, "UpdateAnalyzer", analyzerName="unused", configuration={"unusedAccess": {"unusedAccessAge": 7}}
    )
    assert out["configuration"] == {"unusedAccess": {"unusedAccessAge": 7}}
    env.clock.advance(8 * DAY)  # both roles were created 8 days ago and never used: unused over 7 days
    stats = aa(env, "GetFindingsStatistics", analyzerArn=unused)["findingsStatistics"][0]
    assert stats["unusedAccessFindingsStatistics"]["unusedAccessTypeStatistics"] == [
        {"unusedAccessType": "UnusedIAMRole", "total": 2}
    ]
    with pytest.raises(AwsError) as exc:
        aa(env, "UpdateAnalyzer", analyzerName="ext", configuration={"unusedAccess": {"unusedAccessAge": 7}})
    assert exc.value.code == "ValidationException"
    # Tagging is authorized with the request's tags.
    dev = env.user(
        "dev", allow("access-analyzer:TagResource", Condition={"StringEquals": {"aws:RequestTag/env": "dev"}})
    )
    aa(env, "TagResource", caller=dev, resourceArn=arn, tags={"env": "dev"})
    assert env.denied(dev, SVC, "TagResource", resourceArn=arn, tags={"env": "prod"}).code == "AccessDenied"
