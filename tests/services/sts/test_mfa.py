"""STS with MFA, in process: GetSessionToken and AssumeRole with SerialNumber/TokenCode, a trust policy that
requires MFA (aws:MultiFactorAuthPresent, aws:MultiFactorAuthAge), and sessions that carry the MFA on."""

from __future__ import annotations

import json

import pytest

from rolecall.authn import session_caller
from rolecall.credentials import totp
from rolecall.credentials.sessions import open_token
from rolecall.errors import AccessDenied
from tests.services.conftest import ACCOUNT, allow

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/guarded"
MFA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                    "NumericLessThan": {"aws:MultiFactorAuthAge": "900"},
                },
            }
        ],
    }
)


@pytest.fixture
def mfa_user(env):
    """User dave, allowed to assume roles, with an enabled virtual device; (caller, serial, seed)."""
    caller = env.user("dave", allow("sts:AssumeRole"))
    device = env.call("CreateVirtualMFADevice", VirtualMFADeviceName="dave")["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = totp.step_of(env.clock.time())
    env.call(
        "EnableMFADevice",
        UserName="dave",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.code_at(seed, step - 1),
        AuthenticationCode2=totp.code_at(seed, step),
    )
    env.call("CreateRole", RoleName="guarded", AssumeRolePolicyDocument=MFA_TRUST)
    return caller, device["SerialNumber"], seed


def test_a_role_that_requires_mfa(env, mfa_user):
    caller, serial, seed = mfa_user
    with pytest.raises(AccessDenied) as refused:  # no MFA: the trust policy's condition fails
        env.invoke("sts", "AssumeRole", caller=caller, RoleArn=ROLE_ARN, RoleSessionName="sess")
    assert "sts:AssumeRole" in refused.value.message
    with pytest.raises(AccessDenied) as refused:
        env.invoke(
            "sts",
            "AssumeRole",
            caller=caller,
            RoleArn=ROLE_ARN,
            RoleSessionName="sess",
            SerialNumber=serial,
            TokenCode="000000",
        )
    assert refused.value.message == "MultiFactorAuthentication failed with invalid MFA one time pass code."
    with pytest.raises(AccessDenied) as refused:
        env.invoke(
            "sts",
            "AssumeRole",
            caller=caller,
            RoleArn=ROLE_ARN,
            RoleSessionName="sess",
            SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/nope",
            TokenCode="123456",
        )
    assert refused.value.message == "MultiFactorAuthentication failed, unable to validate MFA code."
    out = env.invoke(
        "sts",
        "AssumeRole",
        caller=caller,
        RoleArn=ROLE_ARN,
        RoleSessionName="sess",
        SerialNumber=serial,
        TokenCode=totp.code(seed, env.clock.time()),
    )
    session = open_token(env.config.token_box, out["Credentials"]["SessionToken"])
    assert session.mfa and session.mfa_time == env.clock.time()
    # The session's own requests see the MFA and its age.
    env.clock.advance(120)
    as_role = session_caller(session)
    env.call(
        "PutRolePolicy",
        RoleName="guarded",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    allow("iam:GetRole", Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "100"}})
                ],
            }
        ),
    )
    assert isinstance(env.denied(as_role, "iam", "GetRole", RoleName="guarded"), AccessDenied)
    env.call(
        "PutRolePolicy",
        RoleName="guarded",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    allow(
                        "iam:GetRole",
                        Condition={
                            "NumericLessThan": {"aws:MultiFactorAuthAge": "121"},
                            "Bool": {"aws:MultiFactorAuthPresent": "true"},
                        },
                    )
                ],
            }
        ),
    )
    assert env.invoke("iam", "GetRole", caller=as_role, RoleName="guarded")["Role"]["RoleName"] == "guarded"


def test_get_session_token_with_mfa_carries_it_to_assumed_roles(env, mfa_user):
    caller, serial, seed = mfa_user
    plain = env.invoke("sts", "GetSessionToken", caller=caller)
    assert not open_token(env.config.token_box, plain["Credentials"]["SessionToken"]).mfa
    with pytest.raises(AccessDenied):
        env.invoke("sts", "GetSessionToken", caller=caller, SerialNumber=serial, TokenCode="111111")
    out = env.invoke(
        "sts",
        "GetSessionToken",
        caller=caller,
        SerialNumber=serial,
        TokenCode=totp.code(seed, env.clock.time()),
    )
    session = open_token(env.config.token_box, out["Credentials"]["SessionToken"])
    assert session.mfa and session.user_name == "dave"
    env.clock.advance(60)
    # Roles that require MFA accept the MFA session, its age counted from the code.
    assumed = env.invoke(
        "sts", "AssumeRole", caller=session_caller(session), RoleArn=ROLE_ARN, RoleSessionName="tess"
    )
    role_session = open_token(env.config.token_box, assumed["Credentials"]["SessionToken"])
    assert role_session.mfa and role_session.mfa_time == session.mfa_time
    # ...until the MFA is older than the trust policy allows.
    env.clock.advance(900)
    with pytest.raises(AccessDenied):
        env.invoke(
            "sts", "AssumeRole", caller=session_caller(session), RoleArn=ROLE_ARN, RoleSessionName="tess"
        )
    # Another user cannot use dave's device.
    other = env.user("erin", allow("sts:AssumeRole"))
    with pytest.raises(AccessDenied) as refused:
        env.invoke(
            "sts",
            "GetSessionToken",
            caller=other,
            SerialNumber=serial,
            TokenCode=totp.code(seed, env.clock.time()),
        )
    assert refused.value.message == "MultiFactorAuthentication failed with invalid MFA one time pass code."
