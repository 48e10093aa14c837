"""The policy half of IAM, in process: inline policies, customer managed policies and their versions,
attachments, AWS managed policies and the account authorization snapshot."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from rolecall.authz.managed import (
    aws_managed_policy,
    aws_managed_policy_versions,
    list_aws_managed_policies,
    policy_id_for,
)
from rolecall.authz.principals import (
    compiled,
    managed_policy_document,
    managed_policy_exists,
    policies_for_role,
    policies_for_user,
)
from rolecall.errors import AccessDenied, AwsError, MalformedPolicyDocument
from rolecall.policy import Request, evaluate
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    UnmodifiableEntity,
)
from rolecall.services.iam.policy_documents import document_size

from .conftest import ACCOUNT

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str = "s3:GetObject", resource: str = "*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decoded(text: str) -> str:
    return urllib.parse.unquote(text)


def policy_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def padded(size: int) -> str:
    """A valid document of exactly `size` non-whitespace characters."""
    base = doc(allow(resource="arn:aws:s3:::"))
    filler = size - document_size(base)
    assert filler >= 0
    return doc(allow(resource="arn:aws:s3:::" + "x" * filler))


@pytest.fixture
def role(call):
    call("CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST)
    return "app"


@pytest.fixture
def user(call):
    call("CreateUser", UserName="alice")
    return "alice"


# ---------------------------------------------------------------- inline policies


@pytest.mark.parametrize(
    ("kind", "create"),
    [
        ("User", {"op": "CreateUser", "UserName": "e1"}),
        ("Group", {"op": "CreateGroup", "GroupName": "e1"}),
        ("Role", {"op": "CreateRole", "RoleName": "e1", "AssumeRolePolicyDocument": TRUST}),
    ],
)
def test_inline_policy_lifecycle(call, kind, create):
    create = dict(create)
    call(create.pop("op"), **create)
    name_member = f"{kind}Name"
    text = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/*"))
    call(f"Put{kind}Policy", **{name_member: "e1"}, PolicyName="read", PolicyDocument=text)
    call(f"Put{kind}Policy", **{name_member: "e1"}, PolicyName="another", PolicyDocument=doc(allow()))

    got = call(f"Get{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    assert got[name_member] == "e1" and got["PolicyName"] == "read"
    assert got["PolicyDocument"] != text  # leaves URL-encoded, as IAM sends it
    assert json.loads(decoded(got["PolicyDocument"])) == json.loads(text)

    listed = call(f"List{kind}Policies", **{name_member: "e1"})
    assert listed["PolicyNames"] == ["another", "read"] and listed["IsTruncated"] is False
    page = call(f"List{kind}Policies", **{name_member: "e1"}, MaxItems=1)
    assert page["PolicyNames"] == ["another"] and page["IsTruncated"] is True
    rest = call(f"List{kind}Policies", **{name_member: "e1"}, MaxItems=1, Marker=page["Marker"])
    assert rest["PolicyNames"] == ["read"] and rest["IsTruncated"] is False

    # Putting again under the same name replaces the document.
    call(
        f"Put{kind}Policy",
        **{name_member: "e1"},
        PolicyName="read",
        PolicyDocument=doc(allow("s3:PutObject")),
    )
    again = call(f"Get{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    assert "s3:PutObject" in decoded(again["PolicyDocument"])

    call(f"Delete{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    with pytest.raises(NoSuchEntity, match=f"The {kind.lower()} policy with name read cannot be found."):
        call(f"Get{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    with pytest.raises(NoSuchEntity):
        call(f"Delete{kind}Policy", **{name_member: "e1"}, PolicyName="read")
    assert call(f"List{kind}Policies", **{name_member: "e1"})["PolicyNames"] == ["another"]


def test_inline_policy_on_missing_entity(call):
    with pytest.raises(NoSuchEntity, match="The role with name ghost cannot be found."):
        call("PutRolePolicy", RoleName="ghost", PolicyName="p", PolicyDocument=doc(allow()))
    with pytest.raises(NoSuchEntity, match="The user with name ghost cannot be found."):
        call("ListUserPolicies", UserName="ghost")


def test_malformed_inline_policy_uses_the_engines_message(call, role):
    with pytest.raises(MalformedPolicyDocument) as err:
        call("PutRolePolicy", RoleName=role, PolicyName="p", PolicyDocument='{"Version": "2012-10-17"')
    assert err.value.message == "Syntax errors in policy."
    with pytest.raises(MalformedPolicyDocument):
        call(
            "PutRolePolicy",
            RoleName=role,
            PolicyName="p",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
            ),
        )
    assert call("ListRolePolicies", RoleName=role)["PolicyNames"] == []


@pytest.mark.parametrize(
    ("kind", "quota", "create"),
    [
        ("role", 10240, {"op": "CreateRole", "RoleName": "big", "AssumeRolePolicyDocument": TRUST}),
        ("user", 2048, {"op": "CreateUser", "UserName": "big"}),
        ("group", 5120, {"op": "CreateGroup", "GroupName": "big"}),
    ],
)
def test_inline_policies_share_one_size_quota(call, kind, quota, create):
    create = dict(create)
    call(create.pop("op"), **create)
    put = f"Put{kind.capitalize()}Policy"
    name = {f"{kind.capitalize()}Name": "big"}
    half = quota // 2
    call(put, **name, PolicyName="first", PolicyDocument=padded(half))
    # Whitespace does not count: the same document pretty-printed still fits exactly.
    exact = json.dumps(json.loads(padded(quota - half)), indent=4)
    call(put, **name, PolicyName="second", PolicyDocument=exact)
    with pytest.raises(LimitExceeded) as err:
        call(put, **name, PolicyName="third", PolicyDocument=doc(allow()))
    assert err.value.message == f"Maximum policy size of {quota} bytes exceeded for {kind} big"
    # Replacing a policy counts its new size, not old + new.
    call(put, **name, PolicyName="second", PolicyDocument=padded(quota - half))


def test_service_linked_role_policies_are_unmodifiable(call):
    out = call("CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com")
    name = out["Role"]["RoleName"]
    with pytest.raises(UnmodifiableEntity):
        call("PutRolePolicy", RoleName=name, PolicyName="p", PolicyDocument=doc(allow()))
    with pytest.raises(UnmodifiableEntity):
        call("AttachRolePolicy", RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(UnmodifiableEntity):
        call("DetachRolePolicy", RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")


# ---------------------------------------------------------------- customer managed policies


def test_create_and_get_policy(call, iam_env):
    out = call(
        "CreatePolicy",
        PolicyName="reader",
        Path="/team/",
        PolicyDocument=doc(allow()),
        Description="read things",
        Tags=[{"Key": "env", "Value": "dev"}],
    )["Policy"]
    arn = policy_arn("reader", "/team/")
    assert out["Arn"] == arn and out["Path"] == "/team/" and out["DefaultVersionId"] == "v1"
    assert out["PolicyId"].startswith("ANPA") and len(out["PolicyId"]) == 21
    assert out["AttachmentCount"] == 0 and out["IsAttachable"] is True
    assert out["CreateDate"] == out["UpdateDate"] == "2027-01-15T08:00:00Z"

    got = call("GetPolicy", PolicyArn=arn)["Policy"]
    assert got["PolicyId"] == out["PolicyId"] and got["Description"] == "read things"
    assert got["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert got["PermissionsBoundaryUsageCount"] == 0

    with pytest.raises(EntityAlreadyExists, match="A policy called READER already exists. Duplicate names"):
        call("CreatePolicy", PolicyName="READER", PolicyDocument=doc(allow()))
    with pytest.raises(NoSuchEntity, match=f"Policy {policy_arn('reader')} was not found."):
        call("GetPolicy", PolicyArn=policy_arn("reader"))  # right name, wrong path
    with pytest.raises(InvalidInput, match="ARN not-an-arn-at-all-really is not valid."):
        call("GetPolicy", PolicyArn="not-an-arn-at-all-really")


def test_managed_policy_size_and_version_rules(call):
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for PolicySize: 6144"):
        call("CreatePolicy", PolicyName="big", PolicyDocument=padded(6145))
    call("CreatePolicy", PolicyName="big", PolicyDocument=json.dumps(json.loads(padded(6144)), indent=2))
    # A managed policy needs Version 2012-10-17; an inline one does not.
    no_version = json.dumps({"Statement": [allow()]})
    with pytest.raises(MalformedPolicyDocument):
        call("CreatePolicy", PolicyName="old", PolicyDocument=no_version)
    call("CreateUser", UserName="u")
    call("PutUserPolicy", UserName="u", PolicyName="old", PolicyDocument=no_version)


def test_policy_versions_lifecycle(call, iam_env):
    arn = call("CreatePolicy", PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    iam_env.clock.advance(60)
    v2 = call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:PutObject")))[
        "PolicyVersion"
    ]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is False
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["UpdateDate"] == "2027-01-15T08:01:00Z"
    v3 = call(
        "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:ListBucket")), SetAsDefault=True
    )
    assert v3["PolicyVersion"]["IsDefaultVersion"] is True
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    got = call("GetPolicyVersion", PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert "s3:PutObject" in decoded(got["Document"]) and got["IsDefaultVersion"] is False
    versions = call("ListPolicyVersions", PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [True, False, False]

    with pytest.raises(DeleteConflict, match="Cannot delete the default version of a policy."):
        call("DeletePolicyVersion", PolicyArn=arn, VersionId="v3")
    with pytest.raises(NoSuchEntity):
        call("DeletePolicyVersion", PolicyArn=arn, VersionId="v9")
    with pytest.raises(NoSuchEntity):
        call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v9")

    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:A")))
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:B")))
    with pytest.raises(LimitExceeded) as err:
        call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:C")))
    assert err.value.message == (
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
    )
    call("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    # Version numbers are never reused.
    v6 = call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:C")))["PolicyVersion"]
    assert v6["VersionId"] == "v6"
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v2")
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"

    with pytest.raises(DeleteConflict, match="This policy has more than one version."):
        call("DeletePolicy", PolicyArn=arn)
    for version in ("v3", "v4", "v5", "v6"):
        call("DeletePolicyVersion", PolicyArn=arn, VersionId=version)
    call("DeletePolicy", PolicyArn=arn)
    with pytest.raises(NoSuchEntity):
        call("GetPolicy", PolicyArn=arn)


def test_the_default_version_is_what_applies(call, iam_env, role):
    arn = call("CreatePolicy", PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    call("AttachRolePolicy", RoleName=role, PolicyArn=arn)
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:PutObject")))

    def allowed(action: str) -> bool:
        with iam_env.store.transaction() as tx:
            identity, boundary = policies_for_role(tx, ACCOUNT, tx.get(ACCOUNT, "role", role))
        return evaluate(
            Request(action=action, resource="arn:aws:s3:::b/k"), identity=identity, boundary=boundary
        ).allowed

    assert allowed("s3:GetObject") and not allowed("s3:PutObject")
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v2")
    assert allowed("s3:PutObject") and not allowed("s3:GetObject")


def test_policy_tags(call):
    arn = call("CreatePolicy", PolicyName="p", PolicyDocument=doc(allow()))["Policy"]["Arn"]
    call("TagPolicy", PolicyArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    call("TagPolicy", PolicyArn=arn, Tags=[{"Key": "A", "Value": "3"}])
    assert call("ListPolicyTags", PolicyArn=arn)["Tags"] == [
        {"Key": "A", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    call("UntagPolicy", PolicyArn=arn, TagKeys=["b", "missing"])
    assert call("ListPolicyTags", PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "3"}]
    with pytest.raises(LimitExceeded, match="TagsPerPolicy: 50"):
        call("TagPolicy", PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])


# ---------------------------------------------------------------- attachments


def test_attach_detach_and_list(call, role, user):
    arn = call("CreatePolicy", PolicyName="mine", Path="/x/", PolicyDocument=doc(allow()))["Policy"]["Arn"]
    aws = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    call("CreateGroup", GroupName="devs")
    for kind, name in (("Role", role), ("User", user), ("Group", "devs")):
        call(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
        call(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=aws)
        call(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)  # again: no change
        listed = call(f"ListAttached{kind}Policies", **{f"{kind}Name": name})["AttachedPolicies"]
        assert listed == [
            {"PolicyName": "mine", "PolicyArn": arn},
            {"PolicyName": "ReadOnlyAccess", "PolicyArn": aws},
        ]
        only_x = call(f"ListAttached{kind}Policies", **{f"{kind}Name": name}, PathPrefix="/x/")[
            "AttachedPolicies"
        ]
        assert only_x == [{"PolicyName": "mine", "PolicyArn": arn}]

    assert call("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert call("GetPolicy", PolicyArn=aws)["Policy"]["AttachmentCount"] == 3
    with pytest.raises(DeleteConflict, match="Cannot delete a policy attached to entities."):
        call("DeletePolicy", PolicyArn=arn)

    entities = call("ListEntitiesForPolicy", PolicyArn=arn)
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["devs"]
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["alice"]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["app"]
    assert entities["PolicyRoles"][0]["RoleId"].startswith("AROA")
    roles_only = call("ListEntitiesForPolicy", PolicyArn=arn, EntityFilter="Role")
    assert roles_only["PolicyUsers"] == [] and len(roles_only["PolicyRoles"]) == 1
    paged = call("ListEntitiesForPolicy", PolicyArn=arn, MaxItems=2)
    assert paged["IsTruncated"] is True
    rest = call("ListEntitiesForPolicy", PolicyArn=arn, MaxItems=2, Marker=paged["Marker"])
    assert len(paged["PolicyGroups"] + paged["PolicyUsers"] + rest["PolicyRoles"]) == 3

    for kind, name in (("Role", role), ("User", user), ("Group", "devs")):
        call(f"Detach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
        with pytest.raises(NoSuchEntity, match=f"Policy {arn} was not found."):
            call(f"Detach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    call("DeletePolicy", PolicyArn=arn)


def test_attach_errors_and_quota(call, role):
    missing = policy_arn("nope")
    with pytest.raises(NoSuchEntity) as err:
        call("AttachRolePolicy", RoleName=role, PolicyArn=missing)
    assert err.value.message == f"Policy {missing} does not exist or is not attachable."
    with pytest.raises(NoSuchEntity, match="The role with name ghost cannot be found."):
        call("AttachRolePolicy", RoleName="ghost", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(AwsError) as err:
        call(
            "AttachRolePolicy",
            RoleName=role,
            PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy",
        )
    assert err.value.code == "PolicyNotAttachable"

    for i in range(10):
        arn = call("CreatePolicy", PolicyName=f"p{i}", PolicyDocument=doc(allow()))["Policy"]["Arn"]
        call("AttachRolePolicy", RoleName=role, PolicyArn=arn)
    with pytest.raises(LimitExceeded) as err:
        call("AttachRolePolicy", RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert err.value.message == "Cannot exceed quota for PoliciesPerRole: 10"
    call("CreateUser", UserName="u")
    for i in range(10):
        call("AttachUserPolicy", UserName="u", PolicyArn=policy_arn(f"p{i}"))
    with pytest.raises(LimitExceeded, match="PoliciesPerUser: 10"):
        call("AttachUserPolicy", UserName="u", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")


def test_boundary_usage_counts_and_blocks_delete(call, role):
    arn = call("CreatePolicy", PolicyName="fence", PolicyDocument=doc(allow()))["Policy"]["Arn"]
    call("PutRolePermissionsBoundary", RoleName=role, PermissionsBoundary=arn)
    got = call("GetPolicy", PolicyArn=arn)["Policy"]
    assert got["PermissionsBoundaryUsageCount"] == 1 and got["AttachmentCount"] == 0
    with pytest.raises(DeleteConflict):
        call("DeletePolicy", PolicyArn=arn)
    as_boundary = call("ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [r["RoleName"] for r in as_boundary["PolicyRoles"]] == [role]
    as_policy = call("ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")
    assert as_policy["PolicyRoles"] == []
    listed = call("ListPolicies", Scope="Local", PolicyUsageFilter="PermissionsBoundary")["Policies"]
    assert [p["PolicyName"] for p in listed] == ["fence"]


def test_list_policies_scopes_and_pages(call, role):
    call("CreatePolicy", PolicyName="zeta", PolicyDocument=doc(allow()))
    call("CreatePolicy", PolicyName="alpha", Path="/team/", PolicyDocument=doc(allow()))
    local = call("ListPolicies", Scope="Local")
    assert [p["PolicyName"] for p in local["Policies"]] == ["alpha", "zeta"]
    assert "Tags" not in local["Policies"][0]  # listings carry no tags
    assert [
        p["PolicyName"] for p in call("ListPolicies", Scope="Local", PathPrefix="/team/")["Policies"]
    ] == ["alpha"]

    aws_total = len(list_aws_managed_policies())
    assert aws_total > 1000
    first = call("ListPolicies", Scope="AWS")
    assert len(first["Policies"]) == 100 and first["IsTruncated"] is True
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in first["Policies"])
    seen, marker = 0, None
    while True:
        page = call("ListPolicies", MaxItems=1000, **({"Marker": marker} if marker else {}))
        seen += len(page["Policies"])
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
        assert len(marker) <= 320
    assert seen == aws_total + 2

    call("AttachRolePolicy", RoleName=role, PolicyArn=policy_arn("zeta"))
    call("AttachRolePolicy", RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    attached = call("ListPolicies", OnlyAttached=True)["Policies"]
    assert [p["PolicyName"] for p in attached] == ["AdministratorAccess", "zeta"]
    assert all(p["AttachmentCount"] == 1 for p in attached)


# ---------------------------------------------------------------- AWS managed policies


AWS_REQUIRED = [
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "IAMFullAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "CloudWatchLogsFullAccess",
    "AmazonEC2ReadOnlyAccess",
    "AWSLambda_FullAccess",
    "AmazonSSMManagedInstanceCore",
    "service-role/AWSLambdaBasicExecutionRole",
    "service-role/AWSLambdaVPCAccessExecutionRole",
]


@pytest.mark.parametrize("name", AWS_REQUIRED)
def test_aws_managed_policies_are_present_and_compile(call, name):
    arn = f"arn:aws:iam::aws:policy/{name}"
    record = aws_managed_policy(arn)
    assert record is not None and record["Arn"] == arn
    assert record["PolicyName"] == name.rsplit("/", 1)[-1]
    assert record["PolicyId"] == policy_id_for(record["PolicyName"]) and len(record["PolicyId"]) == 21
    policy = compiled(record["Document"], "identity", arn)
    assert policy.version == "2012-10-17" and policy.statements
    got = call("GetPolicy", PolicyArn=arn)["Policy"]
    assert got["Arn"] == arn and got["DefaultVersionId"] == record["DefaultVersionId"]
    version = call("GetPolicyVersion", PolicyArn=arn, VersionId=record["DefaultVersionId"])["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    assert json.loads(decoded(version["Document"])) == json.loads(record["Document"])


def _aws_allows(name: str, action: str, resource: str = "*") -> bool:
    arn = f"arn:aws:iam::aws:policy/{name}"
    policy = compiled(aws_managed_policy(arn)["Document"], "identity", arn)
    return evaluate(Request(action=action, resource=resource), identity=[policy]).allowed


def test_aws_managed_documents_are_the_real_ones():
    assert _aws_allows("AdministratorAccess", "iam:CreateRole")
    assert _aws_allows("AdministratorAccess", "anything:AtAll", "arn:aws:s3:::b")
    assert _aws_allows("AmazonS3ReadOnlyAccess", "s3:GetObject", "arn:aws:s3:::b/k")
    assert _aws_allows("AmazonS3ReadOnlyAccess", "s3:ListBucket", "arn:aws:s3:::b")
    assert not _aws_allows("AmazonS3ReadOnlyAccess", "s3:PutObject", "arn:aws:s3:::b/k")
    assert _aws_allows("service-role/AWSLambdaBasicExecutionRole", "logs:PutLogEvents")
    assert not _aws_allows("service-role/AWSLambdaBasicExecutionRole", "s3:GetObject")
    assert _aws_allows("PowerUserAccess", "ec2:RunInstances")
    assert not _aws_allows("PowerUserAccess", "iam:CreateUser")  # PowerUser excludes IAM (NotAction)
    assert _aws_allows("ReadOnlyAccess", "ec2:DescribeInstances")
    assert not _aws_allows("ReadOnlyAccess", "ec2:TerminateInstances")


def test_every_aws_managed_policy_compiles():
    for record in list_aws_managed_policies():
        full = aws_managed_policy(record["Arn"])
        compiled(full["Document"], "identity", record["Arn"])


def test_aws_managed_policies_answer_for_their_older_versions(call):
    arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    policy = call("GetPolicy", PolicyArn=arn)["Policy"]
    versions = call("ListPolicyVersions", PolicyArn=arn)["Versions"]
    assert (
        [v["VersionId"] for v in versions]
        == ["v3", "v2", "v1"]
        == [v["VersionId"] for v in aws_managed_policy_versions(arn)]
    )
    assert [v["IsDefaultVersion"] for v in versions] == [True, False, False]
    dates = [v["CreateDate"] for v in versions]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == policy["UpdateDate"] and dates[-1] == policy["CreateDate"]

    v1 = call("GetPolicyVersion", PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["IsDefaultVersion"] is False
    assert json.loads(decoded(v1["Document"])) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
    }
    v2 = json.loads(
        decoded(call("GetPolicyVersion", PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"])
    )
    assert "s3-object-lambda:Get*" in v2["Statement"][0]["Action"]
    assert "s3:Describe*" not in v2["Statement"][0]["Action"]  # v3 added it
    with pytest.raises(NoSuchEntity):
        call("GetPolicyVersion", PolicyArn=arn, VersionId="v4")
    # Authorization reads the default version only.
    assert _aws_allows("AmazonS3ReadOnlyAccess", "s3:DescribeJob")


def test_aws_managed_policy_versions_page_like_aws(call):
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    default = call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
    listed, marker = [], None
    while True:
        page = call("ListPolicyVersions", PolicyArn=arn, **({"Marker": marker} if marker else {}))
        listed += page["Versions"]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    numbers = [int(v["VersionId"][1:]) for v in listed]
    assert (
        len(listed) > 100 and numbers == sorted(numbers, reverse=True) and len(set(numbers)) == len(numbers)
    )
    assert listed[0]["VersionId"] == default and [v["IsDefaultVersion"] for v in listed].count(True) == 1
    oldest = call("GetPolicyVersion", PolicyArn=arn, VersionId=listed[-1]["VersionId"])["PolicyVersion"]
    newest = call("GetPolicyVersion", PolicyArn=arn, VersionId=default)["PolicyVersion"]
    assert json.loads(decoded(oldest["Document"])) != json.loads(decoded(newest["Document"]))
    # GetAccountAuthorizationDetails keeps to the default version of an AWS managed policy.
    call("CreateUser", UserName="reader")
    call("AttachUserPolicy", UserName="reader", PolicyArn=arn)
    (detail,) = call("GetAccountAuthorizationDetails", Filter=["AWSManagedPolicy"])["Policies"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in detail["PolicyVersionList"]] == [(default, True)]


def test_every_aws_managed_policy_version_is_a_policy_document():
    total = 0
    for record in list_aws_managed_policies():
        versions = aws_managed_policy_versions(record["Arn"])
        assert versions[0]["VersionId"] == record["DefaultVersionId"]
        assert versions[0]["Document"] == aws_managed_policy(record["Arn"])["Document"]
        numbers = [int(v["VersionId"][1:]) for v in versions]
        assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) == len(numbers)
        dates = [v["CreateDate"] for v in versions]
        assert dates == sorted(dates, reverse=True) and dates[0] == record["UpdateDate"]
        for version in versions:
            document = json.loads(version["Document"])
            assert list(document)[0] == "Version" and document["Statement"]
        total += len(versions)
    assert total > 2 * len(list_aws_managed_policies())  # older versions are there, not just defaults


def test_aws_managed_policies_are_read_only(call):
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    for op, extra in (
        ("DeletePolicy", {}),
        ("CreatePolicyVersion", {"PolicyDocument": doc(allow())}),
        ("TagPolicy", {"Tags": [{"Key": "a", "Value": "b"}]}),
    ):
        with pytest.raises(AccessDenied):
            call(op, PolicyArn=arn, **extra)
    assert aws_managed_policy("arn:aws:iam::aws:policy/NoSuchPolicyAtAll") is None


# ---------------------------------------------------------------- what the pipeline reads


def test_policies_for_user_gathers_user_and_group_policies(call, iam_env, user):
    call("PutUserPolicy", UserName=user, PolicyName="own", PolicyDocument=doc(allow("s3:GetObject")))
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName=user)
    call("PutGroupPolicy", GroupName="devs", PolicyName="grp", PolicyDocument=doc(allow("sqs:SendMessage")))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    call("AttachUserPolicy", UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    fence = call("CreatePolicy", PolicyName="fence", PolicyDocument=doc(allow("s3:*"), allow("ec2:*")))[
        "Policy"
    ]
    call("PutUserPermissionsBoundary", UserName=user, PermissionsBoundary=fence["Arn"])

    with iam_env.store.transaction() as tx:
        identity, boundary = policies_for_user(tx, ACCOUNT, tx.get(ACCOUNT, "user", user))
        assert managed_policy_exists(tx, ACCOUNT, fence["Arn"])
        assert not managed_policy_exists(tx, ACCOUNT, policy_arn("nope"))
        assert managed_policy_exists(tx, ACCOUNT, "arn:aws:iam::aws:policy/AdministratorAccess")
        assert '"s3:*"' in managed_policy_document(tx, ACCOUNT, fence["Arn"])
    names = [p.name for p in identity]
    assert names == [
        "user/alice inline policy own",
        "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
        "group/devs inline policy grp",
    ]  # the managed policy reached twice counts once
    assert boundary is not None and boundary.name == fence["Arn"]

    def decide(action: str):
        return evaluate(Request(action=action, resource="*"), identity=identity, boundary=boundary)

    assert decide("s3:GetObject").allowed and decide("ec2:DescribeInstances").allowed
    sqs = decide("sqs:SendMessage")  # granted by the group, outside the boundary
    assert not sqs.allowed and sqs.denied_by == "boundary"


# ---------------------------------------------------------------- the account snapshot


def test_get_account_authorization_details(call, role, user):
    arn = call("CreatePolicy", PolicyName="mine", PolicyDocument=doc(allow()))["Policy"]["Arn"]
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:PutObject")), SetAsDefault=True)
    call("AttachRolePolicy", RoleName=role, PolicyArn=arn)
    call("AttachUserPolicy", UserName=user, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    call("PutRolePolicy", RoleName=role, PolicyName="inline", PolicyDocument=doc(allow()))
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName=user)
    call("CreateInstanceProfile", InstanceProfileName="prof")
    call("AddRoleToInstanceProfile", InstanceProfileName="prof", RoleName=role)

    out = call("GetAccountAuthorizationDetails")
    assert out["IsTruncated"] is False
    (u,) = out["UserDetailList"]
    assert u["UserName"] == user and u["GroupList"] == ["devs"]
    assert u["AttachedManagedPolicies"] == [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    ]
    (r,) = out["RoleDetailList"]
    assert r["RolePolicyList"][0]["PolicyName"] == "inline"
    assert json.loads(decoded(r["RolePolicyList"][0]["PolicyDocument"])) == json.loads(doc(allow()))
    assert [p["InstanceProfileName"] for p in r["InstanceProfileList"]] == ["prof"]
    assert [g["GroupName"] for g in out["GroupDetailList"]] == ["devs"]
    # Customer policies, and only the AWS managed policies this account uses.
    names = [p["PolicyName"] for p in out["Policies"]]
    assert names == ["mine", "ReadOnlyAccess"]
    mine = out["Policies"][0]
    assert [v["VersionId"] for v in mine["PolicyVersionList"]] == ["v1", "v2"]
    assert [v["IsDefaultVersion"] for v in mine["PolicyVersionList"]] == [False, True]

    only_roles = call("GetAccountAuthorizationDetails", Filter=["Role"])
    assert (
        only_roles["UserDetailList"] == []
        and only_roles["Policies"] == []
        and len(only_roles["RoleDetailList"]) == 1
    )
    page = call("GetAccountAuthorizationDetails", MaxItems=2)
    assert page["IsTruncated"] is True
    rest = call("GetAccountAuthorizationDetails", MaxItems=100, Marker=page["Marker"])
    total = sum(
        len(page[k]) + len(rest[k])
        for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
    )
    assert total == 5
