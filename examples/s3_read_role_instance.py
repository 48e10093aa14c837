"""The S3-Read-Role example: an application on an EC2 instance reads S3 through the instance's role.

No keys are put on the instance. The instance profile's role is what the application acts as: EC2's
metadata service hands it the role's temporary credentials, which boto3's default chain finds on its own.

Against a running `rolecall serve` (this example runs code "on" an instance with `rolecall ec2 exec`, so
it needs rolecall, not AWS):

    python examples/s3_read_role_instance.py [--endpoint-url URL] [--data-dir DIR] [--keep]

As the account's root user -- the keys from ROLECALL_ROOT_ACCESS_KEY_ID/ROLECALL_ROOT_SECRET_ACCESS_KEY,
else DATA_DIR/credentials, found as `rolecall ec2 exec` finds them -- it
1. creates a bucket of reports with reports/2026.txt in it, and a payroll bucket the role must not read;
2. creates the role S3-Read-Role: EC2 may assume it, and it may list and read the reports bucket only;
3. puts the role in an instance profile and launches an instance with that profile (IMDSv2 required);
4. runs examples/instance_app.py on the instance under `rolecall ec2 exec`: it prints who it is
   (assumed-role/S3-Read-Role/i-...) and how boto3 found credentials ("iam-role"), reads the report,
   and is refused writing to the reports bucket and reading the payroll bucket;
5. prints the trail records of the instance's S3 calls, and cleans everything up unless --keep.
Exit status 0 only when every expectation held.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rolecall.cli.client import add_server_arguments, root_credentials

ROLE_NAME = PROFILE_NAME = "S3-Read-Role"
REPORT_KEY = "reports/2026.txt"
REPORT_BODY = b"2026: revenue up 12%, costs flat\n"
PAYROLL_KEY = "salaries.csv"
AMI = "ami-0123456789abcdef0"
EXAMPLE_TAG = {"Key": "rolecall-example", "Value": "s3-read-role"}  # finds this example's instances
APP = Path(__file__).resolve().with_name("instance_app.py")

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def read_reports_policy(bucket: str) -> dict[str, Any]:
    """The role's permissions: list and read one bucket, nothing else.

    The AWS managed policy AmazonS3ReadOnlyAccess would also do for "reads S3" -- but it allows s3:Get*
    and s3:List* on every bucket, so the instance could read the payroll bucket too. Least privilege
    names the bucket: s3:ListBucket applies to the bucket's ARN, s3:GetObject to its objects' ARNs.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        ],
    }


class Expectations:
    """What the example must show; each failure is printed when it is found and counted at the end."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, held: bool, what: str) -> bool:
        if not held:
            self.failed.append(what)
            print(f"UNEXPECTED: {what}")
        return held


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(p)  # --endpoint-url and --data-dir, as `rolecall ec2 exec` takes them
    p.add_argument("--keep", action="store_true", help="leave the instance, role, profile and buckets")
    return p.parse_args(argv)


# -- 1. buckets -------------------------------------------------------------------------------------------


def ensure_bucket(s3, name: str, why: str) -> None:
    try:
        s3.create_bucket(Bucket=name)
        print(f"created bucket {name}{why}")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
        print(f"using bucket {name}{why}")


# -- 2. role, 3. instance profile and instance -----------------------------------------------------------


def ensure_role(iam, bucket: str) -> str:
    try:
        role = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets applications on EC2 instances read the reports bucket",
        )["Role"]
        print(f"created role {role['Arn']}")
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
        iam.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=json.dumps(TRUST_POLICY))
        print(f"using role {role['Arn']}")
    iam.put_role_policy(
        RoleName=ROLE_NAME, PolicyName="ReadReports", PolicyDocument=json.dumps(read_reports_policy(bucket))
    )
    print(
        f"  trust policy: ec2.amazonaws.com may assume it; inline policy ReadReports: list and read {bucket}"
    )
    return role["Arn"]


def ensure_profile(iam) -> None:
    try:
        profile = iam.create_instance_profile(InstanceProfileName=PROFILE_NAME)["InstanceProfile"]
        print(f"created instance profile {profile['Arn']}")
    except iam.exceptions.EntityAlreadyExistsException:
        profile = iam.get_instance_profile(InstanceProfileName=PROFILE_NAME)["InstanceProfile"]
        print(f"using instance profile {profile['Arn']}")
    if ROLE_NAME not in [r["RoleName"] for r in profile["Roles"]]:
        iam.add_role_to_instance_profile(InstanceProfileName=PROFILE_NAME, RoleName=ROLE_NAME)
    print(f"  with role {ROLE_NAME}")


def launch_instance(ec2) -> str:
    instance = ec2.run_instances(
        ImageId=AMI,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": PROFILE_NAME},
        # IMDSv2 only: credentials are served to token-holding requests (ec2:RoleDelivery 2.0).
        MetadataOptions={"HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [EXAMPLE_TAG]}],
    )["Instances"][0]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    print(f"launched instance {iid} with instance profile {PROFILE_NAME} (IMDSv2 required)")
    return iid


# -- 4. the application on the instance ------------------------------------------------------------------


def run_on_instance(args: argparse.Namespace, iid: str, app_args: list[str]) -> subprocess.CompletedProcess:
    shown = f"rolecall ec2 exec {iid} -- python examples/{APP.name} {' '.join(app_args)}"
    print(f"on the instance: {shown}")
    command = [
        *(sys.executable, "-m", "rolecall", "ec2", "exec", iid),
        *("--endpoint-url", args.endpoint_url, "--data-dir", args.data_dir),
        *("--", sys.executable, str(APP), *app_args),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    sys.stdout.write(result.stdout)
    if result.returncode != 0 and result.stderr:
        sys.stdout.write(result.stderr)
    return result


# -- 5. the trail, and cleaning up -----------------------------------------------------------------------


def instance_s3_records(cloudtrail, iid: str, want: int) -> list[dict[str, Any]]:
    """The trail's records of the instance's S3 calls, oldest first (to the second).

    A role session's Username in the event history is its session name, which for an instance role is
    the instance id. (On AWS, S3 object reads and writes are data events: only a trail configured for
    them records them, and the console's event history never shows them; rolecall keeps every call.)
    """
    deadline = time.time() + 10
    while True:
        pages = cloudtrail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": iid}]
        )
        records = [
            json.loads(e["CloudTrailEvent"])
            for page in pages
            for e in page["Events"]
            if e["EventSource"] == "s3.amazonaws.com"
        ]
        if len(records) >= want or time.time() > deadline:
            return records[::-1]
        time.sleep(0.5)


def describe_record(rec: dict[str, Any]) -> str:
    resources = rec.get("resources") or [{}]
    target = resources[0].get("ARN", "?").replace("arn:aws:s3:::", "s3://")
    delivery = rec["userIdentity"].get("sessionContext", {}).get("ec2RoleDelivery", "-")
    outcome = rec.get("errorCode") or "allowed"
    return f"  {rec['eventName']:<14} {outcome:<13} {rec['userIdentity']['type']:<12} {delivery:<15} {target}"


def check_trail(records: list[dict[str, Any]], role_arn: str, expect: Expectations) -> None:
    for rec in records:
        ident = rec["userIdentity"]
        context = ident.get("sessionContext", {})
        expect.check(
            ident["type"] == "AssumedRole" and context.get("sessionIssuer", {}).get("arn") == role_arn,
            f"{rec['eventName']} was not recorded as a session of {role_arn}: {ident}",
        )
        expect.check(
            context.get("ec2RoleDelivery") == "2.0",
            f"{rec['eventName']} was not recorded with ec2RoleDelivery 2.0 (IMDSv2): {context}",
        )
    seen = [(r["eventName"], r.get("errorCode")) for r in records]
    for wanted in [("GetObject", None), ("PutObject", "AccessDenied"), ("GetObject", "AccessDenied")]:
        expect.check(wanted in seen, f"no trail record of {wanted[0]} ending {wanted[1] or 'allowed'}")


def clean_up(iam, ec2, s3, buckets: list[str]) -> None:
    running = ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{EXAMPLE_TAG['Key']}", "Values": [EXAMPLE_TAG["Value"]]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )
    ids = [i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
    try:
        iam.remove_role_from_instance_profile(InstanceProfileName=PROFILE_NAME, RoleName=ROLE_NAME)
    except ClientError:
        pass  # already removed, or never added
    try:
        iam.delete_instance_profile(InstanceProfileName=PROFILE_NAME)
    except iam.exceptions.NoSuchEntityException:
        pass
    try:
        for name in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]:
            iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName=name)
        for attached in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=ROLE_NAME, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=ROLE_NAME)
    except iam.exceptions.NoSuchEntityException:
        pass
    for bucket in buckets:
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=obj["Key"])
            s3.delete_bucket(Bucket=bucket)
        except s3.exceptions.NoSuchBucket:
            pass
    print(
        f"cleaned up: terminated {', '.join(ids) or 'no instances'}; deleted instance profile and role "
        f"{ROLE_NAME}, buckets {' and '.join(buckets)}"
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    key, secret = root_credentials(args.data_dir)  # exits with a message when there are none
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    iam, ec2, s3, sts, cloudtrail = (
        session.client(name, endpoint_url=args.endpoint_url)
        for name in ("iam", "ec2", "s3", "sts", "cloudtrail")
    )
    account = sts.get_caller_identity()["Account"]
    reports, payroll = f"example-reports-{account}", f"example-payroll-{account}"
    expect = Expectations()
    try:
        ensure_bucket(s3, reports, f" with {REPORT_KEY}")
        s3.put_object(Bucket=reports, Key=REPORT_KEY, Body=REPORT_BODY)
        ensure_bucket(s3, payroll, f" with {PAYROLL_KEY} ({ROLE_NAME} must not read it)")
        s3.put_object(Bucket=payroll, Key=PAYROLL_KEY, Body=b"name,salary\nalice,1\n")
        role_arn = ensure_role(iam, reports)
        ensure_profile(iam)
        iid = launch_instance(ec2)

        app = run_on_instance(args, iid, [reports, REPORT_KEY, payroll, PAYROLL_KEY])
        expect.check(app.returncode == 0, f"the application exited with status {app.returncode}")
        want_arn = f"arn:aws:sts::{account}:assumed-role/{ROLE_NAME}/{iid}"
        expect.check(f"identity:    {want_arn}\n" in app.stdout, f"the application did not run as {want_arn}")

        records = instance_s3_records(cloudtrail, iid, want=4)
        print(f"trail records of the instance's S3 calls (cloudtrail lookup-events, Username={iid}):")
        print(f"  {'eventName':<14} {'outcome':<13} {'userIdentity':<12} {'ec2RoleDelivery':<15} resource")
        for rec in records:
            print(describe_record(rec))
        check_trail(records, role_arn, expect)
    finally:
        if args.keep:
            print(f"kept the instance, instance profile and role {ROLE_NAME}, and the buckets (--keep)")
        else:
            clean_up(iam, ec2, s3, [reports, payroll])
    if expect.failed:
        print(f"{len(expect.failed)} expectation(s) did not hold")
        return 1
    print("every expectation held")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
