"""The console's escalation page: `rolecall audit`'s analysis of the account read as the signed-in
principal (GetAccountAuthorizationDetails through the pipeline), its paths in words and its graph."""

from __future__ import annotations

import json

from tests.console.test_console import root_browser, sign_in_ann
from tests.services.conftest import ACCOUNT, Harness, policy

ACCOUNT_TRUST = json.dumps(
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


def escalation_account(env: Harness) -> None:
    env.call("CreateRole", RoleName="admin", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    env.call(
        "PutRolePolicy",
        RoleName="admin",
        PolicyName="all",
        PolicyDocument=policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    env.call("CreateUser", UserName="dev")
    env.call(
        "PutUserPolicy",
        UserName="dev",
        PolicyName="assume-admin",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/admin"}
        ),
    )


def test_escalation_paths_in_words_with_the_engines_reasons(env: Harness) -> None:
    escalation_account(env)
    browser = root_browser(env)
    response = browser.request("GET", "/console/escalation")
    page = response.body.decode()
    assert response.status == 200
    assert "user/dev → role/admin" in page
    assert "can become one" in page and '<a href="/console/roles/admin">role/admin</a>' in page
    assert "<code>sts:AssumeRole</code>" in page and "allowed by" in page
    assert "allowed every action on every resource" in page  # why role/admin is an administrator
    assert "<svg" in page and "<script" not in page
    env.pipeline.flush_trail()
    reads = [r for r in env.store.events(ACCOUNT) if r["eventName"] == "GetAccountAuthorizationDetails"]
    assert reads and all(r["userAgent"].startswith("rolecall-console") for r in reads)


def test_a_user_who_may_not_read_the_account_is_refused(env: Harness) -> None:
    escalation_account(env)
    response = sign_in_ann(env).request("GET", "/console/escalation")
    text = response.body.decode()
    assert response.status == 403 and "iam:GetAccountAuthorizationDetails" in text
    assert "missing grant:" in text and "role/admin" not in text
