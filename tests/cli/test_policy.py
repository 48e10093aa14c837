"""`rolecall policy validate | explain`, run as a real subprocess on temporary policy files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BUCKET_OBJECT = "arn:aws:s3:::reports/2024/q1.csv"

READ_REPORTS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::reports/*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {
            "Sid": "WriteFromUsEast1",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::reports/*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        },
    ],
}

TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def rolecall(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rolecall", "policy", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


# --- validate -----------------------------------------------------------------------------------------


def test_validate_valid_policy_prints_ok(tmp_path: Path) -> None:
    path = write(tmp_path, "read.json", READ_REPORTS)
    result = rolecall("validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{path}: OK"


def test_validate_invalid_json_is_malformed(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '{"Version": "2012-10-17", "Statement": [')
    result = rolecall("validate", path)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}: ")
    assert "OK" not in result.stdout
    assert_no_traceback(result)


def test_validate_reports_aws_wording_for_principal_in_identity_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "trust.json", TRUST_EC2)
    result = rolecall("validate", path)
    assert result.returncode == 1
    assert f"{path}: Policy document should not specify a principal." in result.stdout.splitlines()


def test_validate_kind_trust_accepts_a_trust_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "trust.json", TRUST_EC2)
    result = rolecall("validate", "--kind", "trust", path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == f"{path}: OK"


def test_validate_several_files_reports_each_and_fails_if_any_is_malformed(tmp_path: Path) -> None:
    good = write(tmp_path, "good.json", READ_REPORTS)
    bad = write(tmp_path, "bad.json", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]})
    result = rolecall("validate", good, bad)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{good}: OK"
    assert len(lines) >= 2
    assert all(line.startswith(f"{bad}: ") for line in lines[1:])


def test_validate_max_size_rejects_a_policy_over_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "read.json", READ_REPORTS)
    assert rolecall("validate", path).returncode == 0
    result = rolecall("validate", "--max-size", "100", path)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}: ")


def test_validate_reads_stdin(tmp_path: Path) -> None:
    result = rolecall("validate", "-", stdin=json.dumps(READ_REPORTS))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "<stdin>: OK"


def test_validate_unreadable_file_exits_2_without_traceback(tmp_path: Path) -> None:
    good = write(tmp_path, "good.json", READ_REPORTS)
    missing = str(tmp_path / "missing.json")
    result = rolecall("validate", good, missing)
    assert result.returncode == 2
    assert f"{good}: OK" in result.stdout
    assert missing in result.stderr
    assert "cannot read" in result.stderr
    assert_no_traceback(result)


def test_validate_unreadable_wins_over_malformed(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.json", "not json")
    result = rolecall("validate", bad, str(tmp_path / "missing.json"))
    assert result.returncode == 2


def test_validate_rejects_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "read.json", READ_REPORTS)
    result = rolecall("validate", "--kind", "bucket", path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


# --- explain ------------------------------------------------------------------------------------------


def explain(tmp_path: Path, *args: str, policy: Any = READ_REPORTS) -> subprocess.CompletedProcess[str]:
    path = write(tmp_path, "identity.json", policy)
    return rolecall("explain", "--policy", path, "--principal", ALICE, *args)


def test_explain_allowed_names_the_allowing_statement(tmp_path: Path) -> None:
    result = explain(tmp_path, "--action", "s3:GetObject", "--resource", BUCKET_OBJECT)
    assert result.returncode == 0, result.stderr
    assert "ReadReports" in result.stdout
    assert "allow" in result.stdout.lower()


def test_explain_explicit_deny_names_the_denying_statement(tmp_path: Path) -> None:
    result = explain(tmp_path, "--action", "s3:DeleteObject", "--resource", BUCKET_OBJECT)
    assert result.returncode == 1
    assert "NoDeletes" in result.stdout
    assert "deny" in result.stdout.lower()


def test_explain_implicit_deny_exits_1(tmp_path: Path) -> None:
    result = explain(tmp_path, "--action", "ec2:RunInstances", "--resource", "*")
    assert result.returncode == 1
    assert "ReadReports" not in result.stdout
    assert_no_traceback(result)


def test_explain_context_key_satisfies_condition(tmp_path: Path) -> None:
    args = ("--action", "s3:PutObject", "--resource", BUCKET_OBJECT)
    allowed = explain(tmp_path, *args, "--context", "aws:RequestedRegion=us-east-1")
    assert allowed.returncode == 0, allowed.stdout
    assert "WriteFromUsEast1" in allowed.stdout

    wrong_region = explain(tmp_path, *args, "--context", "aws:RequestedRegion=eu-west-1")
    assert wrong_region.returncode == 1

    missing = explain(tmp_path, *args)
    assert missing.returncode == 1
    assert "aws:RequestedRegion" in missing.stdout


def test_explain_repeated_context_key_is_multi_valued(tmp_path: Path) -> None:
    tagging = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyApprovedTagKeys",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
            },
            {
                "Sid": "NeedsTeamTag",
                "Effect": "Deny",
                "Action": "ec2:CreateTags",
                "Resource": "*",
                "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": "team"}},
            },
        ],
    }
    args = ("--action", "ec2:CreateTags", "--resource", "*")
    both = explain(
        tmp_path, *args, "--context", "aws:TagKeys=env", "--context", "aws:TagKeys=team", policy=tagging
    )
    assert both.returncode == 0, both.stdout
    # One value alone, without "team": every value differs from "team", so the deny applies.
    env_only = explain(tmp_path, *args, "--context", "aws:TagKeys=env", policy=tagging)
    assert env_only.returncode == 1
    assert "NeedsTeamTag" in env_only.stdout
    # A value outside the approved set fails ForAllValues on the allow.
    extra = explain(
        tmp_path, *args, "--context", "aws:TagKeys=team", "--context", "aws:TagKeys=owner", policy=tagging
    )
    assert extra.returncode == 1


def test_explain_boundary_caps_identity_allow(tmp_path: Path) -> None:
    boundary = write(
        tmp_path,
        "boundary.json",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]},
    )
    args = ("--action", "s3:GetObject", "--resource", BUCKET_OBJECT)
    result = explain(tmp_path, *args, "--boundary", boundary)
    assert result.returncode == 1
    assert "boundary" in result.stdout.lower()


def test_explain_scp_levels_each_must_allow(tmp_path: Path) -> None:
    full_access = write(
        tmp_path,
        "full.json",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    ec2_only = write(
        tmp_path,
        "ec2.json",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]},
    )
    args = ("--action", "s3:GetObject", "--resource", BUCKET_OBJECT)
    assert explain(tmp_path, *args, "--scp", full_access).returncode == 0
    assert explain(tmp_path, *args, "--scp", f"{full_access},{ec2_only}").returncode == 0
    denied = explain(tmp_path, *args, "--scp", full_access, "--scp", ec2_only)
    assert denied.returncode == 1
    assert "service control polic" in denied.stdout.lower()


def test_explain_resource_policy_grant_to_service_principal(tmp_path: Path) -> None:
    trust = write(tmp_path, "trust.json", TRUST_EC2)
    role = f"arn:aws:iam::{ACCOUNT}:role/web"
    result = rolecall(
        "explain",
        "--trust-policy",
        trust,
        "--principal",
        "ec2.amazonaws.com",
        "--resource-account",
        ACCOUNT,
        "--action",
        "sts:AssumeRole",
        "--resource",
        role,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_explain_json_output(tmp_path: Path) -> None:
    result = explain(tmp_path, "--action", "s3:DeleteObject", "--resource", BUCKET_OBJECT, "--json")
    assert result.returncode == 1
    decision = json.loads(result.stdout)
    assert decision["decision"] == "explicitDeny"
    assert decision["allowed"] is False
    assert decision["deniedBy"] == "identity"
    assert decision["reason"] == "with an explicit deny in an identity-based policy"
    assert {"sid": "NoDeletes", "effect": "Deny"}.items() <= decision["matched"][0].items()


def test_explain_malformed_policy_exits_2_with_message(tmp_path: Path) -> None:
    result = explain(tmp_path, "--action", "s3:GetObject", "--resource", BUCKET_OBJECT, policy=TRUST_EC2)
    assert result.returncode == 2
    assert "identity.json" in result.stderr
    assert "Policy document should not specify a principal." in result.stderr
    assert_no_traceback(result)


def test_explain_missing_policy_file_exits_2(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    result = rolecall("explain", "--policy", missing, "--action", "s3:GetObject", "--resource", "*")
    assert result.returncode == 2
    assert missing in result.stderr
    assert_no_traceback(result)


@pytest.mark.parametrize("bad", ["aws:SourceIp", "=10.0.0.1"])
def test_explain_rejects_context_without_key_and_value(tmp_path: Path, bad: str) -> None:
    result = explain(tmp_path, "--action", "s3:GetObject", "--resource", BUCKET_OBJECT, "--context", bad)
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr
    assert_no_traceback(result)


def test_explain_requires_action_and_resource(tmp_path: Path) -> None:
    path = write(tmp_path, "identity.json", READ_REPORTS)
    result = rolecall("explain", "--policy", path)
    assert result.returncode == 2
    assert "--action" in result.stderr


def test_help_documents_exit_codes() -> None:
    for command in ("validate", "explain"):
        result = rolecall(command, "--help")
        assert result.returncode == 0
        assert "exit status" in result.stdout
