"""Unused access findings against a real server and the AWS CLI: an account planted with entities created
long ago (their creation dates set back in the store), some of them used since through real calls."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import allow, name
from tests.servers import InProcessServer

ACCOUNT = "123456789012"
LONG_AGO = "2020-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("unused")).start()
    yield s
    s.stop()


def backdate(srv, kind, key, *members):
    with srv.store.transaction() as tx:
        doc = tx.get(ACCOUNT, kind, key)
        for member in members:
            target = doc
            *path, last = member.split(".")
            for part in path:
                target = target[part]
            target[last] = LONG_AGO
        tx.update(ACCOUNT, kind, key, doc)


def test_each_unused_access_finding_type(srv):
    iam, sts = srv.client("iam"), srv.client("sts")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    idle, worker, ops = name("idle"), name("worker"), name("ops")
    iam.create_role(RoleName=idle, AssumeRolePolicyDocument=trust)
    iam.create_role(RoleName=worker, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(
        RoleName=worker,
        PolicyName="p",
        PolicyDocument=allow(["iam:ListRoles", "iam:ListUsers", "s3:ListAllMyBuckets"]),
    )
    iam.create_user(UserName=ops)
    key = iam.create_access_key(UserName=ops)["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName=ops, Password="Correct-Horse-9!")
    backdate(srv, "role", idle, "CreateDate")
    backdate(srv, "role", worker, "CreateDate")
    backdate(srv, "access_key", key, "CreateDate")
    backdate(srv, "user", ops, "CreateDate", "LoginProfile.CreateDate")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{worker}", RoleSessionName="job")[
        "Credentials"
    ]
    srv.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).list_roles()

    aa = srv.client("accessanalyzer")
    out = srv.cli(
        "accessanalyzer", "create-analyzer", "--analyzer-name", "unused", "--type", "ACCOUNT_UNUSED_ACCESS",
        "--configuration", json.dumps({"unusedAccess": {"unusedAccessAge": 30}}),
    )  # fmt: skip
    arn = json.loads(out.stdout)["arn"]
    findings = json.loads(srv.cli("accessanalyzer", "list-findings-v2", "--analyzer-arn", arn).stdout)[
        "findings"
    ]
    seen = {(f["findingType"], f["resource"].rsplit("/", 1)[1]) for f in findings}
    assert seen == {
        ("UnusedIAMRole", idle),
        ("UnusedIAMUserAccessKey", ops),
        ("UnusedIAMUserPassword", ops),
        ("UnusedPermission", worker),
    }
    permission = next(f for f in findings if f["findingType"] == "UnusedPermission")
    details = aa.get_finding_v2(analyzerArn=arn, id=permission["id"])["findingDetails"]
    by_service = {
        d["unusedPermissionDetails"]["serviceNamespace"]: d["unusedPermissionDetails"] for d in details
    }
    assert by_service["s3"] == {"serviceNamespace": "s3"}  # never used
    assert by_service["iam"]["actions"] == [{"action": "iam:ListUsers"}]  # iam:ListRoles was used
    assert by_service["iam"]["lastAccessed"].year >= 2026  # a timestamp on the wire
    analyzer = aa.get_analyzer(analyzerName="unused")["analyzer"]
    assert analyzer["configuration"] == {"unusedAccess": {"unusedAccessAge": 30}}
    # Once the idle role is used, its finding (kept since the analyzer reported it) is RESOLVED.
    woken = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{idle}", RoleSessionName="wake")[
        "Credentials"
    ]
    srv.client(
        "sts", woken["AccessKeyId"], woken["SecretAccessKey"], woken["SessionToken"]
    ).get_caller_identity()
    roles = [
        f for f in aa.list_findings_v2(analyzerArn=arn)["findings"] if f["findingType"] == "UnusedIAMRole"
    ]
    assert [(f["resource"].rsplit("/", 1)[1], f["status"]) for f in roles] == [(idle, "RESOLVED")]
