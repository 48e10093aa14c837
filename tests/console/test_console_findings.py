"""The console's Access Analyzer page: analyzers and their findings read as the signed-in principal, a
finding's detail in words, archive and unarchive by CSRF-protected POST, and the refusal of a user who may
not list analyzers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.test_console import PASSWORD, Browser, root_browser, sign_in_ann
from tests.services.conftest import ACCOUNT, Harness

PARTNER = "111122223333"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    h.call("CreateUser", UserName="ann")
    h.call("CreateLoginProfile", UserName="ann", Password=PASSWORD)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "p-42"}},
            }
        ],
    }
    h.call("CreateRole", RoleName="partner", AssumeRolePolicyDocument=json.dumps(trust))
    h.invoke("access-analyzer", "CreateAnalyzer", analyzerName="account", type="ACCOUNT")
    yield h
    h.close()


def finding_link(browser: Browser, query: str = "") -> str:
    listing = browser.request("GET", "/console/findings" + query)
    assert listing.status == 200
    return re.search(r'href="(/console/findings/account/[^"]+)"', listing.body.decode())[1]


def test_findings_list_and_open_to_their_detail_in_words(env: Harness) -> None:
    browser = root_browser(env)
    listing = browser.request("GET", "/console/findings").body.decode()
    assert "Analyzer account" in listing and f"arn:aws:iam::{ACCOUNT}:role/partner" in listing
    assert "external access" in listing and 'aria-current="page"' in listing
    page = browser.request("GET", finding_link(browser)).body.decode()
    assert f"the AWS principal arn:aws:iam::{PARTNER}:root" in page
    assert "sts:AssumeRole" in page and "sts:ExternalId is p-42" in page
    assert ">active<" in page and 'href="/console/roles/partner"' in page


def test_archive_and_unarchive_need_the_csrf_token_and_are_recorded(env: Harness) -> None:
    browser = root_browser(env)
    target = finding_link(browser)
    assert browser.request("POST", target, {"action": "archive", "csrf_token": "forged"}).status == 403
    assert ">active<" in browser.request("GET", target).body.decode()
    done = browser.request("POST", target, {"action": "archive", "csrf_token": browser.csrf()})
    assert done.status == 303 and done.header("location") == target
    page = browser.request("GET", target).body.decode()
    assert ">archived<" in page and ">Unarchive</button>" in page
    assert "partner" not in browser.request("GET", "/console/findings").body.decode().split("<h2", 2)[-1]
    assert "role/partner" in browser.request("GET", "/console/findings?status=ARCHIVED").body.decode()
    browser.request("POST", target, {"action": "unarchive", "csrf_token": browser.csrf()})
    assert ">active<" in browser.request("GET", target).body.decode()
    env.pipeline.flush_trail()
    updates = [r for r in env.store.events(ACCOUNT) if r["eventName"] == "UpdateFindings"]
    assert sorted(r["requestParameters"]["status"] for r in updates) == ["ACTIVE", "ARCHIVED"]
    assert all(r["userAgent"].startswith("rolecall-console") for r in updates)


def test_a_user_who_may_not_list_analyzers_is_refused_with_the_reason(env: Harness) -> None:
    browser = sign_in_ann(env)
    refused = browser.request("GET", "/console/findings")
    text = refused.body.decode()
    assert refused.status == 403 and "access-analyzer:ListAnalyzers" in text and "missing grant:" in text
    env.call(
        "PutUserPolicy",
        UserName="ann",
        PolicyName="list-analyzers",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "access-analyzer:ListAnalyzers", "Resource": "*"}
                ],
            }
        ),
    )
    # The analyzers are listed; their findings, which need ListFindings, are refused in their place.
    page = browser.request("GET", "/console/findings")
    text = page.body.decode()
    assert page.status == 200 and "Analyzer account" in text and "access-analyzer:ListFindings" in text
    assert "role/partner" not in text


def test_a_missing_finding_or_analyzer_is_an_error_page(env: Harness) -> None:
    browser = root_browser(env)
    assert browser.request("GET", "/console/findings/account/nope").status == 404
    assert browser.request("GET", "/console/findings/nope/x").status == 404
