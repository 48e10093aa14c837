"""CloudTrail trails in process: settings, logging status, event selectors, and the delivery of log files to
S3 as cloudtrail.amazonaws.com under the bucket policy (and to CloudWatch Logs through the trail's role)."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow, policy

REGION = "us-east-1"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/audit"
KEY = re.compile(
    rf"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/\d{{4}}/\d{{2}}/\d{{2}}/"
    rf"{ACCOUNT}_CloudTrail_{REGION}_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz"
)


def cloudtrail_bucket_policy(bucket: str, trail_arn: str = TRAIL_ARN) -> str:
    """AWS's documented bucket policy for a trail's bucket."""
    condition = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return policy(
        {
            "Sid": "AWSCloudTrailAclCheck20150319",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": condition,
        },
        {
            "Sid": "AWSCloudTrailWrite20150319",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*",
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
            },
        },
    )


def trail_bucket(env, bucket: str = "trail-logs", trail_arn: str = TRAIL_ARN) -> str:
    env.invoke("s3", "CreateBucket", Bucket=bucket)
    env.invoke("s3", "PutBucketPolicy", Bucket=bucket, Policy=cloudtrail_bucket_policy(bucket, trail_arn))
    return bucket


def ct(env, op: str, **params):
    return env.invoke("cloudtrail", op, **params)


def deliver(env, seconds: float = 300) -> None:
    env.clock.advance(seconds)
    env.service("cloudtrail").delivery.deliver_due(force=True)


def log_files(env, bucket: str) -> list[dict]:
    listed = env.invoke("s3", "ListObjectsV2", Bucket=bucket).get("Contents") or []
    out = []
    for obj in listed:
        body = env.invoke("s3", "GetObject", Bucket=bucket, Key=obj["Key"])["Body"]
        out.append({"Key": obj["Key"], "Records": json.loads(gzip.decompress(body))["Records"]})
    return out


def test_trail_settings_round_trip_and_refuse_bad_input(env):
    bucket = trail_bucket(env)
    created = ct(env, "CreateTrail", Name="audit", S3BucketName=bucket)
    assert created["TrailARN"] == TRAIL_ARN and created["IsMultiRegionTrail"] is False
    assert "HomeRegion" not in created
    (trail,) = ct(env, "DescribeTrails")["trailList"]
    assert (trail["HomeRegion"], trail["IncludeGlobalServiceEvents"], trail["HasCustomEventSelectors"]) == (
        REGION,
        True,
        False,
    )
    assert ct(env, "GetTrail", Name=TRAIL_ARN)["Trail"]["S3BucketName"] == bucket
    assert ct(env, "ListTrails")["Trails"] == [{"TrailARN": TRAIL_ARN, "Name": "audit", "HomeRegion": REGION}]
    assert ct(env, "GetTrailStatus", Name="audit")["IsLogging"] is False  # created by the API: not logging

    with pytest.raises(AwsError) as again:
        ct(env, "CreateTrail", Name="audit", S3BucketName=bucket)
    assert again.value.code == "TrailAlreadyExistsException"
    with pytest.raises(AwsError) as bad_name:
        ct(env, "CreateTrail", Name="no spaces", S3BucketName=bucket)
    assert bad_name.value.code == "InvalidTrailNameException"
    with pytest.raises(AwsError) as no_bucket:
        ct(env, "CreateTrail", Name="other", S3BucketName="missing-bucket")
    assert no_bucket.value.code == "S3BucketDoesNotExistException"
    with pytest.raises(AwsError) as half:
        ct(
            env,
            "UpdateTrail",
            Name="audit",
            CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:x:*",
        )
    assert half.value.code == "InvalidParameterCombinationException"
    with pytest.raises(AwsError) as missing:
        ct(env, "GetTrail", Name="nope")
    assert missing.value.code == "TrailNotFoundException"
    assert (
        missing.value.message
        == f"Unknown trail: arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/nope for the user: {ACCOUNT}"
    )

    updated = ct(env, "UpdateTrail", Name="audit", IsMultiRegionTrail=True)
    assert updated["IsMultiRegionTrail"] is True
    ct(env, "DeleteTrail", Name="audit")
    assert ct(env, "DescribeTrails")["trailList"] == []


def test_a_bucket_without_cloudtrail_policy_is_refused_at_creation(env):
    env.invoke("s3", "CreateBucket", Bucket="plain")
    with pytest.raises(AwsError) as refused:
        ct(env, "CreateTrail", Name="audit", S3BucketName="plain")
    assert refused.value.code == "InsufficientS3BucketPolicyException"
    assert refused.value.message == "Incorrect S3 bucket policy is detected for bucket: plain"
    # A policy for another trail (aws:SourceArn) does not let this one in either: the confused deputy check.
    env.invoke(
        "s3",
        "PutBucketPolicy",
        Bucket="plain",
        Policy=cloudtrail_bucket_policy("plain", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/other"),
    )
    with pytest.raises(AwsError) as deputy:
        ct(env, "CreateTrail", Name="audit", S3BucketName="plain")
    assert deputy.value.code == "InsufficientS3BucketPolicyException"
    assert ct(env, "DescribeTrails")["trailList"] == []


def test_logging_trail_delivers_gzipped_records_as_cloudtrail(env):
    bucket = trail_bucket(env)
    ct(env, "CreateTrail", Name="audit", S3BucketName=bucket)
    env.clock.advance(1)
    ct(env, "StartLogging", Name="audit")
    env.call("CreateUser", UserName="alice")
    deliver(env)
    (delivered,) = log_files(env, bucket)
    assert KEY.fullmatch(delivered["Key"]), delivered["Key"]
    names = [r["eventName"] for r in delivered["Records"]]
    assert "CreateUser" in names and "CreateTrail" not in names  # events from logging's start on
    status = ct(env, "GetTrailStatus", Name="audit")
    assert status["IsLogging"] is True and status["LatestDeliveryAttemptSucceeded"] == "TRUE"
    assert "LatestDeliveryError" not in status and status["LatestDeliveryTime"]
    # The write is the service's own call, recorded in the trail as such.
    (put,) = env.trail("PutObject")
    assert put["userIdentity"] == {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
    assert put["sourceIPAddress"] == "cloudtrail.amazonaws.com" and "errorCode" not in put
    # Each record goes out once: the next file holds this test's later calls (GetTrailStatus), not CreateUser.
    deliver(env)
    files = log_files(env, bucket)
    later = [r["eventName"] for f in files if f["Key"] != delivered["Key"] for r in f["Records"]]
    assert "GetTrailStatus" in later and "CreateUser" not in later
    # After StopLogging, nothing more is delivered.
    ct(env, "StopLogging", Name="audit")
    env.call("CreateUser", UserName="bob")
    deliver(env)
    assert len(log_files(env, bucket)) == len(files)
    assert ct(env, "GetTrailStatus", Name="audit")["IsLogging"] is False


def test_delivery_refused_by_the_bucket_policy_shows_in_the_status(env):
    bucket = trail_bucket(env)
    ct(env, "CreateTrail", Name="audit", S3BucketName=bucket)
    ct(env, "StartLogging", Name="audit")
    env.invoke("s3", "DeleteBucketPolicy", Bucket=bucket)  # the owner takes CloudTrail's grant away
    env.clock.advance(1)
    env.call("CreateUser", UserName="carol")
    deliver(env)
    status = ct(env, "GetTrailStatus", Name="audit")
    assert (status["LatestDeliveryError"], status["LatestDeliveryAttemptSucceeded"]) == (
        "AccessDenied",
        "FALSE",
    )
    assert env.invoke("s3", "ListObjectsV2", Bucket=bucket).get("Contents") is None
    (refused,) = env.trail("PutObject")
    assert refused["errorCode"] == "AccessDenied" and refused["userIdentity"]["type"] == "AWSService"
    # The grant restored, the records held back are delivered.
    env.invoke("s3", "PutBucketPolicy", Bucket=bucket, Policy=cloudtrail_bucket_policy(bucket))
    deliver(env)
    (delivered,) = log_files(env, bucket)
    assert "CreateUser" in [r["eventName"] for r in delivered["Records"]]
    assert "LatestDeliveryError" not in ct(env, "GetTrailStatus", Name="audit")


def test_event_selectors_choose_management_and_data_events(env):
    bucket = trail_bucket(env)
    env.invoke("s3", "CreateBucket", Bucket="watched")
    ct(env, "CreateTrail", Name="audit", S3BucketName=bucket)
    assert ct(env, "GetEventSelectors", TrailName="audit")["EventSelectors"][0]["ReadWriteType"] == "All"
    selectors = [
        {
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::watched/"]}],
        }
    ]
    out = ct(env, "PutEventSelectors", TrailName="audit", EventSelectors=selectors)
    assert (
        out["TrailARN"] == TRAIL_ARN
        and out["EventSelectors"][0]["DataResources"][0]["Type"] == "AWS::S3::Object"
    )
    assert ct(env, "GetTrail", Name="audit")["Trail"]["HasCustomEventSelectors"] is True
    with pytest.raises(AwsError) as bad:
        ct(
            env,
            "PutEventSelectors",
            TrailName="audit",
            EventSelectors=[{"DataResources": [{"Type": "AWS::Nope", "Values": []}]}],
        )
    assert bad.value.code == "InvalidEventSelectorsException"
    ct(env, "StartLogging", Name="audit")
    env.clock.advance(1)
    env.call("CreateUser", UserName="dave")  # a write: logged
    env.call("ListUsers")  # a read: not logged (WriteOnly)
    env.invoke("s3", "PutObject", Bucket="watched", Key="k", Body=b"v")  # a data event on the bucket: logged
    deliver(env)
    records = [r for f in log_files(env, bucket) for r in f["Records"]]
    names = {r["eventName"] for r in records}
    assert {"CreateUser", "PutObject"} <= names and "ListUsers" not in names
    assert any(
        r["eventName"] == "PutObject" and r["requestParameters"]["bucketName"] == "watched" for r in records
    )


def test_trail_operations_are_authorized_per_trail(env):
    bucket = trail_bucket(env)
    ct(env, "CreateTrail", Name="audit", S3BucketName=bucket)
    reader = env.user("reader", allow(["cloudtrail:GetTrailStatus", "cloudtrail:DescribeTrails"], TRAIL_ARN))
    assert ct(env, "GetTrailStatus", caller=reader, Name="audit")["IsLogging"] is False
    for op, params in (
        ("StartLogging", {"Name": "audit"}),
        ("StopLogging", {"Name": "audit"}),
        ("DeleteTrail", {"Name": "audit"}),
        ("UpdateTrail", {"Name": "audit", "IsMultiRegionTrail": True}),
        ("PutEventSelectors", {"TrailName": "audit", "EventSelectors": [{"ReadWriteType": "All"}]}),
        ("GetEventSelectors", {"TrailName": "audit"}),
        ("GetTrail", {"Name": "audit"}),
        ("ListTrails", {}),
        ("DescribeTrails", {}),
        ("CreateTrail", {"Name": "mine", "S3BucketName": bucket}),
    ):
        err = env.denied(reader, "cloudtrail", op, **params)
        assert err.code == "AccessDenied", op
        assert f"cloudtrail:{op}" in err.message
    assert ct(env, "GetTrailStatus", Name="audit")["IsLogging"] is False


def test_cloudwatch_logs_delivery_through_the_trail_role(env):
    bucket = trail_bucket(env)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-events:*"
    env.invoke("logs", "CreateLogGroup", logGroupName="trail-events")
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = env.call("CreateRole", RoleName="trail-to-logs", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    env.call(
        "PutRolePolicy",
        RoleName="trail-to-logs",
        PolicyName="logs",
        PolicyDocument=policy(allow(["logs:CreateLogStream", "logs:PutLogEvents"], group_arn)),
    )
    ct(
        env,
        "CreateTrail",
        Name="audit",
        S3BucketName=bucket,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role,
    )
    ct(env, "StartLogging", Name="audit")
    env.clock.advance(1)
    env.call("CreateUser", UserName="erin")
    deliver(env)
    status = ct(env, "GetTrailStatus", Name="audit")
    assert "LatestCloudWatchLogsDeliveryError" not in status and status["LatestCloudWatchLogsDeliveryTime"]
    events = env.invoke("logs", "FilterLogEvents", logGroupName="trail-events", filterPattern='"CreateUser"')[
        "events"
    ]
    assert events and events[0]["logStreamName"] == f"{ACCOUNT}_CloudTrail_{REGION}"
    assert json.loads(events[0]["message"])["requestParameters"]["userName"] == "erin"
    # CloudTrail assumed the role as the service.
    assumed = [
        r for r in env.trail("AssumeRole") if r["userIdentity"].get("invokedBy") == "cloudtrail.amazonaws.com"
    ]
    assert assumed and "errorCode" not in assumed[0]


def test_a_cloudwatch_logs_role_cloudtrail_cannot_assume_is_reported(env):
    bucket = trail_bucket(env)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-events:*"
    env.invoke("logs", "CreateLogGroup", logGroupName="trail-events")
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = env.call("CreateRole", RoleName="ec2-only", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    env.call("PutRolePolicy", RoleName="ec2-only", PolicyName="logs", PolicyDocument=policy(allow("logs:*")))
    ct(
        env,
        "CreateTrail",
        Name="audit",
        S3BucketName=bucket,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role,
    )
    ct(env, "StartLogging", Name="audit")
    env.clock.advance(1)
    env.call("CreateUser", UserName="frank")
    deliver(env)
    status = ct(env, "GetTrailStatus", Name="audit")
    assert status["LatestCloudWatchLogsDeliveryError"].startswith("AccessDenied")
    assert "LatestDeliveryError" not in status  # S3 delivery is apart and went through
    assert env.invoke("logs", "DescribeLogStreams", logGroupName="trail-events")["logStreams"] == []
    (refused,) = [r for r in env.trail("AssumeRole") if r.get("errorCode")]
    assert refused["userIdentity"] == {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}


def test_a_trail_role_without_logs_permissions_is_reported(env):
    bucket = trail_bucket(env)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-events:*"
    env.invoke("logs", "CreateLogGroup", logGroupName="trail-events")
    trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = env.call("CreateRole", RoleName="no-logs", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    ct(
        env,
        "CreateTrail",
        Name="audit",
        S3BucketName=bucket,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role,
    )
    ct(env, "StartLogging", Name="audit")
    env.clock.advance(1)
    env.call("CreateUser", UserName="gina")
    deliver(env)
    error = ct(env, "GetTrailStatus", Name="audit")["LatestCloudWatchLogsDeliveryError"]
    assert error.startswith("AccessDeniedException") and "logs:CreateLogStream" in error
