"""IAM roles, in process: trust policies, updates, tags, deletion conflicts and service-linked roles."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from rolecall.errors import AccessDenied, MalformedPolicyDocument
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    UnmodifiableEntity,
)
from rolecall.store import GLOBAL
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import TRUST_EC2, allow, no_allow, raises, trust_for


def test_create_with_duplicate_tags_is_refused(call):
    tags = [{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}]
    raises(InvalidInput, call, "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST_EC2, Tags=tags)
    raises(NoSuchEntity, call, "GetRole", RoleName="r")


def test_create_and_get_role(checked, call):
    role = checked(
        "CreateRole",
        RoleName="app",
        Path="/team/",
        AssumeRolePolicyDocument=TRUST_EC2,
        Description="the app",
        Tags=[{"Key": "env", "Value": "dev"}],
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/team/app"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role["RoleId"])
    # Leaves URL-encoded, as IAM sends it (botocore decodes it for callers).
    assert "%7B" in role["AssumeRolePolicyDocument"]
    assert urllib.parse.unquote(role["AssumeRolePolicyDocument"]) == TRUST_EC2
    got = checked("GetRole", RoleName="APP")["Role"]
    assert got["MaxSessionDuration"] == 3600 and got["Description"] == "the app"
    assert got["RoleLastUsed"] == {} and got["Tags"] == [{"Key": "env", "Value": "dev"}]
    err = raises(EntityAlreadyExists, call, "CreateRole", RoleName="App", AssumeRolePolicyDocument=TRUST_EC2)
    assert err.message == "Role with name App already exists."
    err = raises(NoSuchEntity, call, "GetRole", RoleName="nope")
    assert err.message == "The role with name nope cannot be found."
    listed = checked("ListRoles", PathPrefix="/team/")["Roles"]
    assert (
        [r["RoleName"] for r in listed] == ["app"]
        and "Tags" not in listed[0]
        and "RoleLastUsed" not in listed[0]
    )
    assert checked("ListRoles", PathPrefix="/other/")["Roles"] == []


def test_trust_policy_is_validated(call):
    err = raises(
        MalformedPolicyDocument, call, "CreateRole", RoleName="bad", AssumeRolePolicyDocument="{not json"
    )
    assert (err.code, err.status) == ("MalformedPolicyDocument", 400) and err.message
    missing = f"arn:aws:iam::{ACCOUNT}:user/ghost"
    err = raises(
        MalformedPolicyDocument,
        call,
        "CreateRole",
        RoleName="r",
        AssumeRolePolicyDocument=trust_for({"AWS": missing}),
    )
    assert err.message == f'Invalid principal in policy: "AWS":"{missing}"'
    call("CreateUser", UserName="real", Path="/p/")
    # The path is part of the principal's ARN.
    wrong_path = f"arn:aws:iam::{ACCOUNT}:user/real"
    raises(
        MalformedPolicyDocument,
        call,
        "CreateRole",
        RoleName="r",
        AssumeRolePolicyDocument=trust_for({"AWS": wrong_path}),
    )
    right = f"arn:aws:iam::{ACCOUNT}:user/p/real"
    foreign = "arn:aws:iam::999999999999:role/elsewhere"  # an account this store does not hold
    call("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust_for({"AWS": [right, foreign, ACCOUNT]}))
    big = trust_for({"AWS": [f"arn:aws:iam::999999999999:role/r{i:04d}" for i in range(60)]})
    err = raises(LimitExceeded, call, "UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=big)
    assert err.message == "Cannot exceed quota for ACLSizePerRole: 2048"
    call("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=TRUST_EC2)
    got = call("GetRole", RoleName="r")["Role"]
    assert urllib.parse.unquote(got["AssumeRolePolicyDocument"]) == TRUST_EC2


def test_update_role(checked, call):
    call("CreateRole", RoleName="u", AssumeRolePolicyDocument=TRUST_EC2)
    checked("UpdateRole", RoleName="u", Description="d1", MaxSessionDuration=7200)
    got = call("GetRole", RoleName="u")["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("d1", 7200)
    role = checked("UpdateRoleDescription", RoleName="u", Description="d2")["Role"]
    assert role["Description"] == "d2"


def test_role_signin_session_duration(checked, call):
    created = checked(
        "CreateRole", RoleName="s", AssumeRolePolicyDocument=TRUST_EC2, MaxSigninSessionDuration=7200
    )["Role"]
    assert created["MaxSigninSessionDuration"] == 7200
    assert call("GetRole", RoleName="s")["Role"]["MaxSigninSessionDuration"] == 7200
    checked("UpdateRole", RoleName="s", MaxSigninSessionDuration=86400)
    assert call("ListRoles")["Roles"][0]["MaxSigninSessionDuration"] == 86400
    checked("UpdateRole", RoleName="s", Description="only this")  # leaves the setting as it is
    assert call("GetRole", RoleName="s")["Role"]["MaxSigninSessionDuration"] == 86400
    err = raises(
        InvalidInput,
        call,
        "UpdateRole",
        RoleName="s",
        MaxSigninSessionDuration=3600,
        ResetMaxSigninSessionDuration=True,
    )
    assert "ResetMaxSigninSessionDuration" in err.message
    checked("UpdateRole", RoleName="s", ResetMaxSigninSessionDuration=True)
    assert "MaxSigninSessionDuration" not in call("GetRole", RoleName="s")["Role"]  # unset: left out
    call("CreateServiceLinkedRole", AWSServiceName="spot.amazonaws.com")
    raises(
        UnmodifiableEntity,
        call,
        "UpdateRole",
        RoleName="AWSServiceRoleForEC2Spot",
        ResetMaxSigninSessionDuration=True,
    )


def test_delete_role_conflicts(iam_env, call):
    call("CreateRole", RoleName="d", AssumeRolePolicyDocument=TRUST_EC2)
    call("CreateInstanceProfile", InstanceProfileName="ip")
    call("AddRoleToInstanceProfile", InstanceProfileName="ip", RoleName="d")
    err = raises(DeleteConflict, call, "DeleteRole", RoleName="d")
    assert err.message == "Cannot delete entity, must remove roles from instance profile first."
    call("RemoveRoleFromInstanceProfile", InstanceProfileName="ip", RoleName="d")
    with iam_env.store.transaction() as tx:
        doc = tx.get(ACCOUNT, "role", "d")
        doc["InlinePolicies"] = {"p": "{}"}
        doc["AttachedPolicies"] = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        tx.update(ACCOUNT, "role", "d", doc)
    assert raises(DeleteConflict, call, "DeleteRole", RoleName="d").message == (
        "Cannot delete entity, must delete policies first."
    )
    with iam_env.store.transaction() as tx:
        doc = tx.get(ACCOUNT, "role", "d")
        doc["InlinePolicies"] = {}
        tx.update(ACCOUNT, "role", "d", doc)
    assert raises(DeleteConflict, call, "DeleteRole", RoleName="d").message == (
        "Cannot delete entity, must detach all policies first."
    )
    with iam_env.store.transaction() as tx:
        doc = tx.get(ACCOUNT, "role", "d")
        doc["AttachedPolicies"] = []
        tx.update(ACCOUNT, "role", "d", doc)
    call("DeleteRole", RoleName="d")
    raises(NoSuchEntity, call, "DeleteRole", RoleName="d")


def test_role_tags(checked, call):
    call("CreateRole", RoleName="tr", AssumeRolePolicyDocument=TRUST_EC2)
    call("TagRole", RoleName="tr", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    call("UntagRole", RoleName="tr", TagKeys=["A"])
    assert checked("ListRoleTags", RoleName="tr") == {
        "Tags": [{"Key": "b", "Value": "2"}],
        "IsTruncated": False,
    }


def test_service_linked_roles(checked, call):
    role = checked(
        "CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com", Description="eb"
    )["Role"]
    name = "AWSServiceRoleForElasticBeanstalk"
    assert role["RoleName"] == name and role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    assert (
        role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticbeanstalk.amazonaws.com/{name}"
    )
    trust = json.loads(urllib.parse.unquote(role["AssumeRolePolicyDocument"]))
    assert trust["Statement"][0]["Principal"] == {"Service": ["elasticbeanstalk.amazonaws.com"]}
    err = raises(
        InvalidInput, call, "CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com"
    )
    assert (
        err.message
        == f"Service role name {name} has been taken in this account, please try a different suffix."
    )
    suffixed = call(
        "CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web"
    )["Role"]
    assert suffixed["RoleName"] == "AWSServiceRoleForAutoScaling_web"
    assert call("CreateServiceLinkedRole", AWSServiceName="spot.amazonaws.com")["Role"]["RoleName"] == (
        "AWSServiceRoleForEC2Spot"
    )

    protected = (
        f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    )
    for op, extra in [
        ("UpdateAssumeRolePolicy", {"PolicyDocument": TRUST_EC2}),
        ("DeleteRole", {}),
        ("PutRolePermissionsBoundary", {"PermissionsBoundary": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        ("UpdateRole", {"MaxSessionDuration": 7200}),
    ]:
        err = raises(UnmodifiableEntity, call, op, RoleName=name, **extra)
        assert (err.code, err.message) == ("UnmodifiableEntity", protected)
    call("UpdateRoleDescription", RoleName=name, Description="edited")  # the description is the caller's

    task = checked("DeleteServiceLinkedRole", RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/elasticbeanstalk.amazonaws.com/{name}/")
    assert checked("GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task) == {"Status": "SUCCEEDED"}
    raises(NoSuchEntity, call, "GetRole", RoleName=name)
    call("CreateRole", RoleName="plain", AssumeRolePolicyDocument=TRUST_EC2)
    raises(InvalidInput, call, "DeleteServiceLinkedRole", RoleName="plain")


def test_account_must_be_known_to_check_foreign_principals(iam_env, call):
    """A second account held by this store is checked like our own."""
    other = "210987654321"
    with iam_env.store.transaction() as tx:
        tx.insert(GLOBAL, "account", other, {"AccountId": other, "CreateDate": "2027-01-01T00:00:00Z"})
    missing = f"arn:aws:iam::{other}:role/absent"
    raises(
        MalformedPolicyDocument,
        call,
        "CreateRole",
        RoleName="x",
        AssumeRolePolicyDocument=trust_for({"AWS": missing}),
    )


def test_creating_roles_may_require_a_permissions_boundary(iam_env, call):
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    # Delegated role creation: only roles fenced by the boundary.
    fenced = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    creator = iam_env.user(
        "creator", allow("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/app-*", Condition=fenced)
    )
    created = call(
        "CreateRole",
        caller=creator,
        RoleName="app-web",
        AssumeRolePolicyDocument=TRUST_EC2,
        PermissionsBoundary=boundary,
    )["Role"]
    assert created["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    err = iam_env.denied(
        creator, "iam", "CreateRole", RoleName="app-free", AssumeRolePolicyDocument=TRUST_EC2
    )
    assert isinstance(err, AccessDenied)
    assert err.message == no_allow("creator", "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/app-free")
    raises(NoSuchEntity, call, "GetRole", RoleName="app-free")
    err = iam_env.denied(creator, "iam", "DeleteRolePermissionsBoundary", RoleName="app-web")
    assert err.message == no_allow(
        "creator", "iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/app-web"
    )


TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


@pytest.mark.parametrize("path", ["/aws-service-role/", "/aws-service-role/elasticbeanstalk.amazonaws.com/"])
def test_create_role_refuses_the_service_linked_path(call, path):
    with pytest.raises(InvalidInput, match="reserved for service-linked roles"):
        call("CreateRole", RoleName="Impostor", Path=path, AssumeRolePolicyDocument=TRUST)
    assert all(r["RoleName"] != "Impostor" for r in call("ListRoles")["Roles"])


def test_a_service_linked_role_still_lives_there(call):
    role = call("CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
    assert role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    # A look-alike path that only starts with the same letters is an ordinary path.
    ok = call("CreateRole", RoleName="Fine", Path="/aws-service-roles/", AssumeRolePolicyDocument=TRUST)
    assert ok["Role"]["Path"] == "/aws-service-roles/"


def test_list_roles_pages_through_thousands_in_name_order(iam_env, call, checked):
    """ListRoles reads one page of the store at a time (keyset pagination on the lower-cased name): every
    role comes exactly once, in IAM's order, with and without PathPrefix, and a marker still works after
    the role it names is deleted."""
    names = [f"{'Role' if i % 2 else 'role'}-{i:05d}" for i in range(2500)]
    team = sorted((n for i, n in enumerate(names) if i % 3 == 0), key=str.lower)
    made = {
        path: call(
            "CreateRole", RoleName=f"template{path.strip('/')}", Path=path, AssumeRolePolicyDocument=TRUST_EC2
        )
        for path in ("/team/", "/")
    }
    with iam_env.store.transaction() as tx:  # copies of what CreateRole stored, written in one go
        stored = {p: tx.get(ACCOUNT, "role", r["Role"]["RoleName"]) for p, r in made.items()}
        for created in made.values():
            tx.delete(ACCOUNT, "role", created["Role"]["RoleName"])
        for i, name in enumerate(names):
            path = "/team/" if i % 3 == 0 else "/"
            doc = dict(
                stored[path],
                RoleName=name,
                Arn=f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
                RoleId=f"AROA{i:017d}",
            )
            tx.insert(ACCOUNT, "role", name, doc, uid=doc["RoleId"])

    def pages(**params):
        out, marker = [], None
        while True:
            page = checked("ListRoles", **params, **({"Marker": marker} if marker else {}))
            out.append([r["RoleName"] for r in page["Roles"]])
            if not page["IsTruncated"]:
                assert "Marker" not in page
                return out
            marker = page["Marker"]

    everything = pages()
    assert [len(p) for p in everything] == [100] * 25
    assert [n for p in everything for n in p] == sorted(names, key=str.lower)
    team_pages = pages(PathPrefix="/team/", MaxItems=7)
    assert all(len(p) == 7 for p in team_pages[:-1]) and [n for p in team_pages for n in p] == team
    first = checked("ListRoles", MaxItems=1000)
    call("DeleteRole", RoleName=first["Roles"][-1]["RoleName"])
    second = checked("ListRoles", MaxItems=1000, Marker=first["Marker"])
    assert second["Roles"][0]["RoleName"] == sorted(names, key=str.lower)[1000]
