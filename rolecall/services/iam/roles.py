"""IAM roles: trust policies, descriptions, session limits, tags, permissions boundaries, and the
service-linked roles AWS services own."""

from __future__ import annotations

import uuid
from typing import Any

from rolecall import ids
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import MalformedPolicyDocument
from rolecall.policy import MalformedPolicy, Policy
from rolecall.services.iam.common import (
    ALREADY_EXISTS,
    arn_of,
    check_modifiable,
    entity_arn,
    entity_context,
    get_role,
    insert_entity,
    iso_now,
    paginate,
    paginate_stored,
    path_matches,
    path_prefix_arn,
    retag,
    role_shape,
    signin_session_duration,
    touched,
    validate_tags,
)
from rolecall.services.iam.errors import DeleteConflict, InvalidInput, LimitExceeded, NoSuchEntity
from rolecall.services.iam.service_linked_roles import (
    SERVICE_LINKED_PATH,
    create_service_linked_role,
    service_linked_role_name,
    service_linked_role_path,
)
from rolecall.services.iam.trust_principals import bind_principals, forget_principal
from rolecall.services.iam.users import check_boundary

DEFAULT_MAX_SESSION_DURATION = 3600
TRUST_POLICY_QUOTA = 2048  # AWS's default ACLSizePerRole, characters not counting whitespace


# ---------------------------------------------------------------- trust policies


def validate_trust_policy(ctx: OpContext, text: str) -> tuple[str, dict[str, str]]:
    """Check a trust policy as CreateRole/UpdateAssumeRolePolicy do; returns the text to store and the
    unique ids of the user and role principals it names."""
    if len("".join(text.split())) > TRUST_POLICY_QUOTA:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_QUOTA}")

    try:
        policy = Policy.parse(text, kind="trust", max_size=TRUST_POLICY_QUOTA)
    except MalformedPolicy as exc:
        raise MalformedPolicyDocument(getattr(exc, "message", None) or str(exc)) from None
    return text, bind_principals(ctx, policy.document)


# ---------------------------------------------------------------- service-linked roles


def service_linked_role_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    service = params.get("AWSServiceName") or ""
    try:
        name = service_linked_role_name(service, params.get("CustomSuffix"))
    except InvalidInput:
        return "*"
    return entity_arn(ctx.account, "role", service_linked_role_path(service), name)


def service_name_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"iam:AWSServiceName": params.get("AWSServiceName") or ""}


def instance_profiles_of(ctx: OpContext, role_name: str) -> list[dict[str, Any]]:
    folded = role_name.lower()
    return [
        p
        for p in ctx.tx.list(ctx.account, "instance_profile")
        if folded in {r.lower() for r in p.get("Roles") or []}
    ]


class RoleOperations(Family):
    @operation("iam:CreateRole", arn_of("role"), entity_context("role"))
    def CreateRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["RoleName"], params.get("Path") or "/"
        if path.startswith(SERVICE_LINKED_PATH):
            # Only CreateServiceLinkedRole makes roles there: a role under this path would pass for one,
            # and service-linked roles cannot be edited or deleted by callers (the wording is rolecall's).
            raise InvalidInput(
                f"The path {SERVICE_LINKED_PATH} is reserved for service-linked roles; "
                "use CreateServiceLinkedRole to create one."
            )
        tags = validate_tags(params.get("Tags"))
        trust_text, trust_ids = validate_trust_policy(ctx, params["AssumeRolePolicyDocument"])
        doc: dict[str, Any] = {
            "RoleName": name,
            "RoleId": ids.unique_id(ids.ROLE),
            "Arn": entity_arn(ctx.account, "role", path, name),
            "Path": path,
            "CreateDate": iso_now(ctx),
            "AssumeRolePolicyDocument": trust_text,
            "TrustPrincipalIds": trust_ids,
            "MaxSessionDuration": params.get("MaxSessionDuration") or DEFAULT_MAX_SESSION_DURATION,
            "Tags": tags,
            "InlinePolicies": {},
            "AttachedPolicies": [],
        }
        if params.get("Description") is not None:
            doc["Description"] = params["Description"]
        if params.get("MaxSigninSessionDuration") is not None:
            doc["MaxSigninSessionDuration"] = params["MaxSigninSessionDuration"]
        if params.get("PermissionsBoundary"):
            doc["PermissionsBoundary"] = check_boundary(ctx, params["PermissionsBoundary"])
        insert_entity(
            ctx.tx, ctx.account, "role", name, doc, doc["RoleId"], ALREADY_EXISTS["role"].format(name)
        )
        touched(ctx, "role", doc["Arn"])
        out = role_shape(doc)
        if tags:
            out["Tags"] = tags
        if doc.get("PermissionsBoundary"):
            out["PermissionsBoundary"] = doc["PermissionsBoundary"]
        return {"Role": out}

    @operation("iam:GetRole", arn_of("role"), entity_context("role"))
    def GetRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Role": role_shape(get_role(ctx.tx, ctx.account, params["RoleName"]), full=True)}

    @operation("iam:ListRoles", path_prefix_arn("role"))
    def ListRoles(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PathPrefix")
        page = paginate_stored(
            ctx.tx, ctx.account, "role", params, "Roles", lambda r: path_matches(r["Path"], prefix)
        )
        page["Roles"] = [role_shape(r) for r in page["Roles"]]
        return page

    @operation("iam:UpdateRole", arn_of("role"), entity_context("role"))
    def UpdateRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        signin = params.get("MaxSigninSessionDuration") is not None or params.get(
            "ResetMaxSigninSessionDuration"
        )
        if params.get("MaxSessionDuration") is not None or signin:
            check_modifiable(doc)  # a service-linked role's description is all a caller may edit
        if params.get("MaxSessionDuration") is not None:
            doc["MaxSessionDuration"] = params["MaxSessionDuration"]
        signin_session_duration(doc, params)
        if params.get("Description") is not None:
            doc["Description"] = params["Description"]
        ctx.tx.update(ctx.account, "role", doc["RoleName"], doc)
        touched(ctx, "role", doc["Arn"])
        return {}

    @operation("iam:UpdateRoleDescription", arn_of("role"), entity_context("role"))
    def UpdateRoleDescription(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        doc["Description"] = params["Description"]
        ctx.tx.update(ctx.account, "role", doc["RoleName"], doc)
        touched(ctx, "role", doc["Arn"])
        return {"Role": role_shape(doc, full=True)}

    @operation("iam:UpdateAssumeRolePolicy", arn_of("role"), entity_context("role"))
    def UpdateAssumeRolePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        check_modifiable(doc)
        doc["AssumeRolePolicyDocument"], doc["TrustPrincipalIds"] = validate_trust_policy(
            ctx, params["PolicyDocument"]
        )
        ctx.tx.update(ctx.account, "role", doc["RoleName"], doc)
        touched(ctx, "role", doc["Arn"])
        return {}

    @operation("iam:DeleteRole", arn_of("role"), entity_context("role"))
    def DeleteRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        check_modifiable(doc)
        if instance_profiles_of(ctx, doc["RoleName"]):
            raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
        if doc.get("InlinePolicies"):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if doc.get("AttachedPolicies"):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        ctx.tx.delete(ctx.account, "role", doc["RoleName"])
        forget_principal(ctx, doc["RoleId"])
        touched(ctx, "role", doc["Arn"])
        return {}

    # ------------------------------------------------------------ tags

    @operation("iam:TagRole", arn_of("role"), entity_context("role"))
    def TagRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return retag(ctx, "role", params["RoleName"], params, "TagsPerRole")

    @operation("iam:UntagRole", arn_of("role"), entity_context("role"))
    def UntagRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return retag(ctx, "role", params["RoleName"], params, "TagsPerRole")

    @operation("iam:ListRoleTags", arn_of("role"), entity_context("role"))
    def ListRoleTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        return paginate(doc.get("Tags") or [], params, "Tags")

    # ------------------------------------------------------------ permissions boundary

    @operation("iam:PutRolePermissionsBoundary", arn_of("role"), entity_context("role"))
    def PutRolePermissionsBoundary(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        check_modifiable(doc)
        doc["PermissionsBoundary"] = check_boundary(ctx, params["PermissionsBoundary"])
        ctx.tx.update(ctx.account, "role", doc["RoleName"], doc)
        touched(ctx, "role", doc["Arn"])
        return {}

    @operation("iam:DeleteRolePermissionsBoundary", arn_of("role"), entity_context("role"))
    def DeleteRolePermissionsBoundary(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        check_modifiable(doc)
        doc.pop("PermissionsBoundary", None)
        ctx.tx.update(ctx.account, "role", doc["RoleName"], doc)
        touched(ctx, "role", doc["Arn"])
        return {}

    # ------------------------------------------------------------ service-linked roles

    @operation("iam:CreateServiceLinkedRole", service_linked_role_arn, service_name_context)
    def CreateServiceLinkedRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = create_service_linked_role(
            ctx, params["AWSServiceName"], params.get("CustomSuffix"), params.get("Description")
        )
        return {"Role": role_shape(doc)}

    @operation("iam:DeleteServiceLinkedRole", arn_of("role"), entity_context("role"))
    def DeleteServiceLinkedRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_role(ctx.tx, ctx.account, params["RoleName"])
        linked = doc.get("ServiceLinked")
        if not linked:
            raise InvalidInput(f"Role {doc['RoleName']} is not a service-linked role.")
        # Nothing here uses a service-linked role's resources, so the deletion succeeds at once.
        for profile in instance_profiles_of(ctx, doc["RoleName"]):
            profile["Roles"] = [r for r in profile["Roles"] if r.lower() != doc["RoleName"].lower()]
            ctx.tx.update(ctx.account, "instance_profile", profile["InstanceProfileName"], profile)
        ctx.tx.delete(ctx.account, "role", doc["RoleName"])
        forget_principal(ctx, doc["RoleId"])
        task_id = f"task{doc['Path']}{doc['RoleName']}/{uuid.uuid4()}"
        task = {
            "DeletionTaskId": task_id,
            "Status": "SUCCEEDED",
            "CreateDate": iso_now(ctx),
            "RoleArn": doc["Arn"],
        }
        ctx.tx.insert(ctx.account, "slr_deletion_task", task_id, task)
        touched(ctx, "role", doc["Arn"])
        return {"DeletionTaskId": task_id}

    @operation("iam:GetServiceLinkedRoleDeletionStatus")
    def GetServiceLinkedRoleDeletionStatus(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        task_id = params["DeletionTaskId"]
        if not task_id.startswith("task/"):
            raise InvalidInput(f"Invalid deletion task id: {task_id}")
        task = ctx.tx.get(ctx.account, "slr_deletion_task", task_id)
        if task is None:
            raise NoSuchEntity(f"Deletion task {task_id} cannot be found.")
        return {"Status": task["Status"]}
