"""EC2 launch templates in process: versions with an instance profile and metadata options, RunInstances
from a template (its role passed, and iam:PassRole checked, at launch), errors and refusals."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow
from tests.services.ec2.conftest import AMI

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/web"
DATA = {
    "ImageId": AMI,
    "InstanceType": "t3.micro",
    "IamInstanceProfile": {"Name": "web"},
    "MetadataOptions": {"HttpTokens": "required"},
}


def ec2(env, op: str, caller=None, **params):
    return env.invoke("ec2", op, caller=caller, **params)


def test_templates_and_versions_are_created_described_and_deleted(env, profile):
    template = ec2(env, "CreateLaunchTemplate", LaunchTemplateName="web", LaunchTemplateData=DATA)[
        "LaunchTemplate"
    ]
    tid = template["LaunchTemplateId"]
    assert tid.startswith("lt-") and (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (
        1,
        1,
    )
    assert template["CreatedBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    v2 = ec2(
        env, "CreateLaunchTemplateVersion", LaunchTemplateId=tid, SourceVersion="1",
        LaunchTemplateData={"InstanceType": "t3.small"}, VersionDescription="bigger",
    )["LaunchTemplateVersion"]  # fmt: skip
    assert v2["VersionNumber"] == 2 and not v2["DefaultVersion"]
    assert v2["LaunchTemplateData"]["InstanceType"] == "t3.small"
    assert v2["LaunchTemplateData"]["IamInstanceProfile"] == {"Name": "web"}  # from the source version
    versions = ec2(env, "DescribeLaunchTemplateVersions", LaunchTemplateName="web")["LaunchTemplateVersions"]
    assert [v["VersionNumber"] for v in versions] == [2, 1]
    latest = ec2(env, "DescribeLaunchTemplateVersions", LaunchTemplateId=tid, Versions=["$Latest"])
    assert latest["LaunchTemplateVersions"][0]["VersionNumber"] == 2
    (listed,) = ec2(env, "DescribeLaunchTemplates")["LaunchTemplates"]
    assert (listed["LaunchTemplateName"], listed["LatestVersionNumber"]) == ("web", 2)
    with pytest.raises(AwsError) as taken:
        ec2(env, "CreateLaunchTemplate", LaunchTemplateName="web", LaunchTemplateData=DATA)
    assert (taken.value.code, taken.value.message) == (
        "InvalidLaunchTemplateName.AlreadyExistsException",
        "Launch template name already in use.",
    )
    ec2(env, "DeleteLaunchTemplate", LaunchTemplateName="web")
    with pytest.raises(AwsError) as gone:
        ec2(env, "DescribeLaunchTemplates", LaunchTemplateIds=[tid])
    assert (gone.value.code, gone.value.message) == (
        "InvalidLaunchTemplateId.NotFound",
        f"The specified launch template, with template ID {tid}, does not exist.",
    )


def test_an_instance_launched_from_a_template_gets_its_profile_and_options(env, profile):
    tid = ec2(env, "CreateLaunchTemplate", LaunchTemplateName="web", LaunchTemplateData=DATA)[
        "LaunchTemplate"
    ]["LaunchTemplateId"]
    (instance,) = ec2(
        env, "RunInstances", MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": tid, "Version": "$Latest"}
    )["Instances"]  # fmt: skip
    assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"]
    assert (instance["InstanceType"], instance["MetadataOptions"]["HttpTokens"]) == ("t3.micro", "required")
    with pytest.raises(AwsError) as missing:
        ec2(
            env,
            "RunInstances",
            MinCount=1,
            MaxCount=1,
            LaunchTemplate={"LaunchTemplateId": tid, "Version": "9"},
        )
    assert missing.value.code == "InvalidLaunchTemplateId.VersionNotFound"


def test_launching_from_a_template_passes_its_role_and_needs_pass_role(env, profile):
    """A user may create templates naming any profile, but launching from one passes its role to EC2."""
    tid = ec2(env, "CreateLaunchTemplate", LaunchTemplateName="web", LaunchTemplateData=DATA)[
        "LaunchTemplate"
    ]["LaunchTemplateId"]
    dev = env.user("dev", allow(["ec2:RunInstances", "ec2:*LaunchTemplate*"]))
    ec2(env, "CreateLaunchTemplate", caller=dev, LaunchTemplateName="dev", LaunchTemplateData=DATA)
    err = env.denied(
        dev, "ec2", "RunInstances", MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": tid}
    )
    assert err.code == "UnauthorizedOperation"
    assert f"is not authorized to perform: iam:PassRole on resource: {ROLE_ARN}" in err.message
    assert ec2(env, "DescribeInstances")["Reservations"] == []
    viewer = env.user("viewer", allow("ec2:DescribeLaunchTemplates"))
    for op, params in [
        ("CreateLaunchTemplate", dict(LaunchTemplateName="x", LaunchTemplateData=DATA)),
        ("CreateLaunchTemplateVersion", dict(LaunchTemplateId=tid, LaunchTemplateData=DATA)),
        ("DescribeLaunchTemplateVersions", dict(LaunchTemplateId=tid)),
        ("DeleteLaunchTemplate", dict(LaunchTemplateId=tid)),
    ]:
        refused = env.denied(viewer, "ec2", op, **params)
        assert refused.code == "UnauthorizedOperation" and f"ec2:{op}" in refused.message, op
    assert len(ec2(env, "DescribeLaunchTemplates", caller=viewer)["LaunchTemplates"]) == 2
