"""STS in process, through the authorizer: who the caller is, AssumeRole's trust and identity halves, session
tokens, the account of a key, and decoding EC2's encoded denials."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from rolecall.authn import session_caller
from rolecall.credentials.sessions import open_token
from rolecall.errors import AccessDenied, AwsError, InvalidParameterValue, ValidationError
from tests.services.conftest import ACCOUNT, ACCOUNT_TRUST, START, allow

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"


@pytest.fixture
def role(env) -> str:
    env.call("CreateRole", RoleName="app", AssumeRolePolicyDocument=ACCOUNT_TRUST)
    return ROLE_ARN


def test_get_caller_identity_needs_no_permission_even_under_an_explicit_deny(env):
    assert env.invoke("sts", "GetCallerIdentity") == {
        "UserId": ACCOUNT,
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
    }
    denied = env.user("denied", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    me = env.invoke("sts", "GetCallerIdentity", caller=denied)
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/denied" and me["UserId"].startswith("AIDA")
    session = env.role_session("worker", session_name="job-7")
    assert env.invoke("sts", "GetCallerIdentity", caller=session)["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/job-7"
    )


def test_assume_role_needs_the_identity_half_when_the_trust_names_the_account(env, role):
    allowed = env.user("allowed", allow("sts:AssumeRole", ROLE_ARN))
    out = env.invoke(
        "sts", "AssumeRole", caller=allowed, RoleArn=role, RoleSessionName="s1", DurationSeconds=900
    )
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1"
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] == datetime.fromtimestamp(START + 900, UTC)
    # The token is the session itself: the role, the session name, who may use it.
    session = open_token(env.config.token_box, creds["SessionToken"])
    assert (session.role_arn, session.session_name, session.access_key_id) == (
        ROLE_ARN,
        "s1",
        creds["AccessKeyId"],
    )
    assert session_caller(session).arn == out["AssumedRoleUser"]["Arn"]

    stranger = env.user("stranger")
    err = env.denied(stranger, "sts", "AssumeRole", RoleArn=role, RoleSessionName="s2")
    # AWS words AssumeRole's denial without naming the policy type that refused it.
    assert isinstance(err, AccessDenied) and err.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/stranger is not authorized to perform: sts:AssumeRole "
        f"on resource: {ROLE_ARN}"
    )


def test_assume_role_of_a_missing_role_or_beyond_its_limits_is_refused(env, role):
    allowed = env.user("allowed", allow("sts:AssumeRole"))
    missing = f"arn:aws:iam::{ACCOUNT}:role/nope"
    with pytest.raises(AccessDenied, match="sts:AssumeRole on resource: " + missing):
        env.invoke("sts", "AssumeRole", caller=allowed, RoleArn=missing, RoleSessionName="s0")
    with pytest.raises(ValidationError, match="exceeds the MaxSessionDuration set for this role"):
        env.invoke(
            "sts", "AssumeRole", caller=allowed, RoleArn=role, RoleSessionName="s0", DurationSeconds=7200
        )


def test_get_session_token_is_for_long_term_credentials_only(env):
    dev = env.user("dev")  # no policy at all: GetSessionToken needs none
    creds = env.invoke("sts", "GetSessionToken", caller=dev)["Credentials"]
    assert creds["Expiration"] == datetime.fromtimestamp(START + 43200, UTC)  # 12 hours by default
    session = open_token(env.config.token_box, creds["SessionToken"])
    assert (session.kind, session.user_name) == ("user", "dev")
    root = env.invoke("sts", "GetSessionToken", DurationSeconds=7200)["Credentials"]
    assert root["Expiration"] == datetime.fromtimestamp(START + 3600, UTC)  # the root's are capped at 1 hour
    with pytest.raises(AccessDenied, match="Cannot call GetSessionToken with session credentials"):
        env.invoke("sts", "GetSessionToken", caller=session_caller(session))


def test_get_access_key_info_reads_the_account_from_the_key_id(env):
    env.call("CreateUser", UserName="k")
    key = env.call("CreateAccessKey", UserName="k")["AccessKey"]["AccessKeyId"]
    assert env.invoke("sts", "GetAccessKeyInfo", AccessKeyId=key) == {"Account": ACCOUNT}
    # AWS's documentation example key: its account is encoded in the id, no lookup needed.
    assert env.invoke("sts", "GetAccessKeyInfo", AccessKeyId="AKIAIOSFODNN7EXAMPLE") == {
        "Account": "581039954779"
    }
    with pytest.raises(InvalidParameterValue):
        env.invoke("sts", "GetAccessKeyInfo", AccessKeyId="ASIA000000000000000A")
    err = env.denied(env.user("nosy"), "sts", "GetAccessKeyInfo", AccessKeyId=key)
    assert err.message.endswith("because no identity-based policy allows the sts:GetAccessKeyInfo action")


def test_decode_authorization_message_explains_an_ec2_denial(env):
    launcher = env.user("launcher")
    with pytest.raises(AwsError) as refused:
        env.invoke(
            "ec2", "RunInstances", caller=launcher, ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1
        )
    encoded = refused.value.message.split("Encoded authorization failure message: ")[1]

    # Reading it needs sts:DecodeAuthorizationMessage: the launcher itself may not.
    err = env.denied(launcher, "sts", "DecodeAuthorizationMessage", EncodedMessage=encoded)
    assert isinstance(err, AccessDenied) and err.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/launcher is not authorized to perform: sts:DecodeAuthorizationMessage "
        "on resource: * because no identity-based policy allows the sts:DecodeAuthorizationMessage action"
    )
    reader = env.user("reader", allow("sts:DecodeAuthorizationMessage"))
    decoded = json.loads(
        env.invoke("sts", "DecodeAuthorizationMessage", caller=reader, EncodedMessage=encoded)[
            "DecodedMessage"
        ]
    )
    assert (decoded["allowed"], decoded["explicitDeny"]) == (False, False)
    assert decoded["context"]["action"] == "ec2:RunInstances"
    assert decoded["context"]["principal"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/launcher"
    assert decoded["context"]["resource"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"
    with pytest.raises(AwsError) as bad:
        env.invoke("sts", "DecodeAuthorizationMessage", caller=reader, EncodedMessage="not-a-message")
    assert (bad.value.code, bad.value.message) == (
        "InvalidAuthorizationMessageException",
        "The message is invalid.",
    )
