"""The IAM policy simulator, in process: decisions, matched statements with their positions, missing
context values, boundaries, resource policies, typed context entries and the context-key listings."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AccessDenied
from rolecall.services.iam import IAM, simulator
from rolecall.services.iam.common import _encode_marker
from rolecall.services.iam.errors import InvalidInput, NoSuchEntity
from tests.services.conftest import ACCOUNT

# The AWS CLI's documented example (awscli/examples/iam/simulate-custom-policy.rst).
CLI_EXAMPLE = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)


def stmt(effect: str, action: str, resource: str = "*", **extra) -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def when(key: str, value: str, op: str = "StringEquals") -> dict:
    return {"Condition": {op: {key: value}}}


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


# ---------------------------------------------------------------- SimulateCustomPolicy


def test_cli_example_allowed_with_statement_positions(call):
    out = call(
        "SimulateCustomPolicy",
        PolicyInputList=[CLI_EXAMPLE],
        ActionNames=["dynamodb:CreateBackup"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:CurrentTime",
                "ContextKeyValues": ["2019-04-25T11:00:00Z"],
                "ContextKeyType": "date",
            }
        ],
    )
    assert out["IsTruncated"] is False
    (result,) = out["EvaluationResults"]
    assert result["EvalActionName"] == "dynamodb:CreateBackup"
    assert result["EvalResourceName"] == "*"
    assert result["EvalDecision"] == "allowed"
    assert result["MissingContextValues"] == []
    assert "ResourceSpecificResults" not in result
    # The positions AWS's own example reports for this document.
    assert result["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "none",
            "StartPosition": {"Line": 1, "Column": 38},
            "EndPosition": {"Line": 1, "Column": 167},
        }
    ]


def test_cli_example_denied_by_condition(call):
    out = call(
        "SimulateCustomPolicy",
        PolicyInputList=[CLI_EXAMPLE],
        ActionNames=["dynamodb:CreateBackup"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:CurrentTime",
                "ContextKeyValues": ["2014-04-25T11:00:00Z"],
                "ContextKeyType": "date",
            }
        ],
    )
    (result,) = out["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["MatchedStatements"] == [] and result["MissingContextValues"] == []


def test_missing_context_values_are_reported(call):
    out = call("SimulateCustomPolicy", PolicyInputList=[CLI_EXAMPLE], ActionNames=["dynamodb:CreateBackup"])
    (result,) = out["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["MissingContextValues"] == ["aws:CurrentTime"]


def test_explicit_deny_reports_only_the_deny(call):
    policy = doc(stmt("Allow", "s3:*"), stmt("Deny", "s3:DeleteBucket", Sid="NoDelete"))
    out = call(
        "SimulateCustomPolicy", PolicyInputList=[policy], ActionNames=["s3:DeleteBucket", "s3:GetObject"]
    )
    deny, get = out["EvaluationResults"]
    assert deny["EvalDecision"] == "explicitDeny"
    assert len(deny["MatchedStatements"]) == 1
    # The second statement of the indented document: it opens on line 9 (after the first statement).
    assert deny["MatchedStatements"][0]["StartPosition"]["Line"] == 9
    assert get["EvalDecision"] == "allowed"
    assert get["MatchedStatements"][0]["StartPosition"] == {"Line": 4, "Column": 10}


def test_named_resources_get_resource_specific_results(call):
    policy = doc(stmt("Allow", "s3:GetObject", "arn:aws:s3:::open/*", **when("s3:prefix", "x")))
    out = call(
        "SimulateCustomPolicy",
        PolicyInputList=[policy],
        ActionNames=["s3:GetObject"],
        ResourceArns=["arn:aws:s3:::open/a", "arn:aws:s3:::closed/a"],
    )
    first, second = out["EvaluationResults"]
    assert first["EvalResourceName"] == "arn:aws:s3:::open/a"
    assert first["MissingContextValues"] == []  # reported per resource instead
    (specific,) = first["ResourceSpecificResults"]
    assert specific["EvalResourceName"] == "arn:aws:s3:::open/a"
    assert specific["EvalResourceDecision"] == "implicitDeny"
    assert specific["MissingContextValues"] == ["s3:prefix"]
    assert second["ResourceSpecificResults"][0]["MissingContextValues"] == []


def test_simulated_boundary(call):
    out = call(
        "SimulateCustomPolicy",
        PolicyInputList=[doc(stmt("Allow", "*"))],
        PermissionsBoundaryPolicyInputList=[doc(stmt("Allow", "s3:*"))],
        ActionNames=["s3:GetObject", "ec2:RunInstances"],
    )
    s3, ec2 = out["EvaluationResults"]
    assert s3["EvalDecision"] == "allowed"
    assert s3["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert ec2["EvalDecision"] == "implicitDeny"
    assert ec2["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    with pytest.raises(InvalidInput):
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc(stmt("Allow", "*"))],
            PermissionsBoundaryPolicyInputList=[doc(stmt("Allow", "s3:*"))] * 2,
            ActionNames=["s3:GetObject"],
        )


def test_resource_policy_grants_the_caller(call):
    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": user_arn("bob")},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ],
        }
    )
    params = {
        "PolicyInputList": [doc(stmt("Allow", "sqs:*"))],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::b/k"],
        "ResourcePolicy": bucket_policy,
    }
    with pytest.raises(InvalidInput, match="CallerArn"):
        call("SimulateCustomPolicy", **params)
    with pytest.raises(InvalidInput):
        call("SimulateCustomPolicy", **params, CallerArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s")
    (result,) = call("SimulateCustomPolicy", **params, CallerArn=user_arn("bob"))["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    (other,) = call("SimulateCustomPolicy", **params, CallerArn=user_arn("carol"))["EvaluationResults"]
    assert other["EvalDecision"] == "implicitDeny"


@pytest.mark.parametrize(
    ("entry", "condition", "decision"),
    [
        (
            {"ContextKeyValues": ["5"], "ContextKeyType": "numeric"},
            {"NumericLessThan": {"test:key": "10"}},
            "allowed",
        ),
        (
            {"ContextKeyValues": ["TRUE"], "ContextKeyType": "boolean"},
            {"Bool": {"test:key": "true"}},
            "allowed",
        ),
        (
            {"ContextKeyValues": ["10.0.0.7"], "ContextKeyType": "ip"},
            {"IpAddress": {"test:key": "10.0.0.0/8"}},
            "allowed",
        ),
        (
            {"ContextKeyValues": ["a", "b"], "ContextKeyType": "stringList"},
            {"ForAllValues:StringEquals": {"test:key": ["a", "b", "c"]}},
            "allowed",
        ),
        (
            {"ContextKeyValues": ["a", "z"], "ContextKeyType": "stringList"},
            {"ForAllValues:StringEquals": {"test:key": ["a", "b", "c"]}},
            "implicitDeny",
        ),
    ],
)
def test_typed_context_entries(call, entry, condition, decision):
    out = call(
        "SimulateCustomPolicy",
        PolicyInputList=[doc(stmt("Allow", "s3:GetObject", Condition=condition))],
        ActionNames=["s3:GetObject"],
        ContextEntries=[{"ContextKeyName": "test:key", **entry}],
    )
    assert out["EvaluationResults"][0]["EvalDecision"] == decision


@pytest.mark.parametrize(
    "entry",
    [
        {"ContextKeyValues": ["ten"], "ContextKeyType": "numeric"},
        {"ContextKeyValues": ["yes"], "ContextKeyType": "boolean"},
        {"ContextKeyValues": ["10.0.0.300"], "ContextKeyType": "ipList"},
    ],
)
def test_badly_typed_context_values_are_refused(call, entry):
    with pytest.raises(InvalidInput):
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc(stmt("Allow", "*"))],
            ActionNames=["s3:GetObject"],
            ContextEntries=[{"ContextKeyName": "test:key", **entry}],
        )


def test_custom_policy_input_errors(call):
    with pytest.raises(InvalidInput, match="PolicyInputList.2"):
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc(stmt("Allow", "*")), "{nope"],
            ActionNames=["s3:GetObject"],
        )
    with pytest.raises(InvalidInput, match="wildcards"):
        call("SimulateCustomPolicy", PolicyInputList=[doc(stmt("Allow", "*"))], ActionNames=["s3:*"])


def test_results_paginate(call):
    actions = [f"s3:Action{i}" for i in range(5)]
    first = call(
        "SimulateCustomPolicy", PolicyInputList=[doc(stmt("Allow", "s3:*"))], ActionNames=actions, MaxItems=2
    )
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == actions[:2] and first["IsTruncated"]
    rest = call(
        "SimulateCustomPolicy",
        PolicyInputList=[doc(stmt("Allow", "s3:*"))],
        ActionNames=actions,
        MaxItems=10,
        Marker=first["Marker"],
    )
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == actions[2:] and not rest["IsTruncated"]


# ---------------------------------------------------------------- SimulatePrincipalPolicy


@pytest.fixture
def alice(call):
    """alice: an inline policy, a group with an inline policy, an AWS managed and a customer managed
    policy, and a permissions boundary that leaves out SQS."""
    call("CreateUser", UserName="alice")
    call(
        "PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=doc(stmt("Allow", "s3:GetObject"))
    )
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    call("PutGroupPolicy", GroupName="devs", PolicyName="queues", PolicyDocument=doc(stmt("Allow", "sqs:*")))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    mine = call("CreatePolicy", PolicyName="no-delete", PolicyDocument=doc(stmt("Deny", "s3:DeleteObject")))
    call("AttachUserPolicy", UserName="alice", PolicyArn=mine["Policy"]["Arn"])
    fence = call(
        "CreatePolicy", PolicyName="fence", PolicyDocument=doc(stmt("Allow", "s3:*"), stmt("Allow", "ec2:*"))
    )
    call("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=fence["Policy"]["Arn"])
    return user_arn("alice")


def _by_action(out: dict) -> dict[str, dict]:
    return {r["EvalActionName"]: r for r in out["EvaluationResults"]}


def test_principal_policy_for_a_user(call, alice):
    out = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=alice,
        ActionNames=[
            "s3:GetObject",
            "ec2:DescribeInstances",
            "sqs:SendMessage",
            "s3:DeleteObject",
            "iam:CreateRole",
        ],
    )
    results = _by_action(out)
    get = results["s3:GetObject"]
    assert get["EvalDecision"] == "allowed"
    assert get["MatchedStatements"][0]["SourcePolicyId"] == "own"
    assert get["MatchedStatements"][0]["SourcePolicyType"] == "user"
    assert get["MatchedStatements"][0]["StartPosition"] == {"Line": 4, "Column": 10}
    assert get["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}

    describe = results["ec2:DescribeInstances"]
    assert describe["EvalDecision"] == "allowed"
    assert {
        "SourcePolicyId": "AmazonEC2ReadOnlyAccess",
        "SourcePolicyType": "aws-managed",
    }.items() <= describe["MatchedStatements"][0].items()

    queue = results["sqs:SendMessage"]  # the group allows it; the boundary does not
    assert queue["EvalDecision"] == "implicitDeny"
    assert queue["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}

    delete = results["s3:DeleteObject"]
    assert delete["EvalDecision"] == "explicitDeny"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in delete["MatchedStatements"]] == [
        ("no-delete", "user-managed")
    ]
    assert results["iam:CreateRole"]["EvalDecision"] == "implicitDeny"


def test_principal_policy_with_added_and_replacing_inputs(call, alice):
    out = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=alice,
        PolicyInputList=[doc(stmt("Allow", "sns:Publish"))],
        PermissionsBoundaryPolicyInputList=[doc(stmt("Allow", "sns:*"), stmt("Allow", "sqs:*"))],
        ActionNames=["sns:Publish", "sqs:SendMessage", "s3:GetObject"],
    )
    results = _by_action(out)
    assert results["sns:Publish"]["EvalDecision"] == "allowed"
    assert results["sns:Publish"]["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    assert (
        results["sqs:SendMessage"]["EvalDecision"] == "allowed"
    )  # the simulated boundary replaced the real one
    assert results["s3:GetObject"]["EvalDecision"] == "implicitDeny"


def test_principal_policy_for_a_group_and_a_role(call, alice):
    group = _by_action(
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:group/devs",
            ActionNames=["sqs:SendMessage", "s3:GetObject"],
        )
    )
    assert group["sqs:SendMessage"]["EvalDecision"] == "allowed"
    assert group["sqs:SendMessage"]["MatchedStatements"][0]["SourcePolicyType"] == "group"
    assert "PermissionsBoundaryDecisionDetail" not in group["sqs:SendMessage"]
    assert group["s3:GetObject"]["EvalDecision"] == "implicitDeny"

    role = call("CreateRole", RoleName="worker", Path="/svc/", AssumeRolePolicyDocument=TRUST)["Role"]
    call("PutRolePolicy", RoleName="worker", PolicyName="logs", PolicyDocument=doc(stmt("Allow", "logs:*")))
    (result,) = call(
        "SimulatePrincipalPolicy", PolicySourceArn=role["Arn"], ActionNames=["logs:PutLogEvents"]
    )["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "logs"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "role"
    with pytest.raises(NoSuchEntity):  # right name, wrong path
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/worker",
            ActionNames=["s3:A"],
        )
    with pytest.raises(InvalidInput, match="CallerArn"):
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=role["Arn"],
            ActionNames=["s3:GetObject"],
            ResourcePolicy=doc(stmt("Allow", "s3:*", Principal="*")),
        )


def test_principal_policy_errors(call):
    with pytest.raises(NoSuchEntity, match="The user with name ghost cannot be found."):
        call("SimulatePrincipalPolicy", PolicySourceArn=user_arn("ghost"), ActionNames=["s3:GetObject"])
    with pytest.raises(InvalidInput):
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
            ActionNames=["s3:GetObject"],
        )


# ---------------------------------------------------------------- PolicyExclusionList

ALICE_ACTIONS = ["s3:GetObject", "ec2:DescribeInstances", "s3:DeleteObject", "sqs:SendMessage"]


def _excluding(call, alice, *identifiers: dict, actions: list[str] = ALICE_ACTIONS) -> dict[str, str]:
    out = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=alice,
        ActionNames=actions,
        PolicyExclusionList=list(identifiers),
    )
    return {action: result["EvalDecision"] for action, result in _by_action(out).items()}


def test_nothing_excluded(call, alice):
    assert _excluding(call, alice) == {
        "s3:GetObject": "allowed",
        "ec2:DescribeInstances": "allowed",
        "s3:DeleteObject": "explicitDeny",
        "sqs:SendMessage": "implicitDeny",
    }


@pytest.mark.parametrize(
    ("identifier", "changed"),
    [
        # Every inline policy: alice's own (s3:GetObject) and her group's (sqs:*).
        ({"PolicyType": "inline"}, {"s3:GetObject": "implicitDeny"}),
        ({"PolicyType": "aws-managed"}, {"ec2:DescribeInstances": "implicitDeny"}),
        ({"PolicyType": "user-managed"}, {"s3:DeleteObject": "implicitDeny"}),
        # Without its boundary, the group's sqs:* allows; the boundary's detail goes with it.
        ({"PolicyType": "permission-boundary"}, {"sqs:SendMessage": "allowed"}),
        ({"PolicyType": "scp"}, {}),  # rolecall has no Organizations: no SCP applies to alice
        ({"PolicyType": "rcp"}, {}),  # documented as ignored in this release
        (
            {"PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"},
            {"ec2:DescribeInstances": "implicitDeny"},
        ),
        ({"PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2*"}, {"ec2:DescribeInstances": "implicitDeny"}),
        (
            {"PolicyArn": "arn:aws:iam::aws:policy/AmazonEC?ReadOnlyAcce??"},
            {"ec2:DescribeInstances": "implicitDeny"},
        ),
        ({"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/no-delete"}, {"s3:DeleteObject": "implicitDeny"}),
        ({"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/*"}, {"s3:DeleteObject": "implicitDeny"}),
        # A PolicyArn names attached policies: the boundary (fence) is not one of them.
        ({"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/fence"}, {}),
        ({"PolicyArn": "arn:aws:iam::aws:policy/AmazonS3*"}, {}),  # matches nothing: ignored
        ({"PolicyArn": "arn:aws:iam::210987654321:policy/no-delete"}, {}),  # another account's
        (
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "own",
                    "AttachmentType": "user",
                    "AttachmentName": "alice",
                }
            },
            {"s3:GetObject": "implicitDeny"},
        ),
        (
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "own",
                    "AttachmentType": "user",
                    "AttachmentName": "a*e",
                }
            },
            {"s3:GetObject": "implicitDeny"},
        ),
        (
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "own",
                    "AttachmentType": "user",
                    "AttachmentName": "?lic?",
                }
            },
            {"s3:GetObject": "implicitDeny"},
        ),
        # The right name on the wrong kind of entity, or another entity: nothing.
        (
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "own",
                    "AttachmentType": "group",
                    "AttachmentName": "alice",
                }
            },
            {},
        ),
        (
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "own",
                    "AttachmentType": "user",
                    "AttachmentName": "bob",
                }
            },
            {},
        ),
        (
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "own",
                    "AttachmentType": "user",
                    "AttachmentName": "alic",
                }
            },
            {},
        ),
    ],
)
def test_policy_exclusions(call, alice, identifier, changed):
    expected = _excluding(call, alice) | changed
    assert _excluding(call, alice, identifier) == expected


def test_excluding_the_group_inline_policy_and_the_boundary(call, alice):
    group_queue = {
        "InlinePolicyIdentifier": {
            "PolicyName": "queues",
            "AttachmentType": "group",
            "AttachmentName": "dev?",
        }
    }
    out = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=alice,
        ActionNames=["sqs:SendMessage"],
        PolicyExclusionList=[{"PolicyType": "permission-boundary"}, group_queue],
    )
    (result,) = out["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert "PermissionsBoundaryDecisionDetail" not in result  # no boundary was simulated


def test_exclusions_leave_input_policies_alone(call, alice):
    out = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=alice,
        PolicyInputList=[doc(stmt("Allow", "s3:GetObject"))],
        PermissionsBoundaryPolicyInputList=[doc(stmt("Allow", "s3:*"))],
        ActionNames=["s3:GetObject"],
        PolicyExclusionList=[{"PolicyType": "inline"}, {"PolicyType": "permission-boundary"}],
    )
    (result,) = out["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    assert result["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}


@pytest.mark.parametrize(
    "identifier",
    [
        {"PolicyArn": "arn:aws:iam::aws:policy/*EC2*"},  # two *
        {"PolicyArn": "arn:aws:iam::*:policy/no-delete"},  # a wildcard outside the resource part
        {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:role/no-delete"},  # not a policy
        {"PolicyArn": f"arn:aws:s3::{ACCOUNT}:policy/no-delete"},  # not IAM
        {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/"},  # no name
        {"PolicyArn": "not-an-arn-of-any-kind"},
        {"InlinePolicyIdentifier": {"PolicyName": "own", "AttachmentType": "user", "AttachmentName": "*a*"}},
        {
            "InlinePolicyIdentifier": {
                "PolicyName": "own",
                "AttachmentType": "user",
                "AttachmentName": "al ice",
            }
        },
    ],
)
def test_malformed_exclusions_are_invalid_input(call, alice, identifier):
    with pytest.raises(InvalidInput, match=r"Invalid PolicyExclusionList\.2\."):
        call(
            "SimulatePrincipalPolicy",
            PolicySourceArn=alice,
            ActionNames=["s3:GetObject"],
            PolicyExclusionList=[{"PolicyType": "inline"}, identifier],
        )


# ---------------------------------------------------------------- OrderedOrganizationPolicyInputList

FULL_ACCESS = doc(stmt("Allow", "*"))


def _organization(call, *levels: list[str], actions: list[str]) -> dict[str, dict]:
    return _by_action(
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc(stmt("Allow", "s3:*"), stmt("Allow", "ec2:*"))],
            OrderedOrganizationPolicyInputList=[{"ServiceControlPolicyInputList": level} for level in levels],
            ActionNames=actions,
        )
    )


def test_scp_levels_limit_what_identity_policies_allow(call):
    results = _organization(
        call,
        [FULL_ACCESS],  # root
        [doc(stmt("Allow", "s3:*")), doc(stmt("Allow", "ec2:Describe*"))],  # OU: two SCPs
        [FULL_ACCESS, doc(stmt("Deny", "s3:DeleteObject"))],  # account
        actions=["s3:GetObject", "ec2:DescribeInstances", "ec2:RunInstances", "s3:DeleteObject"],
    )
    assert results["s3:GetObject"]["EvalDecision"] == "allowed"
    assert results["s3:GetObject"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}
    # An SCP allow is not what allowed it: only the identity policy's statement is reported.
    assert [m["SourcePolicyId"] for m in results["s3:GetObject"]["MatchedStatements"]] == [
        "PolicyInputList.1"
    ]
    assert results["ec2:DescribeInstances"]["EvalDecision"] == "allowed"
    assert results["ec2:RunInstances"]["EvalDecision"] == "implicitDeny"  # the OU allows no ec2:RunInstances
    assert results["ec2:RunInstances"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}
    delete = results["s3:DeleteObject"]
    assert delete["EvalDecision"] == "explicitDeny"
    assert delete["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}
    assert [m["SourcePolicyId"] for m in delete["MatchedStatements"]] == [
        "OrderedOrganizationPolicyInputList.3.ServiceControlPolicyInputList.2"
    ]


def test_scps_allowing_is_reported_even_when_identity_denies(call):
    results = _by_action(
        call(
            "SimulateCustomPolicy",
            PolicyInputList=[doc(stmt("Deny", "s3:*"))],
            OrderedOrganizationPolicyInputList=[{"ServiceControlPolicyInputList": [FULL_ACCESS]}],
            ActionNames=["s3:GetObject"],
        )
    )
    assert results["s3:GetObject"]["EvalDecision"] == "explicitDeny"
    assert results["s3:GetObject"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}


def test_without_scps_there_is_no_organizations_detail(call):
    (result,) = call("SimulateCustomPolicy", PolicyInputList=[FULL_ACCESS], ActionNames=["s3:GetObject"])[
        "EvaluationResults"
    ]
    assert "OrganizationsDecisionDetail" not in result


def test_malformed_scp_is_invalid_input(call):
    with pytest.raises(
        InvalidInput, match=r"OrderedOrganizationPolicyInputList\.1\.ServiceControlPolicyInputList\.1"
    ):
        _organization(call, ["not json"], actions=["s3:GetObject"])


def test_simulation_authorization_is_declared():
    iam = IAM()
    auth = iam.handler("SimulatePrincipalPolicy").authorization
    assert auth.action == "iam:SimulatePrincipalPolicy"
    assert auth.resource(None, {"PolicySourceArn": user_arn("x")}) == user_arn("x")
    custom = iam.handler("SimulateCustomPolicy").authorization
    assert custom.action == "iam:SimulateCustomPolicy" and custom.resource == "*"
    assert iam.handler("SimulateCustomPolicy").read_only is True


# ---------------------------------------------------------------- context keys


def test_context_keys_for_custom_policy(call):
    # The AWS CLI's documented example for get-context-keys-for-custom-policy.
    policy = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
        '"Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",'
        '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}'
    )
    out = call("GetContextKeysForCustomPolicy", PolicyInputList=[policy])
    assert out["ContextKeyNames"] == ["aws:username", "aws:CurrentTime"]
    # Version 2008-10-17 has no policy variables: ${...} there is literal text.
    old = policy.replace("2012-10-17", "2008-10-17")
    assert call("GetContextKeysForCustomPolicy", PolicyInputList=[old])["ContextKeyNames"] == [
        "aws:CurrentTime"
    ]
    with pytest.raises(InvalidInput):
        call("GetContextKeysForCustomPolicy", PolicyInputList=["not json"])


def test_context_keys_for_principal_policy(call):
    call("CreateUser", UserName="saanvi")
    call(
        "PutUserPolicy",
        UserName="saanvi",
        PolicyName="p",
        PolicyDocument=doc(
            stmt(
                "Allow",
                "s3:*",
                "arn:aws:s3:::home/${aws:username}/*",
                **when("aws:SourceIp", "1.2.3.4", "IpAddress"),
            )
        ),
    )
    call("CreateGroup", GroupName="g")
    call("AddUserToGroup", GroupName="g", UserName="saanvi")
    call(
        "PutGroupPolicy",
        GroupName="g",
        PolicyName="q",
        PolicyDocument=doc(
            stmt("Allow", "ec2:*", **when("aws:RequestedRegion", "eu-west-1")),
            stmt("Allow", "s3:*", **when("AWS:SOURCEIP", "1.1.1.1", "IpAddress")),
        ),
    )
    out = call(
        "GetContextKeysForPrincipalPolicy",
        PolicySourceArn=user_arn("saanvi"),
        PolicyInputList=[doc(stmt("Allow", "sns:*", **when("aws:PrincipalTag/team", "a")))],
    )
    assert out["ContextKeyNames"] == [
        "aws:username",
        "aws:SourceIp",
        "aws:RequestedRegion",
        "aws:PrincipalTag/team",
    ]


def test_simulating_needs_the_simulator_actions(iam_env, call):
    call("CreateUser", UserName="alice")
    alice = user_arn("alice")
    tester = iam_env.user(
        "tester", {"Effect": "Allow", "Action": "iam:SimulateCustomPolicy", "Resource": "*"}
    )
    out = call(
        "SimulateCustomPolicy",
        caller=tester,
        PolicyInputList=[doc(stmt("Allow", "s3:*"))],
        ActionNames=["s3:GetObject"],
    )
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    # Simulating a principal's policies is authorized on that principal.
    err = iam_env.denied(
        tester, "iam", "SimulatePrincipalPolicy", PolicySourceArn=alice, ActionNames=["s3:GetObject"]
    )
    assert isinstance(err, AccessDenied) and err.message == (
        f"User: {user_arn('tester')} is not authorized to perform: iam:SimulatePrincipalPolicy on resource: "
        f"{alice} because no identity-based policy allows the iam:SimulatePrincipalPolicy action"
    )
    err = iam_env.denied(tester, "iam", "GetContextKeysForPrincipalPolicy", PolicySourceArn=alice)
    assert f"iam:GetContextKeysForPrincipalPolicy on resource: {alice} because" in err.message
    err = iam_env.denied(tester, "iam", "GetContextKeysForCustomPolicy", PolicyInputList=[CLI_EXAMPLE])
    assert "iam:GetContextKeysForCustomPolicy on resource: * because" in err.message


POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


def test_only_the_requested_page_is_simulated(call, monkeypatch):
    evaluated: list[tuple[str, str]] = []
    real = simulator._Simulation.result

    def counting(self, action, resource, per_resource):
        evaluated.append((action, resource))
        return real(self, action, resource, per_resource)

    monkeypatch.setattr(simulator._Simulation, "result", counting)
    actions = [f"s3:Action{i}" for i in range(300)] + ["s3:GetObject"]
    resources = [f"arn:aws:s3:::bucket/key{i}" for i in range(300)]
    first = call(
        "SimulateCustomPolicy",
        PolicyInputList=[POLICY],
        ActionNames=actions,
        ResourceArns=resources,
        MaxItems=5,
    )
    assert len(first["EvaluationResults"]) == 5 and first["IsTruncated"]
    assert len(evaluated) == 5
    assert [r["EvalResourceName"] for r in first["EvaluationResults"]] == resources[:5]

    # The last page holds the allowed action; a marker takes the walk there without computing the rest.
    evaluated.clear()
    last = call(
        "SimulateCustomPolicy",
        PolicyInputList=[POLICY],
        ActionNames=actions,
        ResourceArns=resources,
        MaxItems=1000,
        Marker=_marker_at(300 * 300),
    )
    assert len(evaluated) == 300 and not last["IsTruncated"]
    assert {r["EvalActionName"] for r in last["EvaluationResults"]} == {"s3:GetObject"}
    assert {r["EvalDecision"] for r in last["EvaluationResults"]} == {"allowed"}


def _marker_at(offset: int) -> str:
    """The marker the server issues after `offset` results (walking there page by page would compute them)."""
    return _encode_marker({"offset": offset})
