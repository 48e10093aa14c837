"""The policies that apply to a principal, as the authorizer gathers them (rolecall/authz/principals.py)."""

from __future__ import annotations

from rolecall.authz.principals import (
    managed_policy_document,
    managed_policy_exists,
    policies_for_user,
)
from rolecall.policy import Request, evaluate
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, doc, policy_arn


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
