"""A role EC2 may assume, in an instance profile of the same name, for the EC2 unit tests."""

from __future__ import annotations

import json

import pytest

AMI = "ami-0123456789abcdef0"
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture
def profile(env) -> dict:
    env.call("CreateRole", RoleName="web", AssumeRolePolicyDocument=EC2_TRUST)
    created = env.call("CreateInstanceProfile", InstanceProfileName="web")["InstanceProfile"]
    env.call("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="web")
    return created
