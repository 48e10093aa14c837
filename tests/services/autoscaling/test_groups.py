"""Auto Scaling groups in process: the service-linked role created on first use, instances launched and
terminated by the service through it (with the template's instance profile), scaling up and down, the
caller's iam:PassRole at create/update, validation, and the trail of the service's launches."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow
from tests.services.ec2.conftest import AMI, EC2_TRUST

SLR = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/web"
ZONES = ["us-east-1a"]


def asg(env, op: str, caller=None, **params):
    return env.invoke("autoscaling", op, caller=caller, **params)


def ec2(env, op: str, **params):
    return env.invoke("ec2", op, **params)


@pytest.fixture
def template(env) -> str:
    env.call("CreateRole", RoleName="web", AssumeRolePolicyDocument=EC2_TRUST)
    env.call("CreateInstanceProfile", InstanceProfileName="web")
    env.call("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="web")
    data = {"ImageId": AMI, "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": "web"}}
    return ec2(env, "CreateLaunchTemplate", LaunchTemplateName="web", LaunchTemplateData=data)[
        "LaunchTemplate"
    ]["LaunchTemplateId"]


def members(env, name: str = "web") -> list[str]:
    (group,) = asg(env, "DescribeAutoScalingGroups", AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return [i["InstanceId"] for i in group["Instances"]]


def running(env, ids: list[str]) -> dict[str, str]:
    found = ec2(env, "DescribeInstances", InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def test_a_group_launches_and_scales_its_instances_through_the_service_linked_role(env, template):
    spec = {"LaunchTemplateId": template, "Version": "$Latest"}
    asg(env, "CreateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate=spec, MinSize=1, MaxSize=4,
        DesiredCapacity=2, AvailabilityZones=ZONES)  # fmt: skip
    role = env.call("GetRole", RoleName="AWSServiceRoleForAutoScaling")["Role"]
    assert role["Arn"] == SLR  # created on first use
    attached = env.call("ListAttachedRolePolicies", RoleName="AWSServiceRoleForAutoScaling")[
        "AttachedPolicies"
    ]
    assert [p["PolicyName"] for p in attached] == ["AutoScalingServiceRolePolicy"]
    ids = members(env)
    assert len(ids) == 2 and set(running(env, ids).values()) == {"running"}
    reservation = ec2(env, "DescribeInstances", InstanceIds=ids[:1])["Reservations"][0]["Instances"][0]
    assert reservation["IamInstanceProfile"]["Arn"].endswith(":instance-profile/web")
    (group,) = asg(env, "DescribeAutoScalingGroups")["AutoScalingGroups"]
    assert (group["DesiredCapacity"], group["ServiceLinkedRoleARN"]) == (2, SLR)
    assert group["LaunchTemplate"] == {
        "LaunchTemplateId": template,
        "LaunchTemplateName": "web",
        "Version": "$Latest",
    }

    # The launches were the service's: RunInstances by the role's AutoScaling session.
    (launch,) = [r for r in env.trail("RunInstances") if r["userIdentity"]["type"] == "AssumedRole"]
    assert (
        launch["userIdentity"]["arn"]
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"
    )
    assert launch["userIdentity"]["invokedBy"] == "autoscaling.amazonaws.com"
    assert launch.get("errorCode") is None

    asg(env, "SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=4)
    assert len(members(env)) == 4
    asg(env, "UpdateAutoScalingGroup", AutoScalingGroupName="web", MaxSize=1)  # desired follows the bound
    (kept,) = members(env)
    assert running(env, ids)[ids[0]] == "running" and kept == ids[0]
    details = asg(env, "DescribeAutoScalingInstances", InstanceIds=[kept])["AutoScalingInstances"]
    assert details[0]["AutoScalingGroupName"] == "web" and details[0]["LifecycleState"] == "InService"

    activity = asg(
        env, "TerminateInstanceInAutoScalingGroup", InstanceId=kept, ShouldDecrementDesiredCapacity=False
    )
    assert activity["Activity"]["Description"] == f"Terminating EC2 instance: {kept}"
    (replacement,) = members(env)
    assert replacement != kept and running(env, [kept]) == {kept: "terminated"}

    with pytest.raises(AwsError) as busy:
        asg(env, "DeleteAutoScalingGroup", AutoScalingGroupName="web")
    assert busy.value.code == "ResourceInUse"
    asg(env, "DeleteAutoScalingGroup", AutoScalingGroupName="web", ForceDelete=True)
    assert asg(env, "DescribeAutoScalingGroups")["AutoScalingGroups"] == []
    assert running(env, [replacement]) == {replacement: "terminated"}


def test_bad_groups_are_refused(env, template):
    spec = {"LaunchTemplateId": template}
    cases = [
        (dict(MinSize=2, MaxSize=1, AvailabilityZones=ZONES, LaunchTemplate=spec),
         "Max bound, 1, must be greater than or equal to min bound, 2"),
        (dict(MinSize=1, MaxSize=2, DesiredCapacity=3, AvailabilityZones=ZONES, LaunchTemplate=spec),
         "Desired capacity:3 must be between the specified min size:1 and max size:2"),
        (dict(MinSize=1, MaxSize=2, AvailabilityZones=ZONES),
         "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or "
         "MixedInstancesPolicy parameter."),
        (dict(MinSize=1, MaxSize=2, LaunchTemplate=spec), "At least one Availability Zone or VPC Subnet is required."),
    ]  # fmt: skip
    for params, message in cases:
        with pytest.raises(AwsError) as bad:
            asg(env, "CreateAutoScalingGroup", AutoScalingGroupName="bad", **params)
        assert (bad.value.code, bad.value.message) == ("ValidationError", message)
    asg(env, "CreateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate=spec, MinSize=0, MaxSize=2,
        AvailabilityZones=ZONES)  # fmt: skip
    with pytest.raises(AwsError) as above:
        asg(env, "SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=3)
    assert (
        above.value.message == "New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup."
    )
    with pytest.raises(AwsError) as exists:
        asg(env, "CreateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate=spec, MinSize=0, MaxSize=2,
            AvailabilityZones=ZONES)  # fmt: skip
    assert exists.value.code == "AlreadyExists"
    asg(env, "DeleteAutoScalingGroup", AutoScalingGroupName="web")


def test_a_caller_without_pass_role_cannot_create_or_update_a_group(env, template):
    """Creating or updating a group with a template hands its role to EC2: the caller needs iam:PassRole."""
    spec = {"LaunchTemplateId": template}
    can_all_but_pass = [
        allow(["autoscaling:*", "ec2:RunInstances", "ec2:Describe*"]),
        allow("iam:CreateServiceLinkedRole", "*"),
    ]
    dev = env.user("dev", *can_all_but_pass)
    err = env.denied(dev, "autoscaling", "CreateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate=spec,
                     MinSize=1, MaxSize=1, AvailabilityZones=ZONES)  # fmt: skip
    assert err.code == "AccessDenied"
    assert f"is not authorized to perform: iam:PassRole on resource: {ROLE_ARN}" in err.message
    assert asg(env, "DescribeAutoScalingGroups")["AutoScalingGroups"] == []
    assert ec2(env, "DescribeInstances")["Reservations"] == []

    asg(env, "CreateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate=spec, MinSize=0, MaxSize=2,
        AvailabilityZones=ZONES)  # fmt: skip
    err = env.denied(
        dev, "autoscaling", "UpdateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate=spec
    )
    assert "iam:PassRole" in err.message
    # Sizes alone pass no role.
    asg(env, "SetDesiredCapacity", caller=dev, AutoScalingGroupName="web", DesiredCapacity=1)
    assert len(members(env)) == 1
    viewer = env.user("viewer", allow("ec2:Describe*"))
    for op, params in [
        ("DescribeAutoScalingGroups", {}),
        ("DescribeAutoScalingInstances", {}),
        ("SetDesiredCapacity", dict(AutoScalingGroupName="web", DesiredCapacity=0)),
        (
            "TerminateInstanceInAutoScalingGroup",
            dict(InstanceId=members(env)[0], ShouldDecrementDesiredCapacity=True),
        ),
        ("DeleteAutoScalingGroup", dict(AutoScalingGroupName="web", ForceDelete=True)),
    ]:
        refused = env.denied(viewer, "autoscaling", op, **params)
        assert refused.code == "AccessDenied" and f"autoscaling:{op}" in refused.message, op


def test_without_its_service_linked_role_the_service_launches_nothing_and_the_trail_says_why(env, template):
    asg(env, "CreateAutoScalingGroup", AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0, MaxSize=2, AvailabilityZones=ZONES)  # fmt: skip
    env.call("DeleteServiceLinkedRole", RoleName="AWSServiceRoleForAutoScaling")
    asg(env, "SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    assert members(env) == []
    refused = [r for r in env.trail("AssumeRole") if r.get("errorCode")]
    assert refused and refused[0]["userIdentity"] == {
        "type": "AWSService",
        "invokedBy": "autoscaling.amazonaws.com",
    }
    assert refused[0]["requestParameters"]["roleArn"] == SLR
