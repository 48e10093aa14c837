"""Virtual MFA devices in process: creation (seed and QR code), enabling with two consecutive codes, resync,
deactivation, deletion, tags, listings, and the refusals."""

from __future__ import annotations

from rolecall.credentials import totp
from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    NoSuchEntity,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, no_allow, raises

SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/team/phone"


def new_device(call, name: str = "phone", path: str = "/team/") -> tuple[str, str]:
    device = call("CreateVirtualMFADevice", VirtualMFADeviceName=name, Path=path)["VirtualMFADevice"]
    return device["SerialNumber"], device["Base32StringSeed"].decode()


def codes(seed: str, now: float, ahead: int = 0) -> dict[str, str]:
    step = totp.step_of(now) + ahead
    return {
        "AuthenticationCode1": totp.code_at(seed, step - 1),
        "AuthenticationCode2": totp.code_at(seed, step),
    }


def test_virtual_device_lifecycle(env, checked, call, user):
    created = checked(
        "CreateVirtualMFADevice",
        VirtualMFADeviceName="phone",
        Path="/team/",
        Tags=[{"Key": "k", "Value": "v"}],
    )
    device = created["VirtualMFADevice"]
    assert device["SerialNumber"] == SERIAL and device["Tags"] == [{"Key": "k", "Value": "v"}]
    seed = device["Base32StringSeed"].decode()
    assert len(seed) == 32 and device["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    # The seed is kept sealed: the store never holds it in the clear.
    with env.store.transaction() as tx:
        assert seed not in str(tx.get(ACCOUNT, "mfa_device", "/team/phone"))
    err = raises(
        EntityAlreadyExists, call, "CreateVirtualMFADevice", VirtualMFADeviceName="PHONE", Path="/team/"
    )
    assert err.message == "MFADevice entity at the same path and name already exists."
    # The same name on another path is another device.
    other = call("CreateVirtualMFADevice", VirtualMFADeviceName="phone")["VirtualMFADevice"]["SerialNumber"]
    assert other == f"arn:aws:iam::{ACCOUNT}:mfa/phone"
    call("DeleteVirtualMFADevice", SerialNumber=other)
    listed = checked("ListVirtualMFADevices", AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert listed == [{"SerialNumber": SERIAL, "Tags": [{"Key": "k", "Value": "v"}]}]
    assert checked("ListVirtualMFADevices", AssignmentStatus="Assigned")["VirtualMFADevices"] == []

    now = env.clock.time()
    wrong = {"AuthenticationCode1": "000000", "AuthenticationCode2": "000000"}
    err = raises(
        InvalidAuthenticationCode, call, "EnableMFADevice", UserName=user, SerialNumber=SERIAL, **wrong
    )
    assert (err.status, err.message) == (403, "Authentication code for device is not valid.")
    # Two codes that are not consecutive do not enable it either.
    apart = {"AuthenticationCode1": totp.code(seed, now - 60), "AuthenticationCode2": totp.code(seed, now)}
    raises(InvalidAuthenticationCode, call, "EnableMFADevice", UserName=user, SerialNumber=SERIAL, **apart)
    assert checked("ListMFADevices", UserName=user)["MFADevices"] == []
    call("EnableMFADevice", UserName=user, SerialNumber=SERIAL, **codes(seed, now))
    err = raises(
        EntityAlreadyExists, call, "EnableMFADevice", UserName=user, SerialNumber=SERIAL, **codes(seed, now)
    )
    assert err.message == "MFA Device is already in use."

    assigned = checked("ListVirtualMFADevices", AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [(d["SerialNumber"], d["User"]["UserName"], d["EnableDate"]) for d in assigned] == [
        (SERIAL, user, "2027-01-15T08:00:00Z")
    ]
    assert checked("ListMFADevices", UserName=user)["MFADevices"] == [
        {"UserName": user, "SerialNumber": SERIAL, "EnableDate": "2027-01-15T08:00:00Z"}
    ]
    assert checked("GetMFADevice", SerialNumber=SERIAL)["UserName"] == user
    err = raises(DeleteConflict, call, "DeleteVirtualMFADevice", SerialNumber=SERIAL)
    assert err.message == "MFA Device is still in use"
    err = raises(DeleteConflict, call, "DeleteUser", UserName=user)
    assert err.message == "Cannot delete entity, must remove MFA device first."

    call("CreateUser", UserName="other")
    err = raises(NoSuchEntity, call, "DeactivateMFADevice", UserName="other", SerialNumber=SERIAL)
    assert err.message == f"MFA Device with serial number {SERIAL} does not exist."
    call("DeactivateMFADevice", UserName=user, SerialNumber=SERIAL)
    assert call("ListMFADevices", UserName=user)["MFADevices"] == []
    call("DeleteVirtualMFADevice", SerialNumber=SERIAL)
    err = raises(NoSuchEntity, call, "DeleteVirtualMFADevice", SerialNumber=SERIAL)
    assert err.message == f"VirtualMFADevice with serial number {SERIAL} doesn't exist."
    call("DeleteUser", UserName=user)


def test_resync_follows_a_device_whose_clock_runs_ahead(env, call, user):
    serial, seed = new_device(call)
    now = env.clock.time()
    call("EnableMFADevice", UserName=user, SerialNumber=serial, **codes(seed, now))
    # The device's clock is now ten minutes fast: a resync with two of its codes takes that in.
    raises(
        InvalidAuthenticationCode,
        call,
        "ResyncMFADevice",
        UserName=user,
        SerialNumber=serial,
        **codes(seed, now, ahead=200),
    )
    call("ResyncMFADevice", UserName=user, SerialNumber=serial, **codes(seed, now, ahead=20))
    with env.store.transaction() as tx:
        assert tx.get(ACCOUNT, "mfa_device", "/team/phone")["Drift"] == 20
    other, _ = new_device(call, "spare", "/")
    err = raises(NoSuchEntity, call, "ResyncMFADevice", UserName=user, SerialNumber=other, **codes(seed, now))
    assert err.message == f"MFA Device with serial number {other} does not exist."


def test_device_tags(call, checked):
    serial, _ = new_device(call)
    call("TagMFADevice", SerialNumber=serial, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    call("UntagMFADevice", SerialNumber=serial, TagKeys=["A"])
    assert checked("ListMFADeviceTags", SerialNumber=serial)["Tags"] == [{"Key": "b", "Value": "2"}]
    raises(NoSuchEntity, call, "ListMFADeviceTags", SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/none")


def test_a_user_manages_its_own_device_only_where_allowed(env, call):
    own = f"arn:aws:iam::{ACCOUNT}:mfa/${{aws:username}}"
    me = env.user(
        "carol",
        allow("iam:CreateVirtualMFADevice", own),
        allow("iam:ListMFADevices", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    )
    serial = call("CreateVirtualMFADevice", caller=me, VirtualMFADeviceName="carol")["VirtualMFADevice"][
        "SerialNumber"
    ]
    assert serial == f"arn:aws:iam::{ACCOUNT}:mfa/carol"
    assert call("ListMFADevices", caller=me) == {"MFADevices": [], "IsTruncated": False}
    refused = env.denied(me, "iam", "CreateVirtualMFADevice", VirtualMFADeviceName="someone-else")
    assert isinstance(refused, AccessDenied)
    assert refused.message == no_allow(
        "carol", "iam:CreateVirtualMFADevice", f"arn:aws:iam::{ACCOUNT}:mfa/someone-else"
    )
    for op, params in (
        ("DeleteVirtualMFADevice", {"SerialNumber": serial}),
        (
            "EnableMFADevice",
            {
                "UserName": "carol",
                "SerialNumber": serial,
                "AuthenticationCode1": "123456",
                "AuthenticationCode2": "123457",
            },
        ),
        ("ListVirtualMFADevices", {}),
    ):
        assert isinstance(env.denied(me, "iam", op, **params), AccessDenied)
