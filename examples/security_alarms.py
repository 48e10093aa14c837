"""Alarms on suspicious role use: CloudTrail -> CloudWatch Logs -> metric filters -> alarms -> SNS.

Against a running rolecall started with short intervals (or AWS itself, where they are fixed):

    rolecall serve --trail-delivery-interval 5 --alarm-evaluation-interval 5
    export AWS_ENDPOINT_URL=http://127.0.0.1:4577 AWS_REGION=us-east-1
    export AWS_SHARED_CREDENTIALS_FILE=~/.rolecall/credentials AWS_PROFILE=rolecall
    python examples/security_alarms.py [--other-profile rolecall-210987654321] [--keep]

1. a bucket with AWS's documented CloudTrail bucket policy, a log group, and the service role
   rolecall-example-CloudTrail-Logs-Role (trusting cloudtrail.amazonaws.com, allowed
   logs:CreateLogStream and logs:PutLogEvents on the group); a logging trail delivering to both;
2. an SNS topic, with rolecall's inbox endpoint subscribed (it confirms itself through the SubscribeURL);
3. two metric filters on the trail's log group and an alarm on each metric, whose action publishes to
   the topic:
     AccessDenied:          { ($.errorCode = "AccessDenied") || ($.errorCode = "AccessDeniedException") }
     ForeignAssumeRole:     { ($.eventName = "AssumeRole") && ($.userIdentity.accountId != "ACCOUNT") }
4. makes AccessDenied spike: a user with no permissions calls IAM ten times;
5. with --other-profile (a profile of another account, e.g. from `rolecall account create`): a role
   that trusts that account is assumed from it;
6. waits for each alarm to go to ALARM and for its notification to reach the inbox, and prints them;
7. deletes what it created, unless --keep.

Every name it uses starts with rolecall-example-; it deletes only those. Exit status 0 when every
expectation held.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

PREFIX = "rolecall-example-"
TRAIL = f"{PREFIX}security-trail"
GROUP = f"{PREFIX}trail-events"
LOGS_ROLE = f"{PREFIX}CloudTrail-Logs-Role"
AUDIT_ROLE = f"{PREFIX}Auditor"
INTRUDER = f"{PREFIX}intruder"
TOPIC = f"{PREFIX}security-alerts"
NAMESPACE = "Security"
WAIT = 120  # seconds to wait for each alarm


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise SystemExit(f"gave up waiting for {what}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--other-profile", help="a profile of another account, to assume a role from it")
    parser.add_argument("--keep", action="store_true", help="leave what it created")
    args = parser.parse_args(argv)
    session = boto3.Session(
        region_name=boto3.Session().region_name or os.environ.get("AWS_REGION") or "us-east-1"
    )
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    iam, s3, logs, ct, cw, sns = (
        session.client(s) for s in ("iam", "s3", "logs", "cloudtrail", "cloudwatch", "sns")
    )
    bucket = f"{PREFIX}trail-{account}"
    trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{TRAIL}"
    group_arn = f"arn:aws:logs:{region}:{account}:log-group:{GROUP}:*"
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4577")
    inbox = f"{endpoint}/_rolecall/sns/inbox/{PREFIX}security"
    created: list[tuple[str, Callable[[], Any]]] = []

    # 1. The trail, delivering to S3 and, through its service role, to CloudWatch Logs.
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            {
                "Sid": "AWSCloudTrailAclCheck20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                },
            },
        ),
    )
    created.append((f"bucket {bucket}", lambda: empty_and_delete(s3, bucket)))
    logs.create_log_group(logGroupName=GROUP)
    created.append((f"log group {GROUP}", lambda: logs.delete_log_group(logGroupName=GROUP)))
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    role_arn = iam.create_role(RoleName=LOGS_ROLE, AssumeRolePolicyDocument=doc(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=LOGS_ROLE,
        PolicyName="deliver",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": group_arn,
            }
        ),
    )
    created.append((f"role {LOGS_ROLE}", lambda: delete_role(iam, LOGS_ROLE)))
    ct.create_trail(
        Name=TRAIL, S3BucketName=bucket, CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=role_arn
    )
    created.append((f"trail {TRAIL}", lambda: ct.delete_trail(Name=TRAIL)))
    ct.start_logging(Name=TRAIL)
    print(f"trail {TRAIL} logging to s3://{bucket} and log group {GROUP} (through {LOGS_ROLE})")

    # 2. Where alerts go.
    topic = sns.create_topic(Name=TOPIC)["TopicArn"]
    created.append((f"topic {TOPIC}", lambda: sns.delete_topic(TopicArn=topic)))
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=inbox)
    wait_for(
        "the inbox to confirm its subscription",
        lambda: all(
            s["SubscriptionArn"] != "PendingConfirmation"
            for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        ),
    )
    print(f"topic {TOPIC}: confirmed subscription of {inbox}")

    # 3. Metric filters and alarms.
    filters = {
        "AccessDenied": '{ ($.errorCode = "AccessDenied") || ($.errorCode = "AccessDeniedException") }',
        "ForeignAssumeRole": f'{{ ($.eventName = "AssumeRole") && ($.userIdentity.accountId != "{account}") }}',
    }
    thresholds = {"AccessDenied": 5, "ForeignAssumeRole": 1}
    for metric, pattern in filters.items():
        logs.put_metric_filter(
            logGroupName=GROUP,
            filterName=f"{PREFIX}{metric}",
            filterPattern=pattern,
            metricTransformations=[{"metricName": metric, "metricNamespace": NAMESPACE, "metricValue": "1"}],
        )
        cw.put_metric_alarm(
            AlarmName=f"{PREFIX}{metric}",
            Namespace=NAMESPACE,
            MetricName=metric,
            Statistic="Sum",
            Period=10,
            EvaluationPeriods=6,
            DatapointsToAlarm=1,
            Threshold=thresholds[metric],
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=[topic],
        )
        print(f"alarm {PREFIX}{metric}: Sum >= {thresholds[metric]} in 10 s, on {pattern}")
    created.append(("alarms", lambda: cw.delete_alarms(AlarmNames=[f"{PREFIX}{m}" for m in filters])))

    # 4. An AccessDenied spike.
    iam.create_user(UserName=INTRUDER)
    key = iam.create_access_key(UserName=INTRUDER)["AccessKey"]
    created.append((f"user {INTRUDER}", lambda: delete_user(iam, INTRUDER, key["AccessKeyId"])))
    intruder = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=region
    ).client("iam")
    for _ in range(10):
        try:
            intruder.list_roles()
        except ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDenied", err
    print(f"{INTRUDER} was refused iam:ListRoles 10 times")
    expected = ["AccessDenied"]

    # 5. A role assumed from another account.
    if args.other_profile:
        other = boto3.Session(profile_name=args.other_profile, region_name=region)
        other_account = other.client("sts").get_caller_identity()["Account"]
        trust_other = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other_account}:root"},
            "Action": "sts:AssumeRole",
        }
        audit_arn = iam.create_role(RoleName=AUDIT_ROLE, AssumeRolePolicyDocument=doc(trust_other))["Role"][
            "Arn"
        ]
        created.append((f"role {AUDIT_ROLE}", lambda: delete_role(iam, AUDIT_ROLE)))
        other.client("sts").assume_role(RoleArn=audit_arn, RoleSessionName="from-elsewhere")
        print(f"{AUDIT_ROLE} assumed from account {other_account}")
        expected.append("ForeignAssumeRole")

    # 6. The alarms and their notifications.
    ok = True
    for metric in expected:
        name = f"{PREFIX}{metric}"
        wait_for(
            f"alarm {name}",
            lambda n=name: cw.describe_alarms(AlarmNames=[n], StateValue="ALARM")["MetricAlarms"],
        )
        note = wait_for(
            f"the notification of {name}",
            lambda n=name: next(
                (m for m in read_inbox(inbox) if json.loads(m["Message"]).get("AlarmName") == n), None
            ),
        )
        body = json.loads(note["Message"])
        print(f"inbox: {note['Subject']}")
        print(f"  {body['NewStateReason']}")
        ok = ok and body["NewStateValue"] == "ALARM"

    # 7. Clean up.
    if args.keep:
        print("kept everything (--keep)")
    else:
        ct.stop_logging(Name=TRAIL)
        for what, delete in reversed(created):
            delete()
            print(f"deleted {what}")
    print("every expectation held" if ok else "SOME EXPECTATION FAILED")
    return 0 if ok else 1


def read_inbox(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url) as answer:  # noqa: S310 (the server's own inbox)
        return [m for m in json.loads(answer.read())["Messages"] if m["Type"] == "Notification"]


def empty_and_delete(s3: Any, bucket: str) -> None:
    for _ in range(5):  # a delivery under way when the trail was deleted may still add a file
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents") or []:
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        try:
            s3.delete_bucket(Bucket=bucket)
            return
        except ClientError as err:
            if err.response["Error"]["Code"] != "BucketNotEmpty":
                raise
            time.sleep(1)


def delete_role(iam: Any, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def delete_user(iam: Any, name: str, key_id: str) -> None:
    iam.delete_access_key(UserName=name, AccessKeyId=key_id)
    iam.delete_user(UserName=name)


if __name__ == "__main__":
    sys.exit(main())
