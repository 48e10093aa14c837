"""Virtual MFA devices as the store keeps them, and the one check everything that takes a code makes.

A device is the document kind "mfa_device" of its account, named by its path and name ("/team/phone":
IAM refuses a second device only "at the same path and name"). Its seed is sealed under the master key like access-key
secrets; `Drift` is the number of 30-second steps the device's clock runs ahead (a resync sets it);
`UserName` is set while the device is enabled for a user.

IAM (Enable/Resync) and STS (GetSessionToken, AssumeRole with SerialNumber/TokenCode) both call here, and so
does `rolecall mfa code`, which prints the code a local device shows now.
"""

from __future__ import annotations

from typing import Any

from rolecall.credentials import totp
from rolecall.credentials.secretbox import SecretBox
from rolecall.store import Tx

KIND = "mfa_device"


def device_key(device: dict[str, Any]) -> str:
    """The store name of a device: its path and name."""
    return device["Path"] + device["VirtualMFADeviceName"]


def split_serial(serial: str) -> tuple[str, str] | None:
    """(account, store name) of a virtual device's serial, arn:aws:iam::ACCOUNT:mfa/PATH/NAME; None when
    the serial is not such an ARN (hardware devices' serials are, in rolecall, devices that do not exist)."""
    parts = serial.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("mfa/"):
        return None
    return parts[4], parts[5][len("mfa") :]


def find_device(tx: Tx, serial: str) -> tuple[str, dict[str, Any]] | None:
    """(account, device) of `serial`, or None. The serial must be the device's exactly (path included)."""
    split = split_serial(serial)
    if split is None:
        return None
    account, name = split
    doc = tx.get(account, KIND, name)
    if doc is None or doc["SerialNumber"] != serial:
        return None
    return account, doc


def seed_of(box: SecretBox, device: dict[str, Any]) -> str:
    return box.open(device["SeedSealed"]).decode("ascii")


def current_code(box: SecretBox, device: dict[str, Any], now: float) -> str:
    """The code the device shows at `now` (its drift included, as a real device's clock would be)."""
    return totp.code_at(seed_of(box, device), totp.step_of(now) + int(device.get("Drift") or 0))


def code_is_valid(
    tx: Tx, box: SecretBox, account: str, user_name: str | None, serial: str, code: str, now: float
) -> bool:
    """Whether `code` is a current code of the device `serial`, enabled for `user_name` of `account`.
    A device of another user or account, one not enabled, or one that does not exist: False."""
    found = find_device(tx, serial)
    if found is None or found[0] != account or user_name is None:
        return False
    device = found[1]
    if device.get("UserName") != user_name:
        return False
    drift = int(device.get("Drift") or 0)
    return totp.match(seed_of(box, device), code, now, drift) is not None
