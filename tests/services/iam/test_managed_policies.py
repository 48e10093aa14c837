"""The policy half of IAM, in process: inline policies, customer managed policies and their versions,
attachments, AWS managed policies and the account authorization snapshot."""

from __future__ import annotations

import json

import pytest

from rolecall.authz.managed import (
    aws_managed_policy,
    aws_managed_policy_versions,
    list_aws_managed_policies,
    policy_id_for,
)
from rolecall.authz.principals import (
    compiled,
    policies_for_role,
)
from rolecall.errors import AccessDenied, AwsError, MalformedPolicyDocument
from rolecall.policy import Request, evaluate
from rolecall.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, decoded, doc, no_allow, padded, policy_arn

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


def test_attachments_belong_to_each_entity(call, role, user):
    call("CreateGroup", GroupName="devs")
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    call("AttachUserPolicy", UserName=user, PolicyArn=arn)
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    call("AttachRolePolicy", RoleName=role, PolicyArn=arn)
    expected = [{"PolicyName": "ReadOnlyAccess", "PolicyArn": arn}]
    assert call("ListAttachedUserPolicies", UserName=user)["AttachedPolicies"] == expected
    assert call("ListAttachedGroupPolicies", GroupName="devs")["AttachedPolicies"] == expected
    assert call("ListAttachedRolePolicies", RoleName=role)["AttachedPolicies"] == expected
    call("DetachUserPolicy", UserName=user, PolicyArn=arn)
    assert call("ListAttachedUserPolicies", UserName=user)["AttachedPolicies"] == []
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    call("DetachGroupPolicy", GroupName="devs", PolicyArn=arn)
    assert call("ListAttachedGroupPolicies", GroupName="devs")["AttachedPolicies"] == []
    assert call("ListAttachedRolePolicies", RoleName=role)["AttachedPolicies"] == expected


def test_attaching_may_be_limited_to_some_policies(iam_env, call, role):
    # iam:PolicyARN names the policy being attached: this user may hand out read-only access only.
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    only = {"ArnEquals": {"iam:PolicyARN": read_only}}
    ops = ["iam:AttachRolePolicy", "iam:AttachGroupPolicy"]
    granter = iam_env.user("granter", allow(ops, "*", Condition=only))
    call("AttachRolePolicy", caller=granter, RoleName=role, PolicyArn=read_only)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    err = iam_env.denied(granter, "iam", "AttachRolePolicy", RoleName=role, PolicyArn=admin)
    assert isinstance(err, AccessDenied)
    assert err.message == no_allow("granter", "iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{role}")
    assert [p["PolicyArn"] for p in call("ListAttachedRolePolicies", RoleName=role)["AttachedPolicies"]] == [
        read_only
    ]
    err = iam_env.denied(granter, "iam", "CreatePolicy", PolicyName="mine", PolicyDocument=doc(allow()))
    assert err.message == no_allow("granter", "iam:CreatePolicy", policy_arn("mine"))
