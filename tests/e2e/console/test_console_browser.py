"""The web console in a real browser: headless Chromium from Debian's packages (/usr/bin/chromium), driven
by Playwright against a real server. Sign in as root and as IAM users, open a role and read who can assume
it, find a refused event and its explanation, run a simulation, look at the pictures, sign out; a user
without permissions is refused with the engine's explanation; a form without its CSRF token is refused.

Screenshots of the main pages are kept as test artefacts: in $ROLECALL_ARTEFACTS/console when set, else in
pytest's temporary directory (the path is printed), never in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from rolecall.credentials import totp
from tests.e2e.ec2.helpers import AMI, imds, token

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ACCOUNT = "123456789012"
DEV_PASSWORD = "Dev-Password-1!"
AUDITOR_PASSWORD = "Auditor-Password-1!"

# CI installs chromium (.ci/run): there, a missing browser fails these tests rather than skipping them.
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    base = os.environ.get("ROLECALL_ARTEFACTS")
    path = Path(base) / "console" if base else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots: {path}")
    return path


def fetch_instance_credentials(server, instance_id: str) -> None:
    """What a program on the instance does: ask its metadata endpoint (IMDSv2) for the role's credentials."""
    out = server.rolecall("ec2", "imds-endpoint", instance_id, "--endpoint-url", server.url)
    assert out.returncode == 0, out.stderr
    port = urllib.parse.urlsplit(out.stdout.strip()).port
    headers = {"X-aws-ec2-metadata-token": token(port)}
    answer = imds(port, "/latest/meta-data/iam/security-credentials/app", headers=headers)
    assert answer.status == 200 and answer.json()["Code"] == "Success", answer


@pytest.fixture(scope="module")
def world(server):
    """A role that the account, EC2 (with a condition) and a web identity provider may assume, with inline,
    managed and boundary policies and an instance using it; `dev` (a console password, no permission),
    `auditor` (console password, read-only IAM, trail and EC2); and a refusal of dev's in the trail."""
    iam = server.client("iam")
    trust = doc(
        {
            "Sid": "Account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
        {
            "Sid": "Instances",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
    )
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust, Description="the app's role")
    iam.put_role_policy(
        RoleName="app",
        PolicyName="read-data",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": "arn:aws:s3:::data/*",
            }
        ),
    )
    boundary = iam.create_policy(
        PolicyName="app-boundary", PolicyDocument=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    )["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="app", PermissionsBoundary=boundary)
    logs = iam.create_policy(
        PolicyName="write-logs",
        PolicyDocument=doc({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="app", PolicyArn=logs)
    iam.create_instance_profile(InstanceProfileName="app-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    instance = server.client("ec2").run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "app-profile"}
    )["Instances"][0]
    fetch_instance_credentials(server, instance["InstanceId"])  # EC2 assumes the role, as the trail says

    iam.create_user(UserName="dev")
    iam.create_login_profile(UserName="dev", Password=DEV_PASSWORD)
    iam.create_role(
        RoleName="deployer",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/dev"},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
        ),
    )
    iam.put_role_policy(
        RoleName="deployer",
        PolicyName="deploy",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/app"},
        ),
    )
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError):
        dev.create_role(RoleName="x", AssumeRolePolicyDocument=trust)

    iam.create_user(UserName="auditor")
    iam.create_login_profile(UserName="auditor", Password=AUDITOR_PASSWORD)
    iam.put_user_policy(
        UserName="auditor",
        PolicyName="audit",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulatePrincipalPolicy",
                    "cloudtrail:LookupEvents",
                    "ec2:Describe*",
                    "lambda:List*",
                    "sts:GetCallerIdentity",
                ],
                "Resource": "*",
            }
        ),
    )
    return {"instance": instance["InstanceId"]}


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    return context.new_page()


def sign_in_user(page, server, user: str, password: str) -> None:
    page.goto(f"{server.url}/console/")
    page.get_by_label("IAM user (console password)").check()
    page.get_by_label("Account ID").fill(ACCOUNT)
    page.get_by_label("IAM user name").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_root_signs_in_reads_trust_finds_a_refusal_simulates_and_signs_out(server, world, browser, artefacts):
    assert f"console: {server.url}/console/ (sign in with" in server.output()  # the banner says where
    page = new_page(browser)
    page.goto(f"{server.url}/")  # a browser at the server's root lands on the sign-in page
    assert page.url.endswith("/console/signin")
    page.screenshot(path=artefacts / "00-signin.png", full_page=True)
    page.get_by_label("Root user of an account").check()
    page.get_by_label("Root access key ID").fill(server.access_key)
    page.get_by_label("Secret access key").fill(server.secret_key)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text(f"arn:aws:iam::{ACCOUNT}:root").first.is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "rolecall_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.screenshot(path=artefacts / "01-home.png", full_page=True)

    # Roles: the list, then the role, its trust policy in words, its policies and what uses it.
    page.get_by_role("navigation").get_by_role("link", name="Roles").click()
    page.screenshot(path=artefacts / "02-roles.png", full_page=True)
    page.get_by_role("link", name="app", exact=True).click()
    trust = page.locator("section[aria-labelledby=trust]")
    assert "account 123456789012: its root user, and those of its IAM users and roles" in trust.inner_text()
    assert "the AWS service ec2.amazonaws.com" in trust.inner_text()
    assert "aws:MultiFactorAuthPresent is true" in trust.inner_text()
    perms = page.locator("section[aria-labelledby=perms]").inner_text()
    assert "Inline policy read-data" in perms and "Managed policy write-logs" in perms
    assert "Permissions boundary app-boundary" in perms
    used = page.locator("section[aria-labelledby=used]").inner_text()
    assert "app-profile" in used and world["instance"] in used
    page.screenshot(path=artefacts / "03-role.png", full_page=True)

    # Trail: dev's refused CreateRole, and the engine's explanation of it.
    page.get_by_role("navigation").get_by_role("link", name="Trail").click()
    page.get_by_label("User").fill("dev")
    page.get_by_label("Outcome").select_option("refused")
    page.get_by_role("button", name="Filter").click()
    page.screenshot(path=artefacts / "04-trail.png", full_page=True)
    page.get_by_role("link", name="CreateRole").first.click()
    why = page.locator("section[aria-labelledby=why]").inner_text()
    assert "outcome:  refused: AccessDenied" in why
    assert "no identity-based policy allows iam:CreateRole" in why
    assert "missing grant:      iam:CreateRole on arn:aws:iam::123456789012:role/x" in why
    page.screenshot(path=artefacts / "05-event.png", full_page=True)

    # The simulator: dev may not list roles; the auditor may.
    page.get_by_role("navigation").get_by_role("link", name="Policy simulator").click()
    page.get_by_label("Principal").select_option(f"arn:aws:iam::{ACCOUNT}:user/dev")
    page.get_by_label("Actions").fill("iam:ListRoles\niam:GetRole")
    page.get_by_role("button", name="Run simulation").click()
    result = page.locator("section[aria-labelledby=result]").inner_text()
    assert "implicitDeny" in result and "no statement of the principal's policies allows it" in result
    page.get_by_label("Principal").select_option(f"arn:aws:iam::{ACCOUNT}:user/auditor")
    page.get_by_role("button", name="Run simulation").click()
    result = page.locator("section[aria-labelledby=result]").inner_text()
    assert "allowed" in result and "Allowed by user/auditor" not in result  # names the policy by its id
    assert "audit (user)" in result
    page.screenshot(path=artefacts / "06-simulator.png", full_page=True)

    # Pictures: the trust graph and the instance's credential chain.
    page.get_by_role("navigation").get_by_role("link", name="Trust graph").click()
    assert page.locator("svg[role=img]").count() == 1
    assert "s3:GetObject, s3:ListBucket on arn:aws:s3:::data/*" in page.locator("table").inner_text()
    page.screenshot(path=artefacts / "07-trust-graph.png", full_page=True)
    page.get_by_role("navigation").get_by_role("link", name="Instance credentials").click()
    chain = page.locator("table").inner_text()
    assert world["instance"] in chain and "app-profile" in chain and "expires" in chain
    assert "s3:GetObject, s3:ListBucket on arn:aws:s3:::data/*" in chain  # what the instance can do
    page.screenshot(path=artefacts / "08-instances.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/console/signin")
    page.goto(f"{server.url}/console/roles")  # the session is over
    assert "/console/signin" in page.url

    # Every console action is in the trail, as the root user, with the browser's user agent.
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListRoles"}]
    )["Events"]
    console_calls = [json.loads(e["CloudTrailEvent"]) for e in events]
    assert any(
        r["userAgent"].startswith("rolecall-console") and r["userIdentity"]["type"] == "Root"
        for r in console_calls
    )
    logins = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}]
    )["Events"]
    assert any(
        json.loads(e["CloudTrailEvent"])["responseElements"] == {"ConsoleLogin": "Success"} for e in logins
    )


def test_user_without_permissions_is_refused_with_the_explanation(server, world, browser, artefacts):
    page = new_page(browser)
    sign_in_user(page, server, "dev", "wrong password")
    assert page.get_by_role("alert").inner_text().startswith("Your authentication information is incorrect")
    sign_in_user(page, server, "dev", DEV_PASSWORD)
    assert page.get_by_text(f"arn:aws:iam::{ACCOUNT}:user/dev").first.is_visible()
    response = page.goto(f"{server.url}/console/roles")
    assert response.status == 403
    assert "is not authorized to perform: iam:ListRoles" in page.get_by_role("alert").inner_text()
    why = page.locator("pre.explanation").inner_text()
    assert "no identity-based policy allows iam:ListRoles" in why
    assert page.locator("main table").count() == 0  # no roles list, not even an empty one
    page.screenshot(path=artefacts / "09-refused.png", full_page=True)


def test_read_only_user_sees_roles_but_not_another_account(server, world, browser):
    other = server.rolecall(
        "account", "create", "--account-id", "210987654321", "--data-dir", str(server.data_dir)
    )
    assert other.returncode == 0, other.stderr
    creds = json.loads(other.stdout)
    other_iam = server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"])
    other_iam.create_role(
        RoleName="elsewhere",
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    page = new_page(browser)
    sign_in_user(page, server, "auditor", AUDITOR_PASSWORD)
    page.goto(f"{server.url}/console/roles")
    roles = page.locator("main table").inner_text()
    assert "app" in roles and "elsewhere" not in roles
    response = page.goto(f"{server.url}/console/roles/elsewhere")
    assert response.status == 404 and "NoSuchEntity" in page.get_by_role("alert").inner_text()


def test_post_without_csrf_token_is_refused(server, world, browser):
    page = new_page(browser)
    sign_in_user(page, server, "auditor", AUDITOR_PASSWORD)
    cookie = next(c for c in page.context.cookies() if c["name"] == "rolecall_console")

    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        req = urllib.request.Request(
            f"{server.url}{path}",
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={
                "Cookie": f"rolecall_console={cookie['value']}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    form = {"principal": f"arn:aws:iam::{ACCOUNT}:user/dev", "actions": "iam:ListRoles"}
    status, text = post("/console/simulator", form)
    assert status == 403 and "CSRF" in text and "implicitDeny" not in text
    status, text = post("/console/simulator", dict(form, csrf_token="forged"))
    assert status == 403 and "CSRF" in text
    status, _ = post("/console/signout", {})
    assert status == 403
    page.goto(f"{server.url}/console/roles")  # still signed in: the forged sign-out did nothing
    assert page.url.endswith("/console/roles")
    # The sign-in form has its own token: a sign-in posted from elsewhere is refused too.
    status, text = post(
        "/console/signin",
        {"kind": "iam", "account": ACCOUNT, "username": "auditor", "password": AUDITOR_PASSWORD},
    )
    assert status == 403 and "CSRF" in text


SEC_PASSWORD = "Security-Password-1!"
PARTNER = "111122223333"


def rolecall_mfa_code(server, serial: str) -> str:
    """The code a rolecall virtual device shows now, as its owner reads it: `rolecall mfa code SERIAL`."""
    out = subprocess.run(
        [sys.executable, "-m", "rolecall", "mfa", "code", serial, *server.store_args()],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[0]


@pytest.fixture(scope="module")
def security(server, world):
    """`sec`, a console user with an MFA device whose policy allows reading IAM, Access Analyzer and the
    account's authorization details only with MFA; a role a partner account may assume (an external access
    finding of the account's analyzer); and an escalation path: dev -> deployer -> ops-admin."""
    iam = server.client("iam")
    iam.create_role(
        RoleName="partner",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "partner-42"}},
            }
        ),
    )
    iam.create_role(
        RoleName="ops-admin",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/deployer"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    iam.put_role_policy(
        RoleName="ops-admin",
        PolicyName="all",
        PolicyDocument=doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    iam.put_role_policy(
        RoleName="deployer",
        PolicyName="become-ops",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{ACCOUNT}:role/ops-admin",
            }
        ),
    )
    server.client("accessanalyzer").create_analyzer(analyzerName="account", type="ACCOUNT")
    iam.create_user(UserName="sec")
    iam.create_login_profile(UserName="sec", Password=SEC_PASSWORD)
    iam.put_user_policy(
        UserName="sec",
        PolicyName="security-with-mfa",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:Get*",
                    "iam:List*",
                    "iam:GenerateServiceLastAccessedDetails",
                    "access-analyzer:*",
                    "lambda:List*",
                    "ec2:Describe*",
                    "sts:GetCallerIdentity",
                ],
                "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ),
    )
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="sec-phone")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = totp.step_of(time.time())
    iam.enable_mfa_device(
        UserName="sec",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.code_at(seed, step - 1),
        AuthenticationCode2=totp.code_at(seed, step),
    )
    return {"serial": device["SerialNumber"], "seed": seed}


def test_mfa_sign_in_findings_and_escalation_paths(server, world, security, browser, artefacts):
    page = new_page(browser)
    sign_in_user(page, server, "sec", SEC_PASSWORD)
    assert page.get_by_role("heading", name="Multi-factor authentication").is_visible()
    assert security["serial"] in page.locator("main").inner_text()
    page.screenshot(path=artefacts / "10-mfa.png", full_page=True)
    current = rolecall_mfa_code(server, security["serial"])
    page.get_by_label("MFA code").fill(str((int(current) + 500_000) % 1_000_000).zfill(6))
    page.get_by_role("button", name="Submit").click()
    assert "MFA code is not valid" in page.get_by_role("alert").inner_text()
    page.get_by_label("MFA code").fill(rolecall_mfa_code(server, security["serial"]))
    page.get_by_role("button", name="Submit").click()
    assert page.get_by_text(f"arn:aws:iam::{ACCOUNT}:user/sec").first.is_visible()

    # Access Analyzer: the partner's access to a role, in words; archived, then listed as archived.
    page.get_by_role("navigation").get_by_role("link", name="Access Analyzer").click()
    listing = page.locator("main").inner_text()
    assert f"arn:aws:iam::{ACCOUNT}:role/partner" in listing and "external access" in listing
    page.screenshot(path=artefacts / "11-findings.png", full_page=True)
    page.get_by_role("link", name=f"arn:aws:iam::{ACCOUNT}:role/partner").click()
    detail = page.locator("main").inner_text()
    assert f"the AWS principal arn:aws:iam::{PARTNER}:root" in detail
    assert "sts:ExternalId is partner-42" in detail
    page.screenshot(path=artefacts / "12-finding.png", full_page=True)
    page.get_by_role("button", name="Archive").click()
    assert page.get_by_role("button", name="Unarchive").is_visible()
    page.get_by_role("link", name="Back to the findings").click()
    assert "role/partner" in page.locator("main").inner_text()  # listed with the archived ones

    # Escalation paths: dev can become an administrator through two roles.
    page.get_by_role("navigation").get_by_role("link", name="Escalation paths").click()
    paths = page.locator("section[aria-labelledby=paths]").inner_text()
    assert "user/dev → role/deployer → role/ops-admin" in paths
    assert "sts:AssumeRole" in paths
    assert page.locator("figure.report svg").count() == 1
    page.screenshot(path=artefacts / "13-escalation.png", full_page=True)

    # A role's page: the services it last accessed.
    page.goto(f"{server.url}/console/roles/app")
    last = page.locator("section[aria-labelledby=last]").inner_text()
    assert "Amazon S3" in last and "allowed services used" in last
    page.locator("section[aria-labelledby=last]").screenshot(path=artefacts / "14-role-last-accessed.png")

    # The trail: the failed code and the sign-in with MFA.
    logins = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}]
    )["Events"]
    sec = [json.loads(e["CloudTrailEvent"]) for e in logins if e.get("Username") == "sec"]
    outcomes = {(r["responseElements"]["ConsoleLogin"], r["additionalEventData"]["MFAUsed"]) for r in sec}
    assert outcomes == {("Failure", "Yes"), ("Success", "Yes")}


def test_a_required_password_change_before_the_session(server, world, browser, artefacts):
    iam = server.client("iam")
    iam.create_user(UserName="newcomer")
    iam.create_login_profile(UserName="newcomer", Password="First-Password-1!", PasswordResetRequired=True)
    iam.put_user_policy(
        UserName="newcomer",
        PolicyName="own-password",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}),
    )
    iam.update_account_password_policy(MinimumPasswordLength=16)
    try:
        page = new_page(browser)
        sign_in_user(page, server, "newcomer", "First-Password-1!")
        assert page.get_by_role("heading", name="Choose a new password").is_visible()
        page.get_by_label("Old password").fill("First-Password-1!")
        page.get_by_label("New password", exact=True).fill("Short-2!")
        page.get_by_label("Retype new password").fill("Short-2!")
        page.get_by_role("button", name="Confirm password change").click()
        assert "minimum length of 16" in page.get_by_role("alert").inner_text()
        page.screenshot(path=artefacts / "15-new-password.png", full_page=True)
        page.get_by_label("Old password").fill("First-Password-1!")
        page.get_by_label("New password", exact=True).fill("Second-Password-22!")
        page.get_by_label("Retype new password").fill("Second-Password-22!")
        page.get_by_role("button", name="Confirm password change").click()
        assert page.get_by_text(f"arn:aws:iam::{ACCOUNT}:user/newcomer").first.is_visible()
        assert iam.get_login_profile(UserName="newcomer")["LoginProfile"]["PasswordResetRequired"] is False
    finally:
        iam.delete_account_password_policy()
