"""Launch templates against a real server with boto3 and the AWS CLI: an instance launched from a template
gets its instance profile and metadata options, and its metadata endpoint serves the role's credentials."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ec2.helpers import (
    AMI,
    as_user,
    client_with,
    code,
    doc,
    instance_credentials,
    make_profile,
    make_user,
)


def test_a_template_launches_instances_with_its_role(srv):
    ec2 = srv.client("ec2")
    role, profile = make_profile(
        srv, doc({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"})
    )
    name = f"lt-{uuid.uuid4().hex[:8]}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": AMI,
            "InstanceType": "t3.micro",
            "IamInstanceProfile": {"Arn": profile["Arn"]},
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
        },
    )["LaunchTemplate"]
    tid = template["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=tid, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.small"}
    )
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=tid)["LaunchTemplateVersions"]
    assert [(v["VersionNumber"], v["LaunchTemplateData"]["InstanceType"]) for v in versions] == [
        (2, "t3.small"),
        (1, "t3.micro"),
    ]
    assert (
        ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]["LatestVersionNumber"]
        == 2
    )
    instance = ec2.run_instances(
        MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": name, "Version": "2"}
    )["Instances"][0]
    assert instance["InstanceType"] == "t3.small"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    creds = instance_credentials(srv, instance["InstanceId"])
    who = client_with(srv, "sts", creds).get_caller_identity()
    assert who["Arn"].endswith(f":assumed-role/{role['RoleName']}/{instance['InstanceId']}")
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.delete_launch_template(LaunchTemplateId=tid)
    with pytest.raises(ClientError) as gone:
        ec2.describe_launch_template_versions(LaunchTemplateId=tid)
    assert code(gone) == "InvalidLaunchTemplateId.NotFound"


def test_the_cli_manages_templates_and_a_launch_needs_pass_role(srv):
    if srv.database_url:
        pytest.skip(
            "the CLI's requests are the client tests' on another codec path; the store is not in question"
        )
    role, profile = make_profile(srv)
    name = f"lt-{uuid.uuid4().hex[:8]}"
    data = json.dumps({"ImageId": AMI, "IamInstanceProfile": {"Name": profile["InstanceProfileName"]}})
    created = json.loads(
        srv.cli(
            "ec2", "create-launch-template", "--launch-template-name", name, "--launch-template-data", data
        ).stdout
    )
    tid = created["LaunchTemplate"]["LaunchTemplateId"]
    srv.cli(
        "ec2", "create-launch-template-version", "--launch-template-id", tid, "--launch-template-data", data
    )
    listed = json.loads(srv.cli("ec2", "describe-launch-templates", "--launch-template-ids", tid).stdout)
    assert listed["LaunchTemplates"][0]["LaunchTemplateName"] == name
    shown = json.loads(
        srv.cli("ec2", "describe-launch-template-versions", "--launch-template-name", name).stdout
    )
    assert len(shown["LaunchTemplateVersions"]) == 2
    # Without iam:PassRole on the template's role, launching from it is refused and launches nothing.
    key = make_user(
        srv, doc({"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:Describe*"], "Resource": "*"})
    )
    with pytest.raises(ClientError) as refused:
        as_user(srv, key).run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": tid})
    assert code(refused) == "UnauthorizedOperation"
    assert f"iam:PassRole on resource: {role['Arn']}" in refused.value.response["Error"]["Message"]
    srv.cli("ec2", "delete-launch-template", "--launch-template-id", tid)
