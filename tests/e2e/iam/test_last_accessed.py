"""IAM last accessed reports against a real server: the AWS CLI and boto3, from the trail of real calls."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, name, new_user


def _flush(server):
    # Reads and denials reach the trail in batches; LookupEvents writes what is pending first.
    server.client("cloudtrail").lookup_events(MaxResults=1)


def test_cli_generate_and_read_a_users_report(server):
    iam = server.client("iam")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetUser"], "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
            ],
        }
    )
    user, key = new_user(server, iam, policy)
    as_key(server, key).list_users()
    as_key(server, key, "s3").list_buckets()
    with pytest.raises(ClientError):  # an attempt counts, allowed or not
        as_key(server, key).list_roles()
    _flush(server)
    arn = iam.get_user(UserName=user)["User"]["Arn"]
    out = server.cli(
        "iam", "generate-service-last-accessed-details", "--arn", arn, "--granularity", "ACTION_LEVEL"
    )
    job = json.loads(out.stdout)["JobId"]
    report = iam.get_service_last_accessed_details(JobId=job)
    assert report["JobStatus"] == "COMPLETED" and report["JobType"] == "ACTION_LEVEL"
    services = {s["ServiceNamespace"]: s for s in report["ServicesLastAccessed"]}
    assert set(services) == {"iam", "s3", "ec2"}
    assert (
        services["iam"]["LastAuthenticatedEntity"] == arn
        and services["iam"]["TotalAuthenticatedEntities"] == 1
    )
    assert services["iam"]["LastAuthenticatedRegion"] == "us-east-1"
    assert services["s3"]["LastAuthenticated"] and services["ec2"]["TotalAuthenticatedEntities"] == 0
    assert "LastAuthenticated" not in services["ec2"]
    actions = {a["ActionName"]: a for a in services["iam"]["TrackedActionsLastAccessed"]}
    assert set(actions) == {"GetUser", "ListUsers"}  # the allowed actions; ListRoles is not allowed
    assert "LastAccessedTime" in actions["ListUsers"] and "LastAccessedTime" not in actions["GetUser"]
    entities = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="s3")
    assert [e["EntityInfo"]["Arn"] for e in entities["EntityDetailsList"]] == [arn]
    assert entities["EntityDetailsList"][0]["LastAuthenticated"]


def test_group_and_role_reports(server):
    iam = server.client("iam")
    group = name("readers")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument=allow("iam:ListGroups"))
    active, key = new_user(server, iam)
    idle, _ = new_user(server, iam)
    for member in (active, idle):
        iam.add_user_to_group(GroupName=group, UserName=member)
    as_key(server, key).list_groups()
    _flush(server)
    group_arn = iam.get_group(GroupName=group)["Group"]["Arn"]
    job = iam.generate_service_last_accessed_details(Arn=group_arn)["JobId"]
    report = iam.get_service_last_accessed_details(JobId=job)
    assert report["JobType"] == "SERVICE_LEVEL"
    assert [s["ServiceNamespace"] for s in report["ServicesLastAccessed"]] == ["iam"]
    assert "TrackedActionsLastAccessed" not in report["ServicesLastAccessed"][0]
    members = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")
    seen = {e["EntityInfo"]["Name"]: e for e in members["EntityDetailsList"]}
    assert set(seen) == {active, idle} and "LastAuthenticated" in seen[active]
    assert "LastAuthenticated" not in seen[idle]
    with pytest.raises(ClientError) as exc:
        iam.get_service_last_accessed_details(JobId="00000000-0000-0000-0000-000000000000")
    assert err(exc)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.generate_service_last_accessed_details(Arn="arn:aws:iam::123456789012:role/nobody")
    assert err(exc)[0] == "NoSuchEntity"


def test_generating_a_report_needs_permission(server):
    iam = server.client("iam")
    _, key = new_user(server, iam)
    target = f"arn:aws:iam::123456789012:group/{name('g')}"
    with pytest.raises(ClientError) as exc:
        as_key(server, key).generate_service_last_accessed_details(Arn=target)
    code, message, _ = err(exc)
    assert code == "AccessDenied" and "iam:GenerateServiceLastAccessedDetails" in message
