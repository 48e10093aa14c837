"""Long-term access keys of IAM users and of the account root.

The secret is returned once, by CreateAccessKey, and kept only sealed under the store's master key;
authentication opens it to check a signature.
"""

from __future__ import annotations

from typing import Any

from rolecall import ids
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.iam.common import caller_user_arn, entity_context, get_user, iso_now, paginate, touched
from rolecall.services.iam.errors import LimitExceeded, NoSuchEntity
from rolecall.services.iam.users import target_user_name

ACCESS_KEYS_PER_USER = 2


def key_owner(ctx: OpContext, params: dict[str, Any]) -> str | None:
    """The user whose keys an operation addresses: UserName, else the calling user; None = the root."""
    if not params.get("UserName") and ctx.caller.is_root:
        return None
    name = target_user_name(ctx, params)
    return get_user(ctx.tx, ctx.account, name)["UserName"]


def owned_keys(ctx: OpContext, owner: str | None) -> list[dict[str, Any]]:
    keys = [k for k in ctx.tx.list(ctx.account, "access_key") if k.get("UserName") == owner]
    return sorted(keys, key=lambda k: (k["CreateDate"], k["AccessKeyId"]))


def find_key(ctx: OpContext, key_id: str, owner: str | None) -> dict[str, Any]:
    key = ctx.tx.get(ctx.account, "access_key", key_id)
    if key is None or key.get("UserName") != owner:
        raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
    return key


def _metadata(key: dict[str, Any]) -> dict[str, Any]:
    out = {"AccessKeyId": key["AccessKeyId"], "Status": key["Status"], "CreateDate": key["CreateDate"]}
    if key.get("UserName"):
        out = {"UserName": key["UserName"], **out}
    return out


def _touched_key(ctx: OpContext, key: dict[str, Any]) -> None:
    """The trail names the key's user (AWS gives access keys no ARN); root keys name nothing."""
    user = ctx.tx.get(ctx.account, "user", key["UserName"]) if key.get("UserName") else None
    if user is not None:
        touched(ctx, "user", user["Arn"])


def key_owner_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    """GetAccessKeyLastUsed is authorized on the user owning the key (the root for root keys)."""
    tx = getattr(ctx, "tx", None)
    key = tx.get(ctx.account, "access_key", params.get("AccessKeyId") or "") if tx is not None else None
    if tx is not None and key is not None and key.get("UserName"):
        user = tx.get(ctx.account, "user", key["UserName"])
        if user is not None:
            return user["Arn"]
    return f"arn:aws:iam::{ctx.account}:root" if key is not None else "*"


class AccessKeyOperations(Family):
    @operation("iam:CreateAccessKey", caller_user_arn, entity_context("user"))
    def CreateAccessKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        owner = key_owner(ctx, params)
        if len(owned_keys(ctx, owner)) >= ACCESS_KEYS_PER_USER:
            raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
        secret = ids.secret_access_key()
        key_id = ids.access_key_id(ids.LONG_TERM_KEY, account=ctx.account)
        key = {
            "AccessKeyId": key_id,
            "UserName": owner,
            "Status": "Active",
            "CreateDate": iso_now(ctx),
            "SecretSealed": ctx.config.secret_box.seal(secret),
        }
        ctx.tx.insert(ctx.account, "access_key", key_id, key)
        _touched_key(ctx, key)
        return {"AccessKey": {**_metadata(key), "SecretAccessKey": secret}}

    @operation("iam:ListAccessKeys", caller_user_arn, entity_context("user"))
    def ListAccessKeys(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        page = paginate(owned_keys(ctx, key_owner(ctx, params)), params, "AccessKeyMetadata")
        page["AccessKeyMetadata"] = [_metadata(k) for k in page["AccessKeyMetadata"]]
        return page

    @operation("iam:UpdateAccessKey", caller_user_arn, entity_context("user"))
    def UpdateAccessKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        key = find_key(ctx, params["AccessKeyId"], key_owner(ctx, params))
        key["Status"] = params["Status"]
        ctx.tx.update(ctx.account, "access_key", key["AccessKeyId"], key)
        _touched_key(ctx, key)
        return {}

    @operation("iam:DeleteAccessKey", caller_user_arn, entity_context("user"))
    def DeleteAccessKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        key = find_key(ctx, params["AccessKeyId"], key_owner(ctx, params))
        ctx.tx.delete(ctx.account, "access_key", key["AccessKeyId"])
        _touched_key(ctx, key)
        return {}

    @operation("iam:GetAccessKeyLastUsed", key_owner_arn)
    def GetAccessKeyLastUsed(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        key = ctx.tx.get(ctx.account, "access_key", params["AccessKeyId"])
        if key is None:
            raise NoSuchEntity(f"The Access Key with id {params['AccessKeyId']} cannot be found.")
        used = key.get("LastUsed") or {}
        last_used: dict[str, Any] = {
            "ServiceName": used.get("ServiceName") or "N/A",
            "Region": used.get("Region") or "N/A",
        }
        if used.get("LastUsedDate"):
            last_used["LastUsedDate"] = used["LastUsedDate"]
        out: dict[str, Any] = {"AccessKeyLastUsed": last_used}
        if key.get("UserName"):
            out["UserName"] = key["UserName"]
        return out
