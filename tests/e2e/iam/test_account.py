"""The IAM account against a real server with boto3: its summary and its authorization details."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, new_user, no_allow


def test_summary_counts_and_authorization_details(server):
    iam = server.client("iam")
    before = iam.get_account_summary()["SummaryMap"]
    user, _ = new_user(server, iam, allow("s3:GetObject"))
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 1 and after["UsersQuota"] == before["UsersQuota"]
    details = iam.get_account_authorization_details(Filter=["User"])
    assert details["RoleDetailList"] == [] and details["Policies"] == []
    (mine,) = [u for u in details["UserDetailList"] if u["UserName"] == user]
    assert mine["UserPolicyList"][0]["PolicyName"] == "p"
    assert mine["UserPolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == "s3:GetObject"


def test_reading_the_account_needs_permission(server):
    iam = server.client("iam")
    user, key = new_user(server, iam, allow("iam:GetAccountSummary"))
    as_user = as_key(server, key)
    assert as_user.get_account_summary()["SummaryMap"]["Users"] >= 1
    with pytest.raises(ClientError) as exc:
        as_user.get_account_authorization_details()
    assert err(exc) == ("AccessDenied", no_allow(user, "iam:GetAccountAuthorizationDetails", "*"), 403)
