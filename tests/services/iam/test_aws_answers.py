"""Answers IAM words its own way: CreatePolicy without the Description, GetPolicy and GetInstanceProfile
with Tags [] when untagged, the trust-policy action check, Application Auto Scaling's custom-resource role."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import MalformedPolicyDocument
from tests.services.iam.helpers import raises

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def test_create_policy_leaves_the_description_out_and_get_policy_shows_it(call):
    created = call("CreatePolicy", PolicyName="p", PolicyDocument=POLICY, Description="what it is")["Policy"]
    assert "Description" not in created
    got = call("GetPolicy", PolicyArn=created["Arn"])["Policy"]
    assert (got["Description"], got["Tags"]) == ("what it is", [])


def test_get_instance_profile_says_tags_even_when_there_are_none(call):
    call("CreateInstanceProfile", InstanceProfileName="ip")
    assert call("GetInstanceProfile", InstanceProfileName="ip")["InstanceProfile"]["Tags"] == []
    call("TagInstanceProfile", InstanceProfileName="ip", Tags=[{"Key": "k", "Value": "v"}])
    assert call("GetInstanceProfile", InstanceProfileName="ip")["InstanceProfile"]["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]


@pytest.mark.parametrize("action", ["sts:BadAssumeRole", "sts:GetCallerIdentity", "sts:Get*", "s3:GetObject"])
def test_trust_policies_name_only_actions_sts_authorizes_against_them(call, action):
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": action}],
    }
    err = raises(
        MalformedPolicyDocument, call, "CreateRole", RoleName="r", AssumeRolePolicyDocument=json.dumps(trust)
    )
    assert err.message == "AssumeRole policy may only specify STS AssumeRole actions."


@pytest.mark.parametrize("action", ["sts:AssumeRole", "sts:TagSession", "sts:Assume*", "sts:*", "*"])
def test_trust_policy_actions_iam_accepts(call, action):
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": action}],
    }
    call("CreateRole", RoleName="r", AssumeRolePolicyDocument=json.dumps(trust))


def test_application_auto_scaling_custom_resource_role(call):
    role = call(
        "CreateServiceLinkedRole", AWSServiceName="custom-resource.application-autoscaling.amazonaws.com"
    )["Role"]
    assert role["RoleName"] == "AWSServiceRoleForApplicationAutoScaling_CustomResource"
    assert role["Path"] == "/aws-service-role/custom-resource.application-autoscaling.amazonaws.com/"
