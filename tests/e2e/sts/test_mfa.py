"""An MFA-protected role against a real server: the trust policy requires aws:MultiFactorAuthPresent, and
only AssumeRole with a current code (boto3 and the AWS CLI), or a GetSessionToken session made with one,
gets in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from rolecall.credentials import totp
from tests.e2e.helpers import allow, err, name, new_user


def test_mfa_protected_role(server):
    iam = server.client("iam")
    user, key = new_user(server, iam, allow(["sts:AssumeRole", "iam:GetUser"]))
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"].decode()
    now = time.time()
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp.code(seed, now - 30),
        AuthenticationCode2=totp.code(seed, now),
    )
    role = name("admin")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="no-mfa")
    assert err(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="bad", SerialNumber=serial, TokenCode="000000")
    assert err(exc)[1] == "MultiFactorAuthentication failed with invalid MFA one time pass code."
    creds = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName="with-mfa",
        SerialNumber=serial,
        TokenCode=totp.code(seed, time.time()),
    )["Credentials"]
    as_role = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert as_role.get_caller_identity()["Arn"].endswith(f":assumed-role/{role}/with-mfa")

    # GetSessionToken with a code: its session assumes the role without another code.
    session = sts.get_session_token(SerialNumber=serial, TokenCode=totp.code(seed, time.time()))[
        "Credentials"
    ]
    as_session = server.client(
        "sts", session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )
    # MFA-authenticated session credentials may call IAM (those made without a code may not).
    iam_session = server.client(
        "iam", session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )
    assert iam_session.get_user()["User"]["UserName"] == user
    assert as_session.assume_role(RoleArn=role_arn, RoleSessionName="chained")["AssumedRoleUser"][
        "Arn"
    ].endswith("/chained")
    plain = sts.get_session_token()["Credentials"]
    as_plain = server.client("sts", plain["AccessKeyId"], plain["SecretAccessKey"], plain["SessionToken"])
    with pytest.raises(ClientError):
        as_plain.assume_role(RoleArn=role_arn, RoleSessionName="plain")

    # The AWS CLI passes --serial-number and --token-code the same way.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.url,
        AWS_PAGER="",
    )
    args = [
        "sts",
        "assume-role",
        "--role-arn",
        role_arn,
        "--role-session-name",
        "cli",
        "--serial-number",
        serial,
    ]
    out = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--token-code", totp.code(seed, time.time())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["AssumedRoleUser"]["Arn"].endswith("/cli")
