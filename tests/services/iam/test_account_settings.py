"""Account alias, password policy (and its enforcement where passwords are set), ChangePassword, and the MFA
counts of GetAccountSummary, in process."""

from __future__ import annotations

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import (
    EntityAlreadyExists,
    InvalidUserType,
    NoSuchEntity,
    PasswordPolicyViolation,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, raises


def test_account_alias(env, call, checked):
    assert checked("ListAccountAliases") == {"AccountAliases": [], "IsTruncated": False}
    call("CreateAccountAlias", AccountAlias="my-corp")
    call("CreateAccountAlias", AccountAlias="my-corp")  # the same again changes nothing
    call("CreateAccountAlias", AccountAlias="my-corp-2")  # one alias per account: it replaces the first
    assert call("ListAccountAliases")["AccountAliases"] == ["my-corp-2"]
    # Aliases are unique among accounts.
    with env.store.transaction() as tx:
        tx.insert("210987654321", "account_alias", "taken", {"AccountAlias": "taken"})
    err = raises(EntityAlreadyExists, call, "CreateAccountAlias", AccountAlias="taken")
    assert err.message == "The account alias taken already exists."
    err = raises(NoSuchEntity, call, "DeleteAccountAlias", AccountAlias="my-corp")
    assert err.message == "The account alias my-corp cannot be found."
    call("DeleteAccountAlias", AccountAlias="my-corp-2")
    assert call("ListAccountAliases")["AccountAliases"] == []


def test_password_policy_is_enforced(env, call, checked):
    err = raises(NoSuchEntity, call, "GetAccountPasswordPolicy")
    assert err.message == f"The Password Policy with domain name {ACCOUNT} cannot be found."
    call("CreateUser", UserName="pat")
    call("CreateLoginProfile", UserName="pat", Password="short")  # no policy: any password
    call(
        "UpdateAccountPasswordPolicy",
        MinimumPasswordLength=10,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireSymbols=True,
        PasswordReusePrevention=2,
        MaxPasswordAge=90,
    )
    policy = checked("GetAccountPasswordPolicy")["PasswordPolicy"]
    assert policy == {
        "MinimumPasswordLength": 10,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False,
        "ExpirePasswords": True,
        "MaxPasswordAge": 90,
        "HardExpiry": False,
        "PasswordReusePrevention": 2,
    }
    for password, message in (
        ("Sh0rt!", "Password should have a minimum length of 10"),
        ("longenough1!", "Password should have at least one uppercase letter"),
        ("Longenough!", "Password should have at least one number"),
        ("Longenough1", "Password should have at least one symbol"),
    ):
        err = raises(PasswordPolicyViolation, call, "UpdateLoginProfile", UserName="pat", Password=password)
        assert (err.status, err.message) == (400, message)
    call("UpdateLoginProfile", UserName="pat", Password="Longenough1!")
    call("UpdateLoginProfile", UserName="pat", Password="Longenough2!")
    err = raises(PasswordPolicyViolation, call, "UpdateLoginProfile", UserName="pat", Password="Longenough1!")
    assert err.message == "Password should not be one of the previous passwords"
    call("CreateUser", UserName="quinn")
    raises(PasswordPolicyViolation, call, "CreateLoginProfile", UserName="quinn", Password="weak")
    raises(NoSuchEntity, call, "GetLoginProfile", UserName="quinn")  # bad input changes nothing
    # Update resets what it leaves out to the defaults.
    call("UpdateAccountPasswordPolicy", MinimumPasswordLength=8)
    assert call("GetAccountPasswordPolicy")["PasswordPolicy"]["RequireSymbols"] is False
    call("DeleteAccountPasswordPolicy")
    err = raises(NoSuchEntity, call, "DeleteAccountPasswordPolicy")
    assert err.message == "The account policy with name PasswordPolicy cannot be found."
    call("CreateLoginProfile", UserName="quinn", Password="weak")


def test_change_password(env, call):
    own = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
    me = env.user("rae", allow("iam:ChangePassword", own))
    call("CreateLoginProfile", UserName="rae", Password="first-Password1", PasswordResetRequired=True)
    err = raises(
        AccessDenied, call, "ChangePassword", caller=me, OldPassword="wrong", NewPassword="x-Password2"
    )
    assert err.message == "The old password is incorrect."
    call("UpdateAccountPasswordPolicy", MinimumPasswordLength=12)
    raises(
        PasswordPolicyViolation,
        call,
        "ChangePassword",
        caller=me,
        OldPassword="first-Password1",
        NewPassword="short",
    )
    call("ChangePassword", caller=me, OldPassword="first-Password1", NewPassword="second-Password2")
    assert call("GetLoginProfile", UserName="rae")["LoginProfile"]["PasswordResetRequired"] is False
    raises(InvalidUserType, call, "ChangePassword", OldPassword="a", NewPassword="b")  # the root cannot
    other = env.user("sam")
    assert isinstance(
        env.denied(other, "iam", "ChangePassword", OldPassword="a", NewPassword="b"), AccessDenied
    )
    for op, params in (
        ("CreateAccountAlias", {"AccountAlias": "nope"}),
        ("UpdateAccountPasswordPolicy", {}),
        ("GetAccountPasswordPolicy", {}),
        ("DeleteAccountPasswordPolicy", {}),
        ("ListAccountAliases", {}),
        ("DeleteAccountAlias", {"AccountAlias": "nope"}),
    ):
        assert isinstance(env.denied(other, "iam", op, **params), AccessDenied)


def test_summary_counts_mfa_devices(call, user):
    call("CreateVirtualMFADevice", VirtualMFADeviceName="a")
    call("CreateVirtualMFADevice", VirtualMFADeviceName="b")
    summary = call("GetAccountSummary")["SummaryMap"]
    assert (summary["MFADevices"], summary["MFADevicesInUse"]) == (2, 0)
