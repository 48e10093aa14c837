"""Account alias, password policy, ChangePassword, the credential report and access keys' last use, against a
real server with boto3 (and the AWS CLI for the alias)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, name, new_user


def test_alias_and_password_policy(server):
    iam = server.client("iam")
    iam.create_account_alias(AccountAlias="rolecall-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.url,
        AWS_PAGER="",
    )
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "iam", "list-account-aliases", "--output", "text"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "rolecall-e2e" in out.stdout
    iam.delete_account_alias(AccountAlias="rolecall-e2e")
    assert iam.list_account_aliases()["AccountAliases"] == []

    iam.update_account_password_policy(MinimumPasswordLength=12, RequireNumbers=True)
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 12
    user, key = new_user(server, iam, allow("iam:ChangePassword"))
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName=user, Password="short1")
    assert err(exc) == ("PasswordPolicyViolation", "Password should have a minimum length of 12", 400)
    iam.create_login_profile(UserName=user, Password="long-enough-1")
    as_key(server, key).change_password(OldPassword="long-enough-1", NewPassword="even-longer-2")
    with pytest.raises(ClientError) as exc:
        as_key(server, key).change_password(OldPassword="even-longer-2", NewPassword="no-digits-here")
    assert err(exc)[0] == "PasswordPolicyViolation"
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as exc:
        iam.get_account_password_policy()
    assert err(exc)[0] == "NoSuchEntity"


def test_allow_users_to_change_password_grants_each_user_its_own_password_only(server):
    """AllowUsersToChangePassword gives every user iam:ChangePassword on itself and
    iam:GetAccountPasswordPolicy at the account level, with no policy attached; turned off, they go."""
    iam = server.client("iam")
    user, key = new_user(server, iam, allow("iam:GetUser"))  # no password permission of its own
    iam.create_login_profile(UserName=user, Password="first-password-1")
    me = as_key(server, key)
    iam.update_account_password_policy(MinimumPasswordLength=8)
    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword="first-password-1", NewPassword="second-password-2")
    assert err(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        me.get_account_password_policy()
    assert err(exc)[0] == "AccessDenied"

    iam.update_account_password_policy(MinimumPasswordLength=8, AllowUsersToChangePassword=True)
    me.change_password(OldPassword="first-password-1", NewPassword="second-password-2")
    assert me.get_account_password_policy()["PasswordPolicy"]["AllowUsersToChangePassword"] is True
    with pytest.raises(ClientError) as exc:  # the grant is the caller's own password, nothing else
        me.update_login_profile(UserName=user, Password="third-password-3")
    assert err(exc)[0] == "AccessDenied"
    details = iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]
    assert not [u for u in details if u["UserName"] == user][0].get("AttachedManagedPolicies")

    iam.update_account_password_policy(MinimumPasswordLength=8)  # the setting left out: off again
    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword="second-password-2", NewPassword="third-password-3")
    assert err(exc)[0] == "AccessDenied"
    iam.delete_account_password_policy()


def test_credential_report_and_key_last_use(server):
    iam = server.client("iam")
    user = name("reported")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=allow("iam:GetUser"))
    as_key(server, key).get_user()
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (last["ServiceName"], last["Region"]) == ("iam", "us-east-1") and last["LastUsedDate"]
    iam.generate_credential_report()
    content = iam.get_credential_report()["Content"].decode()
    row = next(r for r in csv.DictReader(io.StringIO(content)) if r["user"] == user)
    assert row["access_key_1_active"] == "true"
    assert (
        row["access_key_1_last_used_service"] == "iam" and row["access_key_1_last_used_region"] == "us-east-1"
    )
