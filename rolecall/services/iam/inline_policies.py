"""Inline policies of users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy."""

from __future__ import annotations

from typing import Any

from rolecall.authz.principals import (
    inline_label,
)
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.iam.common import (
    arn_of,
    check_modifiable,
    entity_context,
    get_entity,
    paginate,
    touched,
    url_encode_document,
)
from rolecall.services.iam.errors import LimitExceeded, NoSuchEntity
from rolecall.services.iam.policy_documents import NAME_MEMBER, document_size, validate_identity_policy

INLINE_QUOTA = {"user": 2048, "group": 5120, "role": 10240}


def _inline_key(policies: dict[str, str], name: str) -> str | None:
    """The stored name of an inline policy; names compare case-insensitively, as IAM's names do."""
    if name in policies:
        return name
    folded = name.lower()
    return next((k for k in policies if k.lower() == folded), None)


def _inline_not_found(kind: str, name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind} policy with name {name} cannot be found.")


# ---------------------------------------------------------------- shared handlers


def _put_inline(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    entity_name, policy_name, text = params[NAME_MEMBER[kind]], params["PolicyName"], params["PolicyDocument"]
    doc = get_entity(ctx.tx, ctx.account, kind, entity_name)
    if kind == "role":
        check_modifiable(doc)
    policies = dict(doc.get("InlinePolicies") or {})
    existing = _inline_key(policies, policy_name)
    others = sum(document_size(t) for k, t in policies.items() if k != existing)
    quota = INLINE_QUOTA[kind]
    if others + document_size(text) > quota:
        raise LimitExceeded(
            f"Maximum policy size of {quota} bytes exceeded for {kind} {doc[NAME_MEMBER[kind]]}"
        )
    validate_identity_policy(text, inline_label(kind, doc[NAME_MEMBER[kind]], policy_name))
    if existing is not None:
        del policies[existing]
    policies[policy_name] = text
    doc["InlinePolicies"] = policies
    ctx.tx.update(ctx.account, kind, doc[NAME_MEMBER[kind]], doc)
    touched(ctx, kind, doc["Arn"])
    return {}


def _get_inline(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_entity(ctx.tx, ctx.account, kind, params[NAME_MEMBER[kind]])
    policies = doc.get("InlinePolicies") or {}
    key = _inline_key(policies, params["PolicyName"])
    if key is None:
        raise _inline_not_found(kind, params["PolicyName"])
    return {
        NAME_MEMBER[kind]: doc[NAME_MEMBER[kind]],
        "PolicyName": key,
        "PolicyDocument": url_encode_document(policies[key]),
    }


def _delete_inline(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_entity(ctx.tx, ctx.account, kind, params[NAME_MEMBER[kind]])
    if kind == "role":
        check_modifiable(doc)
    policies = dict(doc.get("InlinePolicies") or {})
    key = _inline_key(policies, params["PolicyName"])
    if key is None:
        raise _inline_not_found(kind, params["PolicyName"])
    del policies[key]
    doc["InlinePolicies"] = policies
    ctx.tx.update(ctx.account, kind, doc[NAME_MEMBER[kind]], doc)
    touched(ctx, kind, doc["Arn"])
    return {}


def _list_inline(ctx: OpContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_entity(ctx.tx, ctx.account, kind, params[NAME_MEMBER[kind]])
    names = sorted(doc.get("InlinePolicies") or {}, key=str.lower)
    return paginate(names, params, "PolicyNames", cursor=str.lower)


class InlinePolicyOperations(Family):
    @operation("iam:PutUserPolicy", arn_of("user"), entity_context("user"))
    def PutUserPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _put_inline(ctx, "user", params)

    @operation("iam:PutGroupPolicy", arn_of("group"))
    def PutGroupPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _put_inline(ctx, "group", params)

    @operation("iam:PutRolePolicy", arn_of("role"), entity_context("role"))
    def PutRolePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _put_inline(ctx, "role", params)

    @operation("iam:GetUserPolicy", arn_of("user"), entity_context("user"))
    def GetUserPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _get_inline(ctx, "user", params)

    @operation("iam:GetGroupPolicy", arn_of("group"))
    def GetGroupPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _get_inline(ctx, "group", params)

    @operation("iam:GetRolePolicy", arn_of("role"), entity_context("role"))
    def GetRolePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _get_inline(ctx, "role", params)

    @operation("iam:DeleteUserPolicy", arn_of("user"), entity_context("user"))
    def DeleteUserPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _delete_inline(ctx, "user", params)

    @operation("iam:DeleteGroupPolicy", arn_of("group"))
    def DeleteGroupPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _delete_inline(ctx, "group", params)

    @operation("iam:DeleteRolePolicy", arn_of("role"), entity_context("role"))
    def DeleteRolePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _delete_inline(ctx, "role", params)

    @operation("iam:ListUserPolicies", arn_of("user"), entity_context("user"))
    def ListUserPolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _list_inline(ctx, "user", params)

    @operation("iam:ListGroupPolicies", arn_of("group"))
    def ListGroupPolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _list_inline(ctx, "group", params)

    @operation("iam:ListRolePolicies", arn_of("role"), entity_context("role"))
    def ListRolePolicies(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _list_inline(ctx, "role", params)
