"""Auto Scaling against a real server, on each store, with boto3 and the AWS CLI: a group whose instances
read S3 through their role, scaling up and down, the service's launches in the trail, and a caller
refused for want of iam:PassRole."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ec2.helpers import AMI, client_with, doc, instance_credentials, make_profile, make_user
from tests.servers import InProcessServer, create_pg_database, drop_pg_database, postgres_available

ACCOUNT = "123456789012"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def srv(request, tmp_path_factory):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = InProcessServer(tmp_path_factory.mktemp("autoscaling"), database_url=url).start()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


def template_reading(srv, bucket: str) -> tuple[dict, str]:
    """A role that may read `bucket`, in a profile, in a launch template requiring IMDSv2: (role, template id)."""
    read = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    role, profile = make_profile(srv, read)
    template = srv.client("ec2").create_launch_template(
        LaunchTemplateName=f"lt-{uuid.uuid4().hex[:8]}",
        LaunchTemplateData={
            "ImageId": AMI,
            "InstanceType": "t3.micro",
            "IamInstanceProfile": {"Name": profile["InstanceProfileName"]},
            "MetadataOptions": {"HttpTokens": "required"},
        },
    )["LaunchTemplate"]
    return role, template["LaunchTemplateId"]


def instances(asg, name: str) -> list[str]:
    (group,) = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return [i["InstanceId"] for i in group["Instances"]]


def test_a_groups_instances_read_s3_through_their_role(srv):
    s3, asg = srv.client("s3"), srv.client("autoscaling")
    bucket = f"reports-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="today.txt", Body=b"all well")
    role, template = template_reading(srv, bucket)
    name = f"web-{uuid.uuid4().hex[:6]}"
    srv.cli(
        "autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", name,
        "--launch-template", f"LaunchTemplateId={template},Version=$Latest",
        "--min-size", "1", "--max-size", "3", "--desired-capacity", "2", "--availability-zones", "us-east-1a",
    )  # fmt: skip
    shown = json.loads(
        srv.cli("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name).stdout
    )
    group = shown["AutoScalingGroups"][0]
    assert group["ServiceLinkedRoleARN"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    ids = [i["InstanceId"] for i in group["Instances"]]
    assert len(ids) == 2
    for iid in ids:  # each instance's metadata endpoint serves the role: it reads the bucket, nothing else
        creds = instance_credentials(srv, iid)
        reader = client_with(srv, "s3", creds)
        assert reader.get_object(Bucket=bucket, Key="today.txt")["Body"].read() == b"all well"
        with pytest.raises(ClientError) as refused:
            reader.put_object(Bucket=bucket, Key="x", Body=b"x")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        who = client_with(srv, "sts", creds).get_caller_identity()["Arn"]
        assert who == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{iid}"

    # The trail shows the launch as the service's, through its linked role.
    srv.pipeline.flush_trail()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "RunInstances"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    instance_arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{ids[0]}"
    launches = [r for r in records if instance_arn in [res.get("ARN") for res in r.get("resources", [])]]
    (launch,) = launches
    assert launch["userIdentity"]["invokedBy"] == "autoscaling.amazonaws.com"
    assert (
        launch["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"]
        == "AWSServiceRoleForAutoScaling"
    )

    by_service = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "AutoScaling"}]
    )["Events"]
    assert "RunInstances" in {e["EventName"] for e in by_service}  # the README's lookup finds them

    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=3)
    assert len(instances(asg, name)) == 3
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=1)
    (kept,) = instances(asg, name)
    details = asg.describe_auto_scaling_instances(InstanceIds=[kept])["AutoScalingInstances"]
    assert details[0]["AutoScalingGroupName"] == name
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0)
    asg.terminate_instance_in_auto_scaling_group(InstanceId=kept, ShouldDecrementDesiredCapacity=True)
    assert instances(asg, name) == []
    asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []


def test_a_caller_without_pass_role_for_the_group_is_refused(srv):
    role, template = template_reading(srv, "any-bucket")
    key = make_user(
        srv,
        doc(
            {
                "Effect": "Allow",
                "Action": ["autoscaling:*", "ec2:RunInstances", "ec2:Describe*"],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*"},
        ),
    )
    asg = srv.client("autoscaling", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as refused:
        asg.create_auto_scaling_group(
            AutoScalingGroupName="no-pass", LaunchTemplate={"LaunchTemplateId": template}, MinSize=1, MaxSize=1,
            AvailabilityZones=["us-east-1a"],
        )  # fmt: skip
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert f"is not authorized to perform: iam:PassRole on resource: {role['Arn']}" in error["Message"]
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["no-pass"])["AutoScalingGroups"] == []
