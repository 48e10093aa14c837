"""EC2 instance profile associations in process, through the authorizer: associate, describe, replace and
disassociate, one association per instance, and the iam:PassRole each change of role needs."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow
from tests.services.ec2.conftest import AMI, EC2_TRUST


def ec2(env, op: str, caller=None, **params):
    return env.invoke("ec2", op, caller=caller, **params)


def associations(env, iid: str) -> dict[str, str]:
    found = ec2(
        env, "DescribeIamInstanceProfileAssociations", Filters=[{"Name": "instance-id", "Values": [iid]}]
    )
    return {a["AssociationId"]: a["State"] for a in found["IamInstanceProfileAssociations"]}


@pytest.fixture
def instance(env) -> str:
    return ec2(env, "RunInstances", ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def test_associate_replace_and_disassociate(env, profile, instance):
    env.call("CreateRole", RoleName="batch", AssumeRolePolicyDocument=EC2_TRUST)
    env.call("CreateInstanceProfile", InstanceProfileName="batch")
    env.call("AddRoleToInstanceProfile", InstanceProfileName="batch", RoleName="batch")

    first = ec2(env, "AssociateIamInstanceProfile", InstanceId=instance, IamInstanceProfile={"Name": "web"})
    first = first["IamInstanceProfileAssociation"]
    assert first["State"] == "associating" and first["AssociationId"].startswith("iip-assoc-")
    assert associations(env, instance) == {first["AssociationId"]: "associated"}
    with pytest.raises(AwsError) as again:
        ec2(env, "AssociateIamInstanceProfile", InstanceId=instance, IamInstanceProfile={"Name": "batch"})
    assert (again.value.code, again.value.message) == (
        "IncorrectState",
        f"There is an existing association for instance {instance}",
    )

    second = ec2(
        env,
        "ReplaceIamInstanceProfileAssociation",
        AssociationId=first["AssociationId"],
        IamInstanceProfile={"Name": "batch"},
    )["IamInstanceProfileAssociation"]
    assert second["IamInstanceProfile"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/batch"
    assert associations(env, instance) == {
        first["AssociationId"]: "disassociated",
        second["AssociationId"]: "associated",
    }

    gone = ec2(env, "DisassociateIamInstanceProfile", AssociationId=second["AssociationId"])
    assert gone["IamInstanceProfileAssociation"]["State"] == "disassociating"
    shown = ec2(env, "DescribeInstances", InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert "IamInstanceProfile" not in shown
    with pytest.raises(AwsError) as unknown:
        ec2(env, "DisassociateIamInstanceProfile", AssociationId=second["AssociationId"])
    assert unknown.value.code == "InvalidAssociationID.NotFound"


def test_associating_a_role_needs_pass_role_and_the_instance(env, profile, instance):
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/web"
    operator = env.user("operator", allow("ec2:*"))
    err = env.denied(
        operator,
        "ec2",
        "AssociateIamInstanceProfile",
        InstanceId=instance,
        IamInstanceProfile={"Name": "web"},
    )
    assert err.code == "UnauthorizedOperation"
    assert (
        f"User: arn:aws:iam::{ACCOUNT}:user/operator is not authorized to perform: iam:PassRole on resource: "
        f"{role_arn} because no identity-based policy allows the iam:PassRole action" in err.message
    )
    assert associations(env, instance) == {}

    # Allowed to pass the role but not to touch this instance: refused on the instance's ARN.
    env.user_caller("operator", allow("iam:PassRole", role_arn), allow("ec2:Describe*"))
    err = env.denied(
        env.user_caller("operator"),
        "ec2",
        "AssociateIamInstanceProfile",
        InstanceId=instance,
        IamInstanceProfile={"Name": "web"},
    )
    assert (
        f"ec2:AssociateIamInstanceProfile on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}"
        in (err.message)
    )
    assert ec2(env, "DescribeIamInstanceProfileAssociations", caller=env.user_caller("operator")) == {
        "IamInstanceProfileAssociations": []
    }
