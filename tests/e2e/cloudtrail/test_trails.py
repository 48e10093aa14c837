"""CloudTrail trails against a real server, with boto3 and the AWS CLI: a logging trail delivers its log files to
the bucket under AWS's key layout, written by cloudtrail.amazonaws.com under the bucket policy; a bucket
without that policy is refused. (Delivery to CloudWatch Logs through the trail's role runs end to end in
tests/e2e/scenarios/test_security_alarms_example.py.)"""

from __future__ import annotations

import gzip
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import name
from tests.servers import Server

ACCOUNT = "123456789012"
REGION = "us-east-1"
WAIT = 60  # seconds to wait for a delivery (the server delivers every second, LAG seconds behind)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("rolecall"), extra_args=["--trail-delivery-interval", "1"]).start()
    yield srv
    srv.stop()


def bucket_policy(bucket: str, trail_arn: str) -> str:
    condition = {"aws:SourceArn": trail_arn}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailAclCheck20150319",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Condition": {"StringEquals": condition},
                },
                {
                    "Sid": "AWSCloudTrailWrite20150319",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{bucket}/logs/AWSLogs/{ACCOUNT}/*",
                    "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **condition}},
                },
            ],
        }
    )


def wait_for(check, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {WAIT} s")


def test_logging_trail_delivers_log_files_to_its_bucket(server):
    s3, ct, iam = server.client("s3"), server.client("cloudtrail"), server.client("iam")
    bucket, trail = name("trail-logs"), name("audit")
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, arn))
    created = ct.create_trail(Name=trail, S3BucketName=bucket, S3KeyPrefix="logs")
    assert created["TrailARN"] == arn and created["S3KeyPrefix"] == "logs"
    assert ct.get_trail_status(Name=trail)["IsLogging"] is False
    ct.start_logging(Name=trail)
    user = name("watched")
    iam.create_user(UserName=user)

    def delivered():
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"logs/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/")
        for obj in listed.get("Contents") or []:
            records = json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            mine = [
                r for r in records["Records"] if (r.get("requestParameters") or {}).get("userName") == user
            ]
            if mine:
                return obj["Key"], mine[0]
        return None

    key, record = wait_for(delivered, "log file with CreateUser")
    assert key.endswith(".json.gz") and f"/{ACCOUNT}_CloudTrail_{REGION}_" in key
    assert record["eventName"] == "CreateUser" and record["userIdentity"]["type"] == "Root"
    status = ct.get_trail_status(Name=trail)
    assert status["IsLogging"] and status["LatestDeliveryAttemptSucceeded"] == "TRUE"
    assert "LatestDeliveryError" not in status
    assert [t["Name"] for t in ct.describe_trails(trailNameList=[trail])["trailList"]] == [trail]
    assert any(t["TrailARN"] == arn for t in ct.list_trails()["Trails"])
    assert ct.get_trail(Name=arn)["Trail"]["HomeRegion"] == REGION
    ct.stop_logging(Name=trail)
    assert ct.get_trail_status(Name=trail)["IsLogging"] is False
    ct.delete_trail(Name=trail)


def test_a_bucket_without_the_cloudtrail_policy_is_refused(server):
    s3, ct = server.client("s3"), server.client("cloudtrail")
    bucket, trail = name("no-policy"), name("audit")
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as refused:
        ct.create_trail(Name=trail, S3BucketName=bucket)
    assert refused.value.response["Error"]["Code"] == "InsufficientS3BucketPolicyException"
    # Once accepted, a policy taken away later shows as the trail's delivery error.
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}"
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, arn))
    ct.create_trail(Name=trail, S3BucketName=bucket, S3KeyPrefix="logs")
    ct.start_logging(Name=trail)
    s3.delete_bucket_policy(Bucket=bucket)
    server.client("iam").list_users()
    status = wait_for(
        lambda: (s := ct.get_trail_status(Name=trail)).get("LatestDeliveryError") and s, "delivery error"
    )
    assert status["LatestDeliveryError"] == "AccessDenied"
    assert status["LatestDeliveryAttemptSucceeded"] == "FALSE"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    ct.delete_trail(Name=trail)


def test_event_selectors_and_logging_with_the_cli(server):
    s3, ct = server.client("s3"), server.client("cloudtrail")
    bucket, trail = name("cli-logs"), name("audit")
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, arn))
    server.cli(
        "cloudtrail", "create-trail", "--name", trail, "--s3-bucket-name", bucket, "--s3-key-prefix", "logs"
    )
    selectors = json.dumps([{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    ct.put_event_selectors(TrailName=trail, EventSelectors=json.loads(selectors))
    got = ct.get_event_selectors(TrailName=trail)
    assert got["EventSelectors"][0]["ReadWriteType"] == "WriteOnly"
    assert ct.update_trail(Name=trail, IsMultiRegionTrail=True)["IsMultiRegionTrail"] is True
    ct.start_logging(Name=trail)
    status = json.loads(server.cli("cloudtrail", "get-trail-status", "--name", trail).stdout)
    assert status["IsLogging"] is True
    ct.stop_logging(Name=trail)
    assert trail in [t["Name"] for t in ct.describe_trails()["trailList"]]
    assert ct.get_trail(Name=trail)["Trail"]["TrailARN"] == arn
    ct.delete_trail(Name=trail)
    with pytest.raises(ClientError) as gone:
        ct.get_trail(Name=trail)
    assert gone.value.response["Error"]["Code"] == "TrailNotFoundException"
