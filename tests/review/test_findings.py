"""Findings on planted accounts: each kind reported where it applies, and not where a condition closes it."""

from __future__ import annotations

from datetime import UTC, datetime

from rolecall.review import load_account, rewrites_from_trail, run_audit
from tests.review.planted import ACCOUNT, Planted, allow, arn, doc, trust

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def findings(pl: Planted, **kw) -> set[tuple[str, str]]:
    audit = run_audit(load_account(pl.details()), now=NOW, **kw)
    return {(f.kind, f.principal.split(":", 5)[-1]) for f in audit.findings}


def test_open_trust_and_its_conditions():
    pl = Planted()
    pl.role("open", trust({"AWS": "*"}))
    pl.role("openstar", trust("*"))
    pl.role("org", trust({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    assert findings(pl) == {("open-trust", "role/open"), ("open-trust", "role/openstar")}


def test_cross_account_without_external_id():
    pl = Planted()
    pl.role("bare", trust({"AWS": "arn:aws:iam::444455556666:root"}))
    pl.role("byrole", trust({"AWS": "arn:aws:iam::444455556666:role/deployer"}))
    pl.role("guarded", trust({"AWS": "444455556666"}, {"StringEquals": {"sts:ExternalId": "s3cr3t"}}))
    pl.role("own", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert findings(pl) == {
        ("cross-account-no-external-id", "role/bare"),
        ("cross-account-no-external-id", "role/byrole"),
    }


def test_service_roles_without_source_conditions():
    pl = Planted()
    pl.role("bare", trust({"Service": "lambda.amazonaws.com"}))
    pl.role(
        "account",
        trust({"Service": "lambda.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
    )
    pl.role(
        "arn",
        trust({"Service": "sns.amazonaws.com"}, {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:*"}}),
    )
    pl.role("linked", trust({"Service": "lambda.amazonaws.com"}), path="/aws-service-role/")
    assert findings(pl) == {("service-trust-no-source", "role/bare")}


def test_wildcard_passrole():
    pl = Planted()
    pl.user("any", doc(allow("iam:PassRole", "*")))
    pl.user("star", doc(allow("iam:*", "arn:aws:iam::*:role/*")))
    pl.user("scoped", doc(allow("iam:PassRole", arn("role", "app-*"))))
    pl.user(
        "service",
        doc(allow("iam:PassRole", "*", {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})),
    )
    assert findings(pl) == {("wildcard-passrole", "user/any"), ("wildcard-passrole", "user/star")}


def test_unused_roles():
    t = {"Service": "ec2.amazonaws.com"}
    cond = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    pl = Planted()
    pl.role("recent", trust(t, cond), last_used="2026-11-30T10:00:00Z")
    pl.role("stale", trust(t, cond), last_used="2026-01-02T10:00:00Z")
    pl.role("never", trust(t, cond), last_used=None)
    pl.role("new", trust(t, cond), last_used=None)
    pl.roles[-1]["CreateDate"] = "2026-12-01T00:00:00Z"
    assert findings(pl) == {("unused-role", "role/stale"), ("unused-role", "role/never")}
    assert findings(pl, unused_days=400) == {("unused-role", "role/never")}


def test_least_privilege_rewrite_from_trail():
    pl = Planted()
    pl.role(
        "app",
        trust({"Service": "ec2.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        doc(allow("s3:*"), allow("dynamodb:*")),
    )
    pl.user("idle", doc(allow("ec2:*")))
    pl.user("narrow", doc(allow("s3:GetObject", "arn:aws:s3:::b/*")))
    session = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/i-1",
        "sessionContext": {"sessionIssuer": {"arn": arn("role", "app")}},
    }
    records = [
        {
            "userIdentity": session,
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "resources": [{"ARN": "arn:aws:s3:::b/k1"}],
        },
        {
            "userIdentity": session,
            "eventSource": "s3.amazonaws.com",
            "eventName": "HeadObject",
            "resources": [{"ARN": "arn:aws:s3:::b/k2"}],
        },
        {"userIdentity": session, "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets"},
        {
            "userIdentity": session,
            "eventSource": "s3.amazonaws.com",
            "eventName": "DeleteObject",
            "errorCode": "AccessDenied",
            "resources": [{"ARN": "arn:aws:s3:::b/k3"}],
        },
    ]
    account = load_account(pl.details())
    rewrites = {r.principal.split(":", 5)[-1]: r for r in rewrites_from_trail(account, records)}
    assert set(rewrites) == {"role/app", "user/idle"}
    assert rewrites["user/idle"].document is None
    app = rewrites["role/app"]
    assert app.calls == 3
    assert app.unused_services == ["dynamodb"]
    assert app.document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::b/k1", "arn:aws:s3:::b/k2"],
            },
            {"Effect": "Allow", "Action": "s3:ListBuckets", "Resource": "*"},
        ],
    }
