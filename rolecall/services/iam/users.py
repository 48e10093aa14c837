"""IAM users: the user itself, its tags, its permissions boundary and its console password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from rolecall import ids
from rolecall.authz.principals import managed_policy_exists
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.credentials.mfa_devices import KIND as MFA_KIND
from rolecall.errors import ValidationError
from rolecall.services.iam.common import (
    ALREADY_EXISTS,
    arn_of,
    caller_user_arn,
    entity_arn,
    entity_context,
    get_user,
    insert_entity,
    iso_now,
    paginate,
    paginate_stored,
    path_matches,
    path_prefix_arn,
    retag,
    signin_session_duration,
    touched,
    user_shape,
    validate_tags,
)
from rolecall.services.iam.errors import DeleteConflict, EntityAlreadyExists, NoSuchEntity
from rolecall.services.iam.password_policy import check_password
from rolecall.services.iam.trust_principals import forget_principal
from rolecall.store import GLOBAL

# scrypt parameters for console passwords (RFC 7914's interactive-login recommendation).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def check_boundary(ctx: OpContext, arn: str) -> dict[str, str]:
    """A permissions boundary must be an existing managed policy (the account's own or AWS's)."""

    if not managed_policy_exists(ctx.tx, ctx.account, arn):
        raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")
    return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn}


def target_user_name(ctx: OpContext, params: dict[str, Any]) -> str:
    """UserName, defaulting to the calling IAM user; other callers must name a user."""
    if params.get("UserName"):
        return params["UserName"]
    if ctx.caller.type == "IAMUser" and ctx.caller.user_name:
        return ctx.caller.user_name
    raise ValidationError("Must specify userName when calling with non-User credentials")


def user_access_keys(ctx: OpContext, user_name: str) -> list[dict[str, Any]]:
    return [k for k in ctx.tx.list(ctx.account, "access_key") if k.get("UserName") == user_name]


def set_password(ctx: OpContext, profile: dict[str, Any], password: str) -> None:
    """A new password for a login profile, once the account's password policy accepts it; the old one's
    hash joins the history PasswordReusePrevention looks at (at most 24 are kept, the policy's maximum)."""
    history = [*profile.get("PasswordHistory", []), profile["PasswordHash"]][-24:]
    check_password(ctx.tx, ctx.account, password, history, verify_password)
    profile.update(
        PasswordHash=hash_password(password), PasswordHistory=history, PasswordLastChanged=iso_now(ctx)
    )


def _login_profile_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Login Profile for User {name} cannot be found.")


def update_user_resources(ctx: OpContext, params: dict[str, Any]) -> list[str]:
    """Renaming or moving a user needs permission on both the source and the target (IAM User Guide)."""
    source = arn_of("user")(ctx, params)
    if not params.get("NewUserName") and not params.get("NewPath"):
        return [source]
    doc = ctx.tx.get(ctx.account, "user", params["UserName"]) if getattr(ctx, "tx", None) else None
    path = params.get("NewPath") or (doc or {}).get("Path") or "/"
    target = entity_arn(ctx.account, "user", path, params.get("NewUserName") or params["UserName"])
    return [source] if target == source else [source, target]


class UserOperations(Family):
    @operation("iam:CreateUser", arn_of("user"), entity_context("user"))
    def CreateUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["UserName"], params.get("Path") or "/"
        tags = validate_tags(params.get("Tags"))
        doc: dict[str, Any] = {
            "UserName": name,
            "UserId": ids.unique_id(ids.USER),
            "Arn": entity_arn(ctx.account, "user", path, name),
            "Path": path,
            "CreateDate": iso_now(ctx),
            "Tags": tags,
            "InlinePolicies": {},
            "AttachedPolicies": [],
            "Groups": [],
        }
        if params.get("PermissionsBoundary"):
            doc["PermissionsBoundary"] = check_boundary(ctx, params["PermissionsBoundary"])
        insert_entity(
            ctx.tx, ctx.account, "user", name, doc, doc["UserId"], ALREADY_EXISTS["user"].format(name)
        )
        touched(ctx, "user", doc["Arn"])
        return {"User": user_shape(doc)}

    @operation("iam:GetUser", caller_user_arn, entity_context("user"))
    def GetUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("UserName") and ctx.caller.is_root:
            # The account root answers as a "user" with no name or path.
            account = ctx.tx.get(GLOBAL, "account", ctx.account) or {}
            root = {"UserId": ctx.account, "Arn": f"arn:aws:iam::{ctx.account}:root"}
            if account.get("CreateDate"):
                root["CreateDate"] = account["CreateDate"]
            return {"User": root}
        return {"User": user_shape(get_user(ctx.tx, ctx.account, target_user_name(ctx, params)))}

    @operation("iam:ListUsers", path_prefix_arn("user"))
    def ListUsers(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PathPrefix")
        page = paginate_stored(
            ctx.tx, ctx.account, "user", params, "Users", lambda u: path_matches(u["Path"], prefix)
        )
        page["Users"] = [user_shape(u, full=False) for u in page["Users"]]
        return page

    @operation("iam:UpdateUser", update_user_resources, entity_context("user"))
    def UpdateUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, params["UserName"])
        old_name = doc["UserName"]
        new_name = params.get("NewUserName") or old_name
        new_path = params.get("NewPath") or doc["Path"]
        if new_name != old_name:
            other = ctx.tx.get(ctx.account, "user", new_name)
            if other is not None and other["UserId"] != doc["UserId"]:
                raise EntityAlreadyExists(ALREADY_EXISTS["user"].format(new_name))
        doc.update(UserName=new_name, Path=new_path, Arn=entity_arn(ctx.account, "user", new_path, new_name))
        if new_name == old_name:
            ctx.tx.update(ctx.account, "user", old_name, doc)
        else:
            ctx.tx.delete(ctx.account, "user", old_name)
            insert_entity(
                ctx.tx,
                ctx.account,
                "user",
                new_name,
                doc,
                doc["UserId"],
                ALREADY_EXISTS["user"].format(new_name),
            )
            for key in user_access_keys(ctx, old_name):
                key["UserName"] = new_name
                ctx.tx.update(ctx.account, "access_key", key["AccessKeyId"], key)
        touched(ctx, "user", doc["Arn"])
        return {}

    @operation("iam:DeleteUser", arn_of("user"), entity_context("user"))
    def DeleteUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, params["UserName"])
        # The order AWS's DeleteUser documentation lists the things to remove first.
        if doc.get("LoginProfile"):
            raise DeleteConflict("Cannot delete entity, must delete login profile first.")
        if user_access_keys(ctx, doc["UserName"]):
            raise DeleteConflict("Cannot delete entity, must delete access keys first.")
        for kind, what in (
            ("signing_certificate", "signing certificates"),
            ("ssh_public_key", "SSH public keys"),
        ):
            if any(d.get("UserName") == doc["UserName"] for d in ctx.tx.list(ctx.account, kind)):
                raise DeleteConflict(f"Cannot delete entity, must delete {what} first.")
        if doc.get("InlinePolicies"):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if doc.get("AttachedPolicies"):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        if doc.get("Groups"):
            raise DeleteConflict("Cannot delete entity, must remove users from group first.")
        if any(d.get("UserName") == doc["UserName"] for d in ctx.tx.list(ctx.account, MFA_KIND)):
            raise DeleteConflict("Cannot delete entity, must remove MFA device first.")
        ctx.tx.delete(ctx.account, "user", doc["UserName"])
        forget_principal(ctx, doc["UserId"])
        touched(ctx, "user", doc["Arn"])
        return {}

    # ------------------------------------------------------------ tags

    @operation("iam:TagUser", arn_of("user"), entity_context("user"))
    def TagUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return retag(ctx, "user", params["UserName"], params, "TagsPerUser")

    @operation("iam:UntagUser", arn_of("user"), entity_context("user"))
    def UntagUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return retag(ctx, "user", params["UserName"], params, "TagsPerUser")

    @operation("iam:ListUserTags", arn_of("user"), entity_context("user"))
    def ListUserTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, params["UserName"])
        return paginate(doc.get("Tags") or [], params, "Tags")

    # ------------------------------------------------------------ permissions boundary

    @operation("iam:PutUserPermissionsBoundary", arn_of("user"), entity_context("user"))
    def PutUserPermissionsBoundary(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, params["UserName"])
        doc["PermissionsBoundary"] = check_boundary(ctx, params["PermissionsBoundary"])
        ctx.tx.update(ctx.account, "user", doc["UserName"], doc)
        touched(ctx, "user", doc["Arn"])
        return {}

    @operation("iam:DeleteUserPermissionsBoundary", arn_of("user"), entity_context("user"))
    def DeleteUserPermissionsBoundary(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, params["UserName"])
        doc.pop("PermissionsBoundary", None)
        ctx.tx.update(ctx.account, "user", doc["UserName"], doc)
        touched(ctx, "user", doc["Arn"])
        return {}

    # ------------------------------------------------------------ console password

    @staticmethod
    def _login_profile_shape(doc: dict[str, Any]) -> dict[str, Any]:
        profile = doc["LoginProfile"]
        out = {
            "UserName": doc["UserName"],
            "CreateDate": profile["CreateDate"],
            "PasswordResetRequired": bool(profile.get("PasswordResetRequired")),
        }
        if profile.get("MaxSigninSessionDuration") is not None:  # left out while unset
            out["MaxSigninSessionDuration"] = profile["MaxSigninSessionDuration"]
        return out

    @operation("iam:CreateLoginProfile", caller_user_arn, entity_context("user"))
    def CreateLoginProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, target_user_name(ctx, params))
        if doc.get("LoginProfile"):
            raise EntityAlreadyExists(f"Login Profile for user {doc['UserName']} already exists.")
        if not params.get("Password"):
            raise ValidationError("Password is required.")
        check_password(ctx.tx, ctx.account, params["Password"])
        doc["LoginProfile"] = {
            "CreateDate": iso_now(ctx),
            "PasswordResetRequired": bool(params.get("PasswordResetRequired", False)),
            "PasswordHash": hash_password(params["Password"]),
            "PasswordLastChanged": iso_now(ctx),
        }
        if params.get("MaxSigninSessionDuration") is not None:
            doc["LoginProfile"]["MaxSigninSessionDuration"] = params["MaxSigninSessionDuration"]
        ctx.tx.update(ctx.account, "user", doc["UserName"], doc)
        touched(ctx, "user", doc["Arn"])
        return {"LoginProfile": self._login_profile_shape(doc)}

    @operation("iam:GetLoginProfile", caller_user_arn, entity_context("user"))
    def GetLoginProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, target_user_name(ctx, params))
        if not doc.get("LoginProfile"):
            raise _login_profile_missing(doc["UserName"])
        return {"LoginProfile": self._login_profile_shape(doc)}

    @operation("iam:UpdateLoginProfile", arn_of("user"), entity_context("user"))
    def UpdateLoginProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, params["UserName"])
        profile = doc.get("LoginProfile")
        if not profile:
            raise _login_profile_missing(doc["UserName"])
        if params.get("Password"):
            set_password(ctx, profile, params["Password"])
        if params.get("PasswordResetRequired") is not None:
            profile["PasswordResetRequired"] = bool(params["PasswordResetRequired"])
        signin_session_duration(profile, params)
        ctx.tx.update(ctx.account, "user", doc["UserName"], doc)
        touched(ctx, "user", doc["Arn"])
        return {}

    @operation("iam:DeleteLoginProfile", caller_user_arn, entity_context("user"))
    def DeleteLoginProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_user(ctx.tx, ctx.account, target_user_name(ctx, params))
        if not doc.pop("LoginProfile", None):
            raise _login_profile_missing(doc["UserName"])
        ctx.tx.update(ctx.account, "user", doc["UserName"], doc)
        touched(ctx, "user", doc["Arn"])
        return {}
