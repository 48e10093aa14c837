"""IAM groups and their membership. Membership is kept on the user (user.Groups)."""

from __future__ import annotations

from typing import Any

from rolecall import ids
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.iam.common import (
    ALREADY_EXISTS,
    arn_of,
    by_name,
    entity_arn,
    entity_context,
    get_group,
    get_user,
    group_shape,
    insert_entity,
    iso_now,
    paginate,
    path_matches,
    path_prefix_arn,
    touched,
    user_shape,
)
from rolecall.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity

GROUPS_PER_USER = 10


def _is_member(user: dict[str, Any], group_name: str) -> bool:
    return group_name.lower() in {g.lower() for g in user.get("Groups") or []}


def group_members(ctx: OpContext, group_name: str) -> list[dict[str, Any]]:
    return [u for u in ctx.tx.list(ctx.account, "user") if _is_member(u, group_name)]


def update_group_resources(ctx: OpContext, params: dict[str, Any]) -> list[str]:
    """Renaming or moving a group needs permission on both the source and the target."""
    source = arn_of("group")(ctx, params)
    if not params.get("NewGroupName") and not params.get("NewPath"):
        return [source]
    doc = ctx.tx.get(ctx.account, "group", params["GroupName"]) if getattr(ctx, "tx", None) else None
    path = params.get("NewPath") or (doc or {}).get("Path") or "/"
    target = entity_arn(ctx.account, "group", path, params.get("NewGroupName") or params["GroupName"])
    return [source] if target == source else [source, target]


class GroupOperations(Family):
    @operation("iam:CreateGroup", arn_of("group"), entity_context("group"))
    def CreateGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["GroupName"], params.get("Path") or "/"
        doc = {
            "GroupName": name,
            "GroupId": ids.unique_id(ids.GROUP),
            "Arn": entity_arn(ctx.account, "group", path, name),
            "Path": path,
            "CreateDate": iso_now(ctx),
            "InlinePolicies": {},
            "AttachedPolicies": [],
        }
        insert_entity(
            ctx.tx, ctx.account, "group", name, doc, doc["GroupId"], ALREADY_EXISTS["group"].format(name)
        )
        touched(ctx, "group", doc["Arn"])
        return {"Group": group_shape(doc)}

    @operation("iam:GetGroup", arn_of("group"), entity_context("group"))
    def GetGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_group(ctx.tx, ctx.account, params["GroupName"])
        page = paginate(group_members(ctx, doc["GroupName"]), params, "Users", by_name("user"))
        page["Users"] = [user_shape(u, full=False) for u in page["Users"]]
        return {"Group": group_shape(doc), **page}

    @operation("iam:ListGroups", path_prefix_arn("group"))
    def ListGroups(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        groups = [
            g for g in ctx.tx.list(ctx.account, "group") if path_matches(g["Path"], params.get("PathPrefix"))
        ]
        page = paginate(groups, params, "Groups", by_name("group"))
        page["Groups"] = [group_shape(g) for g in page["Groups"]]
        return page

    @operation("iam:UpdateGroup", update_group_resources, entity_context("group"))
    def UpdateGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_group(ctx.tx, ctx.account, params["GroupName"])
        old_name = doc["GroupName"]
        new_name = params.get("NewGroupName") or old_name
        new_path = params.get("NewPath") or doc["Path"]
        if new_name != old_name:
            other = ctx.tx.get(ctx.account, "group", new_name)
            if other is not None and other["GroupId"] != doc["GroupId"]:
                raise EntityAlreadyExists(ALREADY_EXISTS["group"].format(new_name))
        members = group_members(ctx, old_name)
        doc.update(
            GroupName=new_name, Path=new_path, Arn=entity_arn(ctx.account, "group", new_path, new_name)
        )
        if new_name == old_name:
            ctx.tx.update(ctx.account, "group", old_name, doc)
        else:
            ctx.tx.delete(ctx.account, "group", old_name)
            insert_entity(
                ctx.tx,
                ctx.account,
                "group",
                new_name,
                doc,
                doc["GroupId"],
                ALREADY_EXISTS["group"].format(new_name),
            )
            for user in members:
                user["Groups"] = [new_name if g.lower() == old_name.lower() else g for g in user["Groups"]]
                ctx.tx.update(ctx.account, "user", user["UserName"], user)
        touched(ctx, "group", doc["Arn"])
        return {}

    @operation("iam:DeleteGroup", arn_of("group"), entity_context("group"))
    def DeleteGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_group(ctx.tx, ctx.account, params["GroupName"])
        if group_members(ctx, doc["GroupName"]):
            raise DeleteConflict("Cannot delete entity, must remove users from group first.")
        if doc.get("InlinePolicies"):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if doc.get("AttachedPolicies"):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        ctx.tx.delete(ctx.account, "group", doc["GroupName"])
        touched(ctx, "group", doc["Arn"])
        return {}

    @operation("iam:AddUserToGroup", arn_of("group"), entity_context("group"))
    def AddUserToGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group = get_group(ctx.tx, ctx.account, params["GroupName"])
        user = get_user(ctx.tx, ctx.account, params["UserName"])
        if not _is_member(user, group["GroupName"]):
            if len(user.get("Groups") or []) >= GROUPS_PER_USER:
                raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
            user["Groups"] = [*(user.get("Groups") or []), group["GroupName"]]
            ctx.tx.update(ctx.account, "user", user["UserName"], user)
        touched(ctx, "group", group["Arn"])
        touched(ctx, "user", user["Arn"])
        return {}

    @operation("iam:RemoveUserFromGroup", arn_of("group"), entity_context("group"))
    def RemoveUserFromGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group = get_group(ctx.tx, ctx.account, params["GroupName"])
        user = get_user(ctx.tx, ctx.account, params["UserName"])
        if not _is_member(user, group["GroupName"]):
            raise NoSuchEntity(f"The user with name {user['UserName']} cannot be found.")
        user["Groups"] = [g for g in user["Groups"] if g.lower() != group["GroupName"].lower()]
        ctx.tx.update(ctx.account, "user", user["UserName"], user)
        touched(ctx, "group", group["Arn"])
        touched(ctx, "user", user["Arn"])
        return {}

    @operation("iam:ListGroupsForUser", arn_of("user"), entity_context("user"))
    def ListGroupsForUser(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = get_user(ctx.tx, ctx.account, params["UserName"])
        groups = [ctx.tx.get(ctx.account, "group", g) for g in user.get("Groups") or []]
        page = paginate([g for g in groups if g is not None], params, "Groups")
        page["Groups"] = [group_shape(g) for g in page["Groups"]]
        return page
