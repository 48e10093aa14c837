"""EC2 instances in process, through the authorizer: launch with an instance profile, describe, the state
machine, metadata options, and EC2's encoded UnauthorizedOperation (for ec2:* and for iam:PassRole)."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow
from tests.services.ec2.conftest import AMI

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/web"


def ec2(env, op: str, caller=None, **params):
    return env.invoke("ec2", op, caller=caller, **params)


def launch(env, caller=None, **params) -> dict:
    return ec2(env, "RunInstances", caller, ImageId=AMI, MinCount=1, MaxCount=1, **params)["Instances"][0]


def state(env, iid: str) -> str:
    return ec2(env, "DescribeInstances", InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"][
        "Name"
    ]


def test_launch_with_a_profile_and_walk_the_states(env, profile):
    instance = launch(env, IamInstanceProfile={"Name": "web"})
    iid = instance["InstanceId"]
    assert instance["State"] == {"Code": 0, "Name": "pending"}
    assert instance["IamInstanceProfile"] == {"Arn": profile["Arn"], "Id": profile["InstanceProfileId"]}
    assert instance["MetadataOptions"]["HttpTokens"] == "optional"  # IMDSv1 allowed unless asked otherwise
    assert state(env, iid) == "running"
    stopping = ec2(env, "StopInstances", InstanceIds=[iid])["StoppingInstances"][0]
    assert (stopping["PreviousState"]["Name"], stopping["CurrentState"]["Name"]) == ("running", "stopping")
    assert state(env, iid) == "stopped"
    starting = ec2(env, "StartInstances", InstanceIds=[iid])["StartingInstances"][0]
    assert (starting["PreviousState"]["Name"], starting["CurrentState"]["Name"]) == ("stopped", "pending")
    terminating = ec2(env, "TerminateInstances", InstanceIds=[iid])["TerminatingInstances"][0]
    assert terminating["CurrentState"]["Name"] == "shutting-down"
    assert state(env, iid) == "terminated"
    with pytest.raises(AwsError) as over:
        ec2(env, "StartInstances", InstanceIds=[iid])
    assert over.value.code == "IncorrectInstanceState"


def test_metadata_options_change_and_apply(env):
    iid = launch(env)["InstanceId"]
    changed = ec2(env, "ModifyInstanceMetadataOptions", InstanceId=iid, HttpTokens="required")
    assert changed["InstanceId"] == iid
    assert (
        changed["InstanceMetadataOptions"]["HttpTokens"],
        changed["InstanceMetadataOptions"]["State"],
    ) == (
        "required",
        "pending",
    )
    shown = ec2(env, "DescribeInstances", InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert shown["MetadataOptions"]["HttpTokens"] == "required"


def test_instance_actions_are_authorized_on_the_instance_arn(env):
    mine, other = launch(env)["InstanceId"], launch(env)["InstanceId"]
    arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{mine}"
    operator = env.user("operator", allow(["ec2:StopInstances", "ec2:DescribeInstances"], arn))
    ec2(env, "StopInstances", caller=operator, InstanceIds=[mine])
    err = env.denied(operator, "ec2", "StopInstances", InstanceIds=[other])
    assert err.code == "UnauthorizedOperation" and err.status == 403
    assert err.message.startswith(
        f"You are not authorized to perform this operation. User: arn:aws:iam::{ACCOUNT}:user/operator is not "
        f"authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{other} "
        "because no identity-based policy allows the ec2:StopInstances action. Encoded authorization failure message: "
    )
    # Describing is account-wide (resource *): an ARN does not grant it.
    assert env.denied(operator, "ec2", "DescribeInstances").code == "UnauthorizedOperation"


def test_launching_with_a_role_needs_pass_role_for_ec2(env, profile):
    launcher = env.user("launcher", allow("ec2:*"))
    err = env.denied(
        launcher,
        "ec2",
        "RunInstances",
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": "web"},
    )
    assert err.code == "UnauthorizedOperation"
    assert f"is not authorized to perform: iam:PassRole on resource: {ROLE_ARN} because" in err.message
    encoded = err.message.split("Encoded authorization failure message: ")[1]
    decoded = json.loads(
        env.invoke("sts", "DecodeAuthorizationMessage", EncodedMessage=encoded)["DecodedMessage"]
    )
    assert decoded["context"]["action"] == "iam:PassRole" and decoded["context"]["resource"] == ROLE_ARN
    passed = [c for c in decoded["context"]["conditions"]["items"] if c["key"] == "iam:PassedToService"]
    assert passed[0]["values"]["items"] == [{"value": "ec2.amazonaws.com"}]
    assert ec2(env, "DescribeInstances", caller=launcher)["Reservations"] == []  # nothing was launched

    env.user_caller(
        "launcher",
        allow("ec2:*"),
        allow(
            "iam:PassRole", ROLE_ARN, Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        ),
    )
    allowed = env.user_caller("launcher")
    assert (
        launch(env, allowed, IamInstanceProfile={"Name": "web"})["IamInstanceProfile"]["Arn"]
        == profile["Arn"]
    )
