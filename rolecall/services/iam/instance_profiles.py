"""Instance profiles: the container that hands one role to EC2 instances."""

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
    get_instance_profile,
    get_role,
    insert_entity,
    instance_profile_shape,
    iso_now,
    paginate,
    path_matches,
    path_prefix_arn,
    resource_tag_context,
    retag,
    touched,
    validate_tags,
)
from rolecall.services.iam.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from rolecall.services.iam.roles import instance_profiles_of

ROLES_PER_INSTANCE_PROFILE = 1


def pass_role(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """Putting a role in a profile passes it to EC2: iam:PassRole on the role, with the profile as the
    associated resource and the role's tags as resource tags."""
    tx = getattr(ctx, "tx", None)
    role = tx.get(ctx.account, "role", params.get("RoleName") or "") if tx is not None else None
    context = {
        "iam:PassedToService": "ec2.amazonaws.com",
        "iam:AssociatedResourceArn": arn_of("instance_profile")(ctx, params),
        **resource_tag_context(role),
    }
    return [("iam:PassRole", arn_of("role")(ctx, params), context)]


class InstanceProfileOperations(Family):
    @operation("iam:CreateInstanceProfile", arn_of("instance_profile"), entity_context("instance_profile"))
    def CreateInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["InstanceProfileName"], params.get("Path") or "/"
        doc = {
            "InstanceProfileName": name,
            "InstanceProfileId": ids.unique_id(ids.INSTANCE_PROFILE),
            "Arn": entity_arn(ctx.account, "instance_profile", path, name),
            "Path": path,
            "CreateDate": iso_now(ctx),
            "Roles": [],
            "Tags": validate_tags(params.get("Tags")),
        }
        exists = ALREADY_EXISTS["instance_profile"].format(name)
        insert_entity(ctx.tx, ctx.account, "instance_profile", name, doc, doc["InstanceProfileId"], exists)
        touched(ctx, "instance_profile", doc["Arn"])
        return {"InstanceProfile": instance_profile_shape(ctx.tx, ctx.account, doc)}

    @operation("iam:GetInstanceProfile", arn_of("instance_profile"), entity_context("instance_profile"))
    def GetInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance_profile(ctx.tx, ctx.account, params["InstanceProfileName"])
        shape = instance_profile_shape(ctx.tx, ctx.account, doc)
        return {"InstanceProfile": {**shape, "Tags": shape.get("Tags", [])}}  # [] when untagged, as IAM's

    @operation("iam:ListInstanceProfiles", path_prefix_arn("instance_profile"))
    def ListInstanceProfiles(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        profiles = [
            p
            for p in ctx.tx.list(ctx.account, "instance_profile")
            if path_matches(p["Path"], params.get("PathPrefix"))
        ]
        page = paginate(profiles, params, "InstanceProfiles", by_name("instance_profile"))
        page["InstanceProfiles"] = [
            instance_profile_shape(ctx.tx, ctx.account, p, tags=False) for p in page["InstanceProfiles"]
        ]
        return page

    @operation("iam:DeleteInstanceProfile", arn_of("instance_profile"), entity_context("instance_profile"))
    def DeleteInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance_profile(ctx.tx, ctx.account, params["InstanceProfileName"])
        if doc.get("Roles"):
            raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
        ctx.tx.delete(ctx.account, "instance_profile", doc["InstanceProfileName"])
        touched(ctx, "instance_profile", doc["Arn"])
        return {}

    @operation(
        "iam:AddRoleToInstanceProfile",
        arn_of("instance_profile"),
        entity_context("instance_profile"),
        extra=pass_role,
    )
    def AddRoleToInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance_profile(ctx.tx, ctx.account, params["InstanceProfileName"])
        role = get_role(ctx.tx, ctx.account, params["RoleName"])
        if len(doc.get("Roles") or []) >= ROLES_PER_INSTANCE_PROFILE:
            raise LimitExceeded(
                f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_INSTANCE_PROFILE}"
            )
        doc["Roles"] = [*(doc.get("Roles") or []), role["RoleName"]]
        ctx.tx.update(ctx.account, "instance_profile", doc["InstanceProfileName"], doc)
        touched(ctx, "instance_profile", doc["Arn"])
        touched(ctx, "role", role["Arn"])
        return {}

    @operation(
        "iam:RemoveRoleFromInstanceProfile", arn_of("instance_profile"), entity_context("instance_profile")
    )
    def RemoveRoleFromInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance_profile(ctx.tx, ctx.account, params["InstanceProfileName"])
        role = get_role(ctx.tx, ctx.account, params["RoleName"])
        folded = role["RoleName"].lower()
        if folded not in {r.lower() for r in doc.get("Roles") or []}:
            raise NoSuchEntity(f"The role with name {role['RoleName']} cannot be found.")
        doc["Roles"] = [r for r in doc["Roles"] if r.lower() != folded]
        ctx.tx.update(ctx.account, "instance_profile", doc["InstanceProfileName"], doc)
        touched(ctx, "instance_profile", doc["Arn"])
        touched(ctx, "role", role["Arn"])
        return {}

    @operation("iam:ListInstanceProfilesForRole", arn_of("role"), entity_context("role"))
    def ListInstanceProfilesForRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        role = get_role(ctx.tx, ctx.account, params["RoleName"])
        page = paginate(instance_profiles_of(ctx, role["RoleName"]), params, "InstanceProfiles")
        page["InstanceProfiles"] = [
            instance_profile_shape(ctx.tx, ctx.account, p, tags=False) for p in page["InstanceProfiles"]
        ]
        return page

    # ------------------------------------------------------------ tags

    @operation("iam:TagInstanceProfile", arn_of("instance_profile"), entity_context("instance_profile"))
    def TagInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return retag(ctx, "instance_profile", params["InstanceProfileName"], params, "TagsPerInstanceProfile")

    @operation("iam:UntagInstanceProfile", arn_of("instance_profile"), entity_context("instance_profile"))
    def UntagInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return retag(ctx, "instance_profile", params["InstanceProfileName"], params, "TagsPerInstanceProfile")

    @operation("iam:ListInstanceProfileTags", arn_of("instance_profile"), entity_context("instance_profile"))
    def ListInstanceProfileTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance_profile(ctx.tx, ctx.account, params["InstanceProfileName"])
        return paginate(doc.get("Tags") or [], params, "Tags")
