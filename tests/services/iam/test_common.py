"""What each IAM entity operation asks the policy engine: the action, the ARNs with paths, and the tag and
boundary context keys (the resolvers of rolecall/services/iam/common.py)."""

from __future__ import annotations

from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import MODEL, TRUST_EC2, resolve

ENTITY_OPERATIONS = [
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "UpdateGroup",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "CreateServiceLinkedRole",
    "DeleteServiceLinkedRole",
    "GetServiceLinkedRoleDeletionStatus",
    "CreateInstanceProfile",
    "GetInstanceProfile",
    "ListInstanceProfiles",
    "DeleteInstanceProfile",
    "AddRoleToInstanceProfile",
    "RemoveRoleFromInstanceProfile",
    "ListInstanceProfilesForRole",
    "TagInstanceProfile",
    "UntagInstanceProfile",
    "ListInstanceProfileTags",
    "GetAccountSummary",
]


def test_every_entity_operation_is_declared(iam_env):
    for op in ENTITY_OPERATIONS:
        assert op in MODEL.operation_names
        handler = iam_env.iam.handler(op)
        assert handler is not None, op
        assert handler.authorization.action == f"iam:{op}"
        assert handler.read_only == op.startswith(("Get", "List"))


def test_declarations_resolve_arns_with_paths(iam_env, call):
    [(action, resource, context)], read_only = resolve(
        iam_env, "CreateRole", RoleName="new", Path="/p/", AssumeRolePolicyDocument=TRUST_EC2
    )
    assert (action, resource, read_only) == ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/p/new", False)
    call("CreateRole", RoleName="Existing", Path="/deep/path/", AssumeRolePolicyDocument=TRUST_EC2)
    [(_, resource, _)], read_only = resolve(iam_env, "GetRole", RoleName="existing")
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/deep/path/Existing" and read_only
    # The List* operations are authorized on the path they list, as IAM names it in AccessDenied.
    [(_, resource, _)], _ = resolve(iam_env, "ListRoles")
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/"
    [(_, resource, _)], _ = resolve(iam_env, "ListRoles", PathPrefix="/aws-service-role/")
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/"
    for op, word in (
        ("ListUsers", "user"),
        ("ListGroups", "group"),
        ("ListInstanceProfiles", "instance-profile"),
    ):
        [(_, resource, _)], _ = resolve(iam_env, op)
        assert resource == f"arn:aws:iam::{ACCOUNT}:{word}/", op
    call("CreateUser", UserName="mover", Path="/a/")
    [(_, resources, _)], _ = resolve(iam_env, "UpdateUser", UserName="mover", NewUserName="moved")
    assert resources == [f"arn:aws:iam::{ACCOUNT}:user/a/mover", f"arn:aws:iam::{ACCOUNT}:user/a/moved"]
    [(_, resource, _)], _ = resolve(iam_env, "GetUser")
    assert resource == f"arn:aws:iam::{ACCOUNT}:root"


def test_declarations_carry_tag_and_boundary_context(iam_env, call):
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    [(_, _, context)], _ = resolve(
        iam_env,
        "CreateUser",
        UserName="n",
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "dev"}],
    )
    assert context == {
        "aws:RequestTag/team": "red",
        "aws:RequestTag/env": "dev",
        "aws:TagKeys": ["team", "env"],
        "iam:PermissionsBoundary": boundary,
    }
    call(
        "CreateRole",
        RoleName="tagged",
        AssumeRolePolicyDocument=TRUST_EC2,
        Tags=[{"Key": "owner", "Value": "me"}],
    )
    [(_, _, context)], _ = resolve(iam_env, "TagRole", RoleName="tagged", Tags=[{"Key": "x", "Value": "1"}])
    assert context == {"aws:RequestTag/x": "1", "aws:TagKeys": ["x"], "aws:ResourceTag/owner": "me"}
    [(_, _, context)], _ = resolve(iam_env, "UntagRole", RoleName="tagged", TagKeys=["owner"])
    assert context == {"aws:TagKeys": ["owner"], "aws:ResourceTag/owner": "me"}
    [(_, resource, context)], _ = resolve(
        iam_env, "CreateServiceLinkedRole", AWSServiceName="ecs.amazonaws.com"
    )
    assert context == {"iam:AWSServiceName": "ecs.amazonaws.com"}
    assert resource == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
