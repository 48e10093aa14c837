"""Virtual MFA devices: created with a fresh TOTP seed (shown once, as base32 and as a QR code), enabled for
a user with two consecutive codes, resynced, deactivated, deleted, tagged, listed.

The seed is kept sealed (rolecall.credentials.mfa_devices); codes are RFC 6238's (rolecall.credentials.totp).
STS checks codes against the same records for GetSessionToken and AssumeRole.
"""

from __future__ import annotations

import io
import urllib.parse
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.credentials import totp
from rolecall.credentials.mfa_devices import KIND, device_key, find_device, seed_of
from rolecall.services.iam.common import (
    caller_user_arn,
    entity_arn,
    entity_context,
    get_user,
    insert_entity,
    iso_now,
    paginate,
    request_tag_context,
    retag_document,
    touched,
    validate_tags,
)
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
)
from rolecall.services.iam.users import target_user_name

MFA_DEVICES_PER_USER = 8  # IAM quota: up to eight MFA devices of any kind per user
INVALID_CODE = "Authentication code for device is not valid."


def device_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    """Resource of the operations on one device: its serial (CreateVirtualMFADevice: the one it will have)."""
    if params.get("SerialNumber"):
        return params["SerialNumber"]
    return entity_arn(
        ctx.account, "mfa_device", params.get("Path") or "/", params.get("VirtualMFADeviceName") or ""
    )


def device_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    context = request_tag_context(params)
    tx = getattr(ctx, "tx", None)
    found = find_device(tx, params["SerialNumber"]) if tx is not None and params.get("SerialNumber") else None
    if found is not None:
        context.update({f"aws:ResourceTag/{t['Key']}": t["Value"] for t in found[1].get("Tags") or []})
    return context


def _missing(serial: str) -> NoSuchEntity:
    return NoSuchEntity(f"VirtualMFADevice with serial number {serial} doesn't exist.")


def own_device(ctx: OpContext, serial: str) -> dict[str, Any]:
    """The account's device `serial`, or NoSuchEntity."""
    found = find_device(ctx.tx, serial)
    if found is None or found[0] != ctx.account:
        raise _missing(serial)
    return found[1]


def _qr_png(uri: str) -> bytes:
    import segno  # only CreateVirtualMFADevice draws

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="png", scale=4, border=4)
    return out.getvalue()


def _virtual_shape(ctx: OpContext, device: dict[str, Any], *, tags: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"SerialNumber": device["SerialNumber"]}
    if device.get("UserName"):
        user = ctx.tx.get(ctx.account, "user", device["UserName"])
        if user is not None:
            out["User"] = {k: user[k] for k in ("Path", "UserName", "UserId", "Arn", "CreateDate")}
        out["EnableDate"] = device["EnableDate"]
    if tags and device.get("Tags"):
        out["Tags"] = [dict(t) for t in device["Tags"]]
    return out


def _check_codes(ctx: OpContext, device: dict[str, Any], params: dict[str, Any]) -> int:
    """The drift (in steps) at which AuthenticationCode1 and 2 are two consecutive codes of the device."""
    now = ctx.clock.time()
    step = totp.match_consecutive(
        seed_of(ctx.config.secret_box, device),
        params["AuthenticationCode1"],
        params["AuthenticationCode2"],
        now,
    )
    if step is None:
        raise InvalidAuthenticationCode(INVALID_CODE)
    # Code 2 is the device's current one: the device's clock stands at step + 1.
    return step + 1 - totp.step_of(now)


class MFAOperations(Family):
    @operation("iam:CreateVirtualMFADevice", device_arn, lambda ctx, p: request_tag_context(p))
    def CreateVirtualMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["VirtualMFADeviceName"], params.get("Path") or "/"
        tags = validate_tags(params.get("Tags"))
        seed = totp.new_seed()
        serial = entity_arn(ctx.account, "mfa_device", path, name)
        device = {
            "SerialNumber": serial,
            "Path": path,
            "VirtualMFADeviceName": name,
            "CreateDate": iso_now(ctx),
            "SeedSealed": ctx.config.secret_box.seal(seed.encode("ascii")),
            "UserName": None,
            "Drift": 0,
            "Tags": tags,
        }
        insert_entity(
            ctx.tx,
            ctx.account,
            KIND,
            path + name,
            device,
            None,
            "MFADevice entity at the same path and name already exists.",
        )
        touched(ctx, "mfa_device", serial)
        label = urllib.parse.quote(f"rolecall:{name}@{ctx.account}")
        uri = f"otpauth://totp/{label}?secret={seed}&issuer=rolecall"
        out = {"SerialNumber": serial, "Base32StringSeed": seed.encode("ascii"), "QRCodePNG": _qr_png(uri)}
        if tags:
            out["Tags"] = tags
        return {"VirtualMFADevice": out}

    @operation("iam:DeleteVirtualMFADevice", device_arn, device_context)
    def DeleteVirtualMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = own_device(ctx, params["SerialNumber"])
        if device.get("UserName"):
            raise DeleteConflict("MFA Device is still in use")
        ctx.tx.delete(ctx.account, KIND, device_key(device))
        touched(ctx, "mfa_device", device["SerialNumber"])
        return {}

    @operation("iam:ListVirtualMFADevices")
    def ListVirtualMFADevices(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("AssignmentStatus") or "Any"
        devices = [
            d
            for d in ctx.tx.list(ctx.account, KIND)
            if status == "Any" or (status == "Assigned") == bool(d.get("UserName"))
        ]
        devices.sort(key=lambda d: d["SerialNumber"])
        page = paginate(devices, params, "VirtualMFADevices", cursor=lambda d: d["SerialNumber"])
        page["VirtualMFADevices"] = [_virtual_shape(ctx, d, tags=True) for d in page["VirtualMFADevices"]]
        return page

    @operation("iam:EnableMFADevice", caller_user_arn, entity_context("user"))
    def EnableMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = get_user(ctx.tx, ctx.account, params["UserName"])
        device = own_device(ctx, params["SerialNumber"])
        if device.get("UserName"):
            raise EntityAlreadyExists("MFA Device is already in use.")
        if len(self._devices_of(ctx, user["UserName"])) >= MFA_DEVICES_PER_USER:
            raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {MFA_DEVICES_PER_USER}")
        device["Drift"] = _check_codes(ctx, device, params)
        device["UserName"] = user["UserName"]
        device["EnableDate"] = iso_now(ctx)
        ctx.tx.update(ctx.account, KIND, device_key(device), device)
        touched(ctx, "user", user["Arn"])
        return {}

    @operation("iam:DeactivateMFADevice", caller_user_arn, entity_context("user"))
    def DeactivateMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = self._enabled(ctx, params, required_user=False)
        user = get_user(ctx.tx, ctx.account, device["UserName"])
        device.update(UserName=None, EnableDate=None)
        ctx.tx.update(ctx.account, KIND, device_key(device), device)
        touched(ctx, "user", user["Arn"])
        return {}

    @operation("iam:ResyncMFADevice", caller_user_arn, entity_context("user"))
    def ResyncMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = self._enabled(ctx, params)
        device["Drift"] = _check_codes(ctx, device, params)
        ctx.tx.update(ctx.account, KIND, device_key(device), device)
        return {}

    @operation("iam:ListMFADevices", caller_user_arn, entity_context("user"))
    def ListMFADevices(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("UserName") and ctx.caller.is_root:
            return {"MFADevices": [], "IsTruncated": False}  # root's devices are the console's business
        user = get_user(ctx.tx, ctx.account, target_user_name(ctx, params))
        devices = sorted(self._devices_of(ctx, user["UserName"]), key=lambda d: d["SerialNumber"])
        page = paginate(devices, params, "MFADevices", cursor=lambda d: d["SerialNumber"])
        page["MFADevices"] = [
            {"UserName": d["UserName"], "SerialNumber": d["SerialNumber"], "EnableDate": d["EnableDate"]}
            for d in page["MFADevices"]
        ]
        return page

    @operation("iam:GetMFADevice", caller_user_arn, entity_context("user"))
    def GetMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = self._enabled(ctx, params, required_user=False)
        return {
            "UserName": device["UserName"],
            "SerialNumber": device["SerialNumber"],
            "EnableDate": device["EnableDate"],
        }

    # ------------------------------------------------------------ tags

    @operation("iam:TagMFADevice", device_arn, device_context)
    def TagMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = own_device(ctx, params["SerialNumber"])
        return retag_document(
            ctx, KIND, device_key(device), device, params, "TagsPerMFADevice", device["SerialNumber"]
        )

    @operation("iam:UntagMFADevice", device_arn, device_context)
    def UntagMFADevice(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = own_device(ctx, params["SerialNumber"])
        return retag_document(
            ctx, KIND, device_key(device), device, params, "TagsPerMFADevice", device["SerialNumber"]
        )

    @operation("iam:ListMFADeviceTags", device_arn, device_context)
    def ListMFADeviceTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        device = own_device(ctx, params["SerialNumber"])
        return paginate(device.get("Tags") or [], params, "Tags")

    # ------------------------------------------------------------ helpers

    def _devices_of(self, ctx: OpContext, user_name: str) -> list[dict[str, Any]]:
        return [d for d in ctx.tx.list(ctx.account, KIND) if d.get("UserName") == user_name]

    def _enabled(
        self, ctx: OpContext, params: dict[str, Any], *, required_user: bool = True
    ) -> dict[str, Any]:
        """The device `SerialNumber` enabled for UserName (the calling user when not given)."""
        serial = params["SerialNumber"]
        found = find_device(ctx.tx, serial)
        device = found[1] if found is not None and found[0] == ctx.account else None
        if params.get("UserName") or required_user or ctx.caller.type == "IAMUser":
            name = target_user_name(ctx, params)
            get_user(ctx.tx, ctx.account, name)
            if device is not None and device.get("UserName") != name:
                device = None
        if device is None or not device.get("UserName"):
            raise NoSuchEntity(f"MFA Device with serial number {serial} does not exist.")
        return device
