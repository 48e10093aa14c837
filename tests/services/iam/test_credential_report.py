"""The credential report in process: generation states, the CSV AWS writes, expiry."""

from __future__ import annotations

import csv
import io

from rolecall.errors import AccessDenied
from rolecall.services.iam.credential_report import COLUMNS
from rolecall.services.iam.errors import CredentialReportExpired, CredentialReportNotPresent
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import raises


def test_credential_report(env, call, checked):
    err = raises(CredentialReportNotPresent, call, "GetCredentialReport")
    assert (err.code, err.status) == ("ReportNotPresent", 410)
    call("CreateUser", UserName="zed")
    call("CreateUser", UserName="amy")
    call("CreateLoginProfile", UserName="amy", Password="pw-Amy-123")
    key = call("CreateAccessKey", UserName="amy")["AccessKey"]
    call("UpdateAccountPasswordPolicy", MaxPasswordAge=30)
    assert checked("GenerateCredentialReport") == {
        "State": "STARTED",
        "Description": "No report exists. Starting a new report generation task",
    }
    assert checked("GenerateCredentialReport") == {"State": "COMPLETE"}
    report = checked("GetCredentialReport")
    assert report["ReportFormat"] == "text/csv" and report["GeneratedTime"] == "2027-01-15T08:00:00Z"
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    assert list(rows[0]) == COLUMNS
    assert [r["user"] for r in rows] == ["<root_account>", "amy", "zed"]
    root, amy, zed = rows
    assert (root["arn"], root["password_enabled"], root["user_creation_time"]) == (
        f"arn:aws:iam::{ACCOUNT}:root",
        "not_supported",
        "2027-01-01T00:00:00+00:00",
    )
    assert amy["password_enabled"] == "true" and amy["password_last_used"] == "no_information"
    assert amy["password_last_changed"] == "2027-01-15T08:00:00+00:00"
    assert amy["password_next_rotation"] == "2027-02-14T08:00:00+00:00"
    assert (
        amy["access_key_1_active"],
        amy["access_key_1_last_rotated"],
        amy["access_key_1_last_used_date"],
    ) == (
        "true",
        "2027-01-15T08:00:00+00:00",
        "N/A",
    )
    assert amy["access_key_2_active"] == "false" and amy["access_key_2_last_rotated"] == "N/A"
    assert (zed["password_enabled"], zed["password_last_changed"], zed["mfa_active"]) == (
        "false",
        "N/A",
        "false",
    )
    assert key["SecretAccessKey"] not in report["Content"].decode()
    # Four hours on, the report has expired; generating again makes a new one.
    env.clock.advance(4 * 3600)
    raises(CredentialReportExpired, call, "GetCredentialReport")
    assert call("GenerateCredentialReport")["State"] == "STARTED"
    assert call("GetCredentialReport")["GeneratedTime"] == "2027-01-15T12:00:00Z"
    nobody = env.user("nobody")
    assert isinstance(env.denied(nobody, "iam", "GenerateCredentialReport"), AccessDenied)
    assert isinstance(env.denied(nobody, "iam", "GetCredentialReport"), AccessDenied)
