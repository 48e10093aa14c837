"""The console in-process (its handler on a real pipeline, SQLite and a fake clock): sign-in and its trail
record, session cookies, expiry, a principal whose console access ends, CSRF, and trust policies in words.
The browser tests (tests/e2e/console) drive the same pages through Chromium."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlencode

from rolecall.console.app import Console
from rolecall.console.trust import trust_in_words
from rolecall.http import Headers, HttpRequest, HttpResponse
from rolecall.store import GLOBAL
from tests.console.conftest import PASSWORD
from tests.services.conftest import ACCOUNT, ACCOUNT_TRUST, Harness


class Browser:
    """Cookies kept between requests, as a browser keeps them."""

    def __init__(self, console: Console, secure: bool = False):
        self.console = console
        self.secure = secure
        self.jar: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> HttpResponse:
        path, _, query = path.partition("?")
        headers = Headers(
            {"cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items()), "user-agent": "test"}
        )
        body = b""
        if form is not None:
            headers["content-type"] = "application/x-www-form-urlencoded"
            body = urlencode(form).encode()
        response = self.console.handle(HttpRequest(method, path, query, headers, body), self.secure)
        for name, value in response.headers:
            if name == "set-cookie":
                self.set_cookies.append(value)
                key, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "Max-Age=0" in value:
                    self.jar.pop(key, None)
                else:
                    self.jar[key] = cookie_value
        return response

    def sign_in(self, **form: str) -> HttpResponse:
        page = self.request("GET", "/console/signin").body.decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        return self.request("POST", "/console/signin", dict(form, csrf_token=token))

    def csrf(self) -> str:
        page = self.request("GET", "/console/").body.decode()
        return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def sign_in_ann(env: Harness, secure: bool = False) -> Browser:
    browser = Browser(Console(env.pipeline), secure)
    response = browser.sign_in(kind="iam", account=ACCOUNT, username="ann", password=PASSWORD)
    assert response.status == 303 and response.header("location") == "/console/"
    return browser


def test_sign_in_sets_a_strict_http_only_cookie_secure_over_tls(env):
    plain = sign_in_ann(env)
    session_cookie = next(c for c in plain.set_cookies if c.startswith("rolecall_console="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert "Secure" not in session_cookie and "Max-Age=43200" in session_cookie  # IAM users: 12 hours
    tls = sign_in_ann(env, secure=True)
    assert "Secure" in next(c for c in tls.set_cookies if c.startswith("rolecall_console="))
    # The store keeps a hash of the session's token, never the token.
    token = plain.jar["rolecall_console"]
    with env.store.read_transaction() as tx:
        assert tx.get(GLOBAL, "console_session", token) is None
        assert tx.get(GLOBAL, "console_session", hashlib.sha256(token.encode()).hexdigest()) is not None
        assert token not in json.dumps(tx.list(GLOBAL, "console_session"))
    env.pipeline.flush_trail()
    dumped = json.dumps(list(env.store.events(ACCOUNT)))
    assert token not in dumped and PASSWORD not in dumped


def test_sign_in_is_recorded_as_console_login_and_a_wrong_password_says_nothing_more(env):
    browser = Browser(Console(env.pipeline))
    wrong = browser.sign_in(kind="iam", account=ACCOUNT, username="ann", password="nope")
    nobody = browser.sign_in(kind="iam", account=ACCOUNT, username="nobody", password="nope")
    assert wrong.status == nobody.status == 401
    assert "Your authentication information is incorrect" in wrong.body.decode()
    assert wrong.body.decode().count("incorrect") == nobody.body.decode().count("incorrect")
    sign_in_ann(env)
    env.pipeline.flush_trail()
    logins = [r for r in env.store.events(ACCOUNT) if r["eventName"] == "ConsoleLogin"]
    outcomes = sorted(
        (r["userIdentity"].get("userName"), r["responseElements"]["ConsoleLogin"]) for r in logins
    )
    assert outcomes == [("ann", "Failure"), ("ann", "Success"), ("nobody", "Failure")]
    assert all(r["eventSource"] == "signin.amazonaws.com" for r in logins)
    assert "nope" not in json.dumps(logins)


def test_root_signs_in_with_the_root_key_pair(env):
    key = env.call("CreateAccessKey")["AccessKey"]  # root's own key (no UserName)
    browser = Browser(Console(env.pipeline))
    bad = browser.sign_in(kind="root", access_key_id=key["AccessKeyId"], secret_access_key="x" * 40)
    assert bad.status == 401
    user_key = env.call("CreateAccessKey", UserName="ann")["AccessKey"]  # a user's key is no root key
    assert (
        browser.sign_in(
            kind="root", access_key_id=user_key["AccessKeyId"], secret_access_key=user_key["SecretAccessKey"]
        ).status
        == 401
    )
    ok = browser.sign_in(
        kind="root", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    assert ok.status == 303
    assert "Max-Age=3600" in next(
        c for c in browser.set_cookies if c.startswith("rolecall_console=") and "Max-Age=0" not in c
    )
    assert f"arn:aws:iam::{ACCOUNT}:root" in browser.request("GET", "/console/").body.decode()


def test_session_expires(env):
    browser = sign_in_ann(env)
    assert browser.request("GET", "/console/").status == 200
    env.clock.advance(12 * 3600 - 1)
    assert browser.request("GET", "/console/").status == 200
    env.clock.advance(1)
    response = browser.request("GET", "/console/roles")
    assert response.status == 303 and response.header("location") == "/console/signin?next=%2Fconsole%2Froles"


def test_login_profile_max_signin_session_duration_sets_the_lifetime(env):
    env.call("UpdateLoginProfile", UserName="ann", MaxSigninSessionDuration=3600)
    browser = sign_in_ann(env)
    env.clock.advance(3600)
    assert browser.request("GET", "/console/").status == 303


def test_deleting_the_login_profile_ends_the_session(env):
    browser = sign_in_ann(env)
    env.call("DeleteLoginProfile", UserName="ann")
    assert browser.request("GET", "/console/").status == 303


def test_sign_out_needs_the_csrf_token_and_ends_the_session_in_the_store(env):
    browser = sign_in_ann(env)
    assert browser.request("POST", "/console/signout", {"csrf_token": "forged"}).status == 403
    assert browser.request("GET", "/console/").status == 200
    token = browser.jar["rolecall_console"]
    assert browser.request("POST", "/console/signout", {"csrf_token": browser.csrf()}).status == 303
    assert "rolecall_console" not in browser.jar
    browser.jar["rolecall_console"] = token  # a copy of the cookie kept from before: no longer a session
    assert browser.request("GET", "/console/").status == 303


def test_pages_run_as_the_signed_in_user(env):
    browser = sign_in_ann(env)
    refused = browser.request("GET", "/console/roles")
    assert refused.status == 403
    text = refused.body.decode()
    assert "is not authorized to perform: iam:ListRoles" in text and "missing grant:" in text
    env.call(
        "PutUserPolicy",
        UserName="ann",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}],
            }
        ),
    )
    assert browser.request("GET", "/console/roles").status == 200
    env.pipeline.flush_trail()
    calls = [r for r in env.store.events(ACCOUNT) if r["eventName"] == "ListRoles"]
    assert {r.get("errorCode") for r in calls} == {"AccessDenied", None}
    assert all(
        r["userIdentity"]["userName"] == "ann" and r["userAgent"].startswith("rolecall-console")
        for r in calls
    )


def test_next_never_leaves_the_console(env):
    browser = Browser(Console(env.pipeline))
    page = browser.request("GET", "/console/signin?next=//evil.example/").body.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = browser.request(
        "POST",
        "/console/signin",
        {
            "kind": "iam",
            "account": ACCOUNT,
            "username": "ann",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert response.header("location") == "/console/"


def test_pages_escape_what_they_show(env):
    env.call(
        "CreateRole",
        RoleName="x",
        Description="<script>alert(1)</script>",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    key = env.call("CreateAccessKey")["AccessKey"]
    browser = Browser(Console(env.pipeline))
    browser.sign_in(kind="root", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
    text = browser.request("GET", "/console/roles/x").body.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text


def test_trust_policy_in_words():
    grants = trust_in_words(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
                    },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:*"},
                        "ForAnyValue:StringEquals": {"aws:PrincipalTag/team": ["a", "b"]},
                    },
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["arn:aws:iam::210987654321:user/ci", "210987654321"]},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {"Null": {"sts:ExternalId": "false"}},
                },
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sts:AssumeRole",
                    "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )
    assert grants[0].principals == ["users of the OIDC identity provider token.actions.githubusercontent.com"]
    assert grants[0].actions == ["assume it with a web identity (OIDC) token (sts:AssumeRoleWithWebIdentity)"]
    assert grants[0].conditions == [
        "token.actions.githubusercontent.com:sub matches repo:org/app:*",
        "any value of aws:PrincipalTag/team is any of a, b",
    ]
    assert grants[1].principals[0] == "the IAM user ci of account 210987654321"
    assert (
        grants[1].principals[1].startswith("account 210987654321: its root user, and those of its IAM users")
    )
    assert grants[1].actions[1] == "pass session tags (sts:TagSession)"
    assert grants[1].conditions == ["sts:ExternalId is present in the request"]
    assert grants[2].effect == "Deny" and grants[2].principals[0].startswith("anyone")
    assert grants[2].conditions == ["aws:SecureTransport is false (when the key is present)"]


def root_browser(env: Harness) -> Browser:
    key = env.call("CreateAccessKey")["AccessKey"]
    browser = Browser(Console(env.pipeline))
    browser.sign_in(kind="root", access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
    return browser


def test_trail_filters_by_role_session_outcome_event_and_time(env):
    worker = env.role_session("worker", session_name="job-7")
    env.denied(worker, "iam", "ListUsers")
    env.invoke("sts", "GetCallerIdentity", caller=worker)
    browser = root_browser(env)

    def rows(**query: str) -> str:
        response = browser.request("GET", "/console/trail?" + urlencode(query))
        assert response.status == 200
        return response.body.decode().split("<tbody>", 1)[-1]

    refused = rows(role="worker", outcome="refused")
    assert "ListUsers" in refused and "GetCallerIdentity" not in refused and "worker / job-7" in refused
    allowed = rows(session="job-7", outcome="allowed")
    assert "GetCallerIdentity" in allowed and "ListUsers" not in allowed
    assert "ListUsers" in rows(event="listusers")
    assert "ListUsers" not in rows(role="worker", end="2020-01-01T00:00")  # before any of it
    assert "ListUsers" in rows(role="worker", start="2020-01-01T00:00")
    live = browser.request("GET", "/console/trail?live=1").body.decode()
    assert '<meta http-equiv="refresh" content="5">' in live


def test_a_trail_event_opens_to_its_record_and_explanation(env):
    worker = env.role_session("worker", session_name="job-7")
    env.denied(worker, "iam", "ListUsers")
    browser = root_browser(env)
    listing = browser.request("GET", "/console/trail?event=ListUsers").body.decode()
    event_id = re.search(r'href="/console/trail/events/([^"]+)"', listing)[1]
    page = browser.request("GET", f"/console/trail/events/{event_id}").body.decode()
    assert "refused: AccessDenied" in page and "missing grant:" in page
    assert "rolecallExplanation" in page  # the record itself
    ask = re.search(r'href="(/console/simulator\?[^"]+)"', page)[1].replace("&amp;", "&")
    form = browser.request("GET", ask).body.decode()
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    assert f'name="principal_arn" value="{role_arn}"' in form and ">iam:ListUsers</textarea>" in form
    assert "Result for" not in form  # a GET only fills the form in
    assert browser.request("GET", "/console/trail/events/no-such-event").status == 200


def test_trust_principals_named_briefly_for_pictures():
    grants = trust_in_words(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {
                        "AWS": ["123456789012", "arn:aws:iam::210987654321:role/path/deployer"],
                        "Service": "lambda.amazonaws.com",
                        "Federated": "arn:aws:iam::123456789012:saml-provider/corp",
                    },
                }
            ]
        }
    )
    assert sorted(grants[0].labels) == [
        "account 123456789012",
        "federated corp",
        "role deployer (210987654321)",
        "service lambda.amazonaws.com",
    ]


def test_any_forged_token_is_refused_and_sign_in_returns_to_the_page_asked_for(env):
    browser = sign_in_ann(env)
    assert browser.request("POST", "/console/signout", {"csrf_token": "é" * 10}).status == 403
    assert browser.request("POST", "/console/simulator", {"actions": "iam:ListRoles"}).status == 403
    stranger = Browser(Console(env.pipeline))
    response = stranger.request("GET", "/console/trail?user=ann&outcome=refused")
    assert (
        response.header("location")
        == "/console/signin?next=%2Fconsole%2Ftrail%3Fuser%3Dann%26outcome%3Drefused"
    )
    page = stranger.request("GET", response.header("location")).body.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    target = re.search(r'name="next" value="([^"]+)"', page)[1].replace("&amp;", "&")
    signed_in = stranger.request(
        "POST",
        "/console/signin",
        {
            "kind": "iam",
            "account": ACCOUNT,
            "username": "ann",
            "password": PASSWORD,
            "csrf_token": token,
            "next": target,
        },
    )
    assert signed_in.header("location") == "/console/trail?user=ann&outcome=refused"


def test_a_role_shows_the_services_it_last_accessed(env):
    worker = env.role_session(
        "worker",
        {"Effect": "Allow", "Action": ["iam:ListUsers", "s3:GetObject"], "Resource": "*"},
        session_name="job-1",
    )
    env.invoke("iam", "ListUsers", caller=worker)
    browser = root_browser(env)
    page = browser.request("GET", "/console/roles/worker").body.decode()
    section = page.split('id="last"', 1)[1].split("</section>", 1)[0]
    assert "1 of 2 allowed services used" in section
    iam_row, s3_row = section.split("<tbody>", 1)[1].split("</tr>")[:2]
    assert "AWS Identity and Access Management" in iam_row and "2027-" in iam_row
    assert "Amazon S3" in s3_row and "not accessed in the tracking period" in s3_row
    # ann may read the role but not generate its report: the section says so, the rest of the page is there.
    env.call(
        "PutUserPolicy",
        UserName="ann",
        PolicyName="read-roles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}],
            }
        ),
    )
    ann = sign_in_ann(env).request("GET", "/console/roles/worker").body.decode()
    assert "iam:GenerateServiceLastAccessedDetails, refused" in ann and "Who can assume this role" in ann


def test_the_trust_graph_draws_forty_roles_at_a_time_by_name_prefix_and_page(env):
    for i in range(45):
        env.call("CreateRole", RoleName=f"batch-{i:02d}", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    env.call("CreateRole", RoleName="web", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    browser = root_browser(env)

    def drawn(query: str) -> tuple[str, set[str]]:
        response = browser.request("GET", "/console/pictures/trust" + query)
        assert response.status == 200
        text = response.body.decode()
        return text, set(re.findall(r'<td><a href="/console/roles/([^"]+)">', text))

    text, names = drawn("")
    assert len(names) == 40 and "Roles 1–40 of 46; page 1 of 2." in text
    assert 'href="/console/pictures/trust?page=2"' in text and "Previous" not in text
    text, names = drawn("?page=2")
    assert len(names) == 6 and "web" in names and "Previous 40" in text
    text, names = drawn("?prefix=BATCH-4")
    assert names == {f"batch-4{i}" for i in range(5)} and "of 5 whose name starts with" in text
    assert "(46 in the account)" in text
    text, names = drawn("?prefix=nothing-like-it&page=x")
    assert names == set() and "no role matches" in text
