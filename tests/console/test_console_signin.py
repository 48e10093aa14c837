"""Sign-in as AWS does it, past the password: a new password when the login profile requires one or the
password is older than the policy's MaxPasswordAge (ChangePassword as the user, the policy enforced), an MFA
code when the user has a device (the session then carries aws:MultiFactorAuthPresent / Age, and a wrong code
is a failed ConsoleLogin), and the lock after five failed attempts."""

from __future__ import annotations

import json
import re

from rolecall.console.app import Console
from rolecall.credentials import totp
from tests.console.conftest import PASSWORD
from tests.console.test_console import Browser
from tests.services.conftest import ACCOUNT, Harness, policy

NEW = "Brand-New-Pass-7!"


def start(env: Harness, password: str = PASSWORD) -> tuple[Browser, str, object]:
    """A browser past the password step: (browser, its sign-in CSRF token, the response)."""
    browser = Browser(Console(env.pipeline))
    page = browser.request("GET", "/console/signin").body.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = browser.request(
        "POST",
        "/console/signin",
        {"kind": "iam", "account": ACCOUNT, "username": "ann", "password": password, "csrf_token": token},
    )
    return browser, token, response


def allow_ann(env: Harness, name: str, *statements: dict) -> None:
    env.call("PutUserPolicy", UserName="ann", PolicyName=name, PolicyDocument=policy(*statements))


def test_a_required_reset_asks_for_a_new_password_that_the_policy_accepts(env: Harness) -> None:
    env.call("UpdateLoginProfile", UserName="ann", PasswordResetRequired=True)
    env.call("UpdateAccountPasswordPolicy", MinimumPasswordLength=14)
    browser, token, response = start(env)
    text = response.body.decode()
    assert response.status == 200 and "Choose a new password" in text and "requires you" in text
    assert "rolecall_console" not in browser.jar and "rolecall_console_pending" in browser.jar

    def change(old: str, new: str, again: str | None = None):
        form = {"step": "new_password", "csrf_token": token, "old_password": old, "new_password": new}
        return browser.request("POST", "/console/signin", dict(form, new_password_again=again or new))

    assert "do not match" in change(PASSWORD, NEW, "other").body.decode()
    refused = change(PASSWORD, NEW)  # ann may not iam:ChangePassword yet: the engine says why
    assert refused.status == 400 and "AccessDenied" in refused.body.decode()
    assert "iam:ChangePassword" in refused.body.decode()
    allow_ann(env, "change", {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"})
    short = change(PASSWORD, "Short-1!")
    assert short.status == 400 and "minimum length of 14" in short.body.decode()
    assert "incorrect" in change("wrong-old", NEW).body.decode()
    done = change(PASSWORD, NEW)
    assert done.status == 303 and done.header("location") == "/console/"
    assert "rolecall_console" in browser.jar and "rolecall_console_pending" not in browser.jar
    assert browser.request("GET", "/console/").status == 200
    assert start(env)[2].status == 401  # the old password is gone
    again = start(env, NEW)[2]
    assert again.status == 303  # and no reset is asked for any more
    # The step cannot be replayed once used: its form's token went with the sign-in.
    assert change(NEW, "Another-Pass-99!").status == 403
    assert start(env, NEW)[2].status == 303


def test_a_password_older_than_the_policy_allows_must_be_changed(env: Harness) -> None:
    allow_ann(env, "change", {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"})
    env.call("UpdateAccountPasswordPolicy", MaxPasswordAge=30)
    assert start(env)[2].status == 303
    env.clock.advance(31 * 86400)
    _, _, response = start(env)
    assert response.status == 200 and "older than the 30 days" in response.body.decode()
    env.call("UpdateAccountPasswordPolicy", MaxPasswordAge=30, HardExpiry=True)
    _, _, response = start(env)
    assert response.status == 401 and "HardExpiry" in response.body.decode()


def enable_mfa(env: Harness) -> tuple[str, str]:
    device = env.call("CreateVirtualMFADevice", VirtualMFADeviceName="ann")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = totp.step_of(env.clock.time())
    env.call(
        "EnableMFADevice",
        UserName="ann",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.code_at(seed, step - 1),
        AuthenticationCode2=totp.code_at(seed, step),
    )
    return device["SerialNumber"], seed


def test_mfa_is_asked_after_the_password_and_held_by_the_session(env: Harness) -> None:
    serial, seed = enable_mfa(env)
    allow_ann(
        env,
        "roles-with-mfa",
        {
            "Effect": "Allow",
            "Action": "iam:ListRoles",
            "Resource": "*",
            "Condition": {
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
            },
        },
    )
    env.clock.advance(60)  # past the codes used to enable the device
    browser, token, response = start(env)
    assert response.status == 200 and "Multi-factor authentication" in response.body.decode()
    assert serial in response.body.decode() and "rolecall_console" not in browser.jar
    current = totp.code_at(seed, totp.step_of(env.clock.time()))
    wrong = str((int(current) + 1) % 1_000_000).zfill(6)
    bad = browser.request("POST", "/console/signin", {"step": "mfa", "csrf_token": token, "mfa_code": wrong})
    assert bad.status == 401 and "MFA code is not valid" in bad.body.decode()
    ok = browser.request("POST", "/console/signin", {"step": "mfa", "csrf_token": token, "mfa_code": current})
    assert ok.status == 303 and "rolecall_console" in browser.jar
    assert browser.request("GET", "/console/roles").status == 200  # the policy's MFA condition holds
    env.clock.advance(3600)
    assert browser.request("GET", "/console/roles").status == 403  # aws:MultiFactorAuthAge is now 3600
    env.pipeline.flush_trail()
    logins = [r for r in env.store.events(ACCOUNT) if r["eventName"] == "ConsoleLogin"]
    outcomes = sorted(
        (r["responseElements"]["ConsoleLogin"], r["additionalEventData"]["MFAUsed"]) for r in logins
    )
    assert outcomes == [("Failure", "Yes"), ("Success", "Yes")]
    listed = [r for r in env.store.events(ACCOUNT) if r["eventName"] == "ListRoles"]
    assert {r["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] for r in listed} == {"true"}
    assert current not in json.dumps(logins) and seed not in json.dumps(logins)


def test_mfa_then_a_new_password(env: Harness) -> None:
    _, seed = enable_mfa(env)
    env.clock.advance(60)
    env.call("UpdateLoginProfile", UserName="ann", PasswordResetRequired=True)
    allow_ann(env, "change", {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"})
    browser, token, response = start(env)
    assert "Multi-factor authentication" in response.body.decode()
    code = totp.code_at(seed, totp.step_of(env.clock.time()))
    then = browser.request("POST", "/console/signin", {"step": "mfa", "csrf_token": token, "mfa_code": code})
    assert then.status == 200 and "Choose a new password" in then.body.decode()
    form = {"step": "new_password", "csrf_token": token, "old_password": PASSWORD}
    done = browser.request("POST", "/console/signin", dict(form, new_password=NEW, new_password_again=NEW))
    assert done.status == 303


def test_five_failures_lock_the_users_sign_in_for_a_while(env: Harness) -> None:
    for _ in range(5):
        assert start(env, "wrong")[2].status == 401
    locked = start(env)[2]
    assert locked.status == 401 and "locked" in locked.body.decode()
    env.clock.advance(15 * 60)
    assert start(env)[2].status == 303
    # A success clears the count: four failures later, the right password still works.
    for _ in range(4):
        start(env, "wrong")
    assert start(env)[2].status == 303


def test_a_sign_in_step_without_a_pending_sign_in_is_refused(env: Harness) -> None:
    browser = Browser(Console(env.pipeline))
    page = browser.request("GET", "/console/signin").body.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = browser.request(
        "POST", "/console/signin", {"step": "mfa", "csrf_token": token, "mfa_code": "1"}
    )
    assert response.status == 401 and "rolecall_console" not in browser.jar
