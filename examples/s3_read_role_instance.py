"""The S3-Read-Role example: an application on an EC2 instance reads S3 through the instance's role.

No keys are put on the instance. The instance profile's role is what the application acts as: EC2's
metadata service hands it the role's temporary credentials, which boto3's default chain finds on its own.

Against a running `rolecall serve` (this example runs code "on" an instance with `rolecall ec2 exec`, so
it needs rolecall, not AWS):

    python examples/s3_read_role_instance.py [--endpoint-url URL] [--data-dir DIR] [--profile P] [--keep]

As the account's root user -- the keys found as `rolecall ec2 exec` finds them: --profile, else
ROLECALL_ROOT_ACCESS_KEY_ID/ROLECALL_ROOT_SECRET_ACCESS_KEY, else the exported AWS_PROFILE of
AWS_SHARED_CREDENTIALS_FILE, else profile rolecall of DATA_DIR/credentials -- it
1. creates a bucket of reports with reports/2026.txt in it, and a payroll bucket the role must not read;
2. creates the role rolecall-example-S3-Read-Role: EC2 may assume it, and it may list and read the
   reports bucket only;
3. puts the role in an instance profile and launches an instance with that profile (IMDSv2 required);
4. runs examples/instance_app.py on the instance under `rolecall ec2 exec`: it prints who it is
   (assumed-role/rolecall-example-S3-Read-Role/i-...) and how boto3 found credentials ("iam-role"),
   reads the report, and is refused writing to the reports bucket and reading the payroll bucket;
5. prints the trail records of the instance's S3 calls, and deletes what it created unless --keep.

Every name it uses starts with "rolecall-example-", so it never meets the S3-Read-Role of the README's
walk-through, and it changes or deletes only what is its own: what this run created, and what an
earlier run of it left (--keep, or a crash), which it recognises by its mark -- the tag
rolecall-example=s3-read-role on the role, instance profile and instances, and the object
.rolecall-example in the buckets. When something else already has one of its names, it stops (exit
status 2) and leaves that alone. Otherwise the exit status is 0 only when every expectation held.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rolecall.cli.client import add_server_arguments, signing_credentials

PREFIX = "rolecall-example-"  # every name the example uses: none can be the README walk-through's
ROLE_NAME = PROFILE_NAME = f"{PREFIX}S3-Read-Role"
REPORT_KEY = "reports/2026.txt"
REPORT_BODY = b"2026: revenue up 12%, costs flat\n"
PAYROLL_KEY = "salaries.csv"
AMI = "ami-0123456789abcdef0"
# The example's mark on what it creates; only what carries it is ever reused, changed or deleted.
MARK_KEY, MARK_VALUE = "rolecall-example", "s3-read-role"
MARK_TAGS = [{"Key": MARK_KEY, "Value": MARK_VALUE}]
MARK_OBJECT = ".rolecall-example"  # S3 buckets carry the mark as an object (rolecall has no bucket tags)
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


class NotOurs(Exception):
    """A resource has one of the example's names but not its mark: the example stops and leaves it be."""

    def __init__(self, kind: str, name: str, why: str) -> None:
        super().__init__(
            f"{kind} {name} already exists and {why}, so this example did not create it; it neither uses "
            f"nor deletes it. Delete or rename it if it is yours to, then run the example again."
        )


class Owned:
    """What this run may delete: what it created, and what an earlier run of it left, newest first."""

    def __init__(self) -> None:
        self.undo: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, delete: Callable[[], None]) -> None:
        self.undo.insert(0, (what, delete))

    def delete_all(self) -> None:
        if not self.undo:
            print("cleaned up: nothing to delete")
            return
        print("cleaned up (only what this example created):")
        for what, delete in self.undo:
            try:
                delete()
            except ClientError as exc:  # e.g. deleted by hand meanwhile: say so, and go on with the rest
                print(f"  could not: {what}: {error_code(exc)}")
            else:
                print(f"  {what}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(p)  # --endpoint-url, --data-dir and --profile, as `rolecall ec2 exec` takes them
    p.add_argument("--keep", action="store_true", help="leave the instance, role, profile and buckets")
    return p.parse_args(argv)


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def reused(what: str) -> str:
    return f"using {what} (left by an earlier run of this example)"


# -- 1. buckets -------------------------------------------------------------------------------------------


def empty_and_delete_bucket(s3, name: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def ensure_bucket(s3, name: str, why: str, owned: Owned) -> None:
    # Asked first: in us-east-1, CreateBucket succeeds on a bucket the caller already owns, as on AWS,
    # so its success would not tell the example's new bucket from the user's.
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) == "403":
            raise NotOurs("bucket", name, "belongs to another account") from None
        if error_code(exc) not in ("404", "NoSuchBucket"):
            raise
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key=MARK_OBJECT, Body=MARK_VALUE.encode())
        print(f"created bucket {name}{why}")
    else:
        try:
            mark = s3.get_object(Bucket=name, Key=MARK_OBJECT)["Body"].read().decode()
        except ClientError as exc:
            if error_code(exc) != "NoSuchKey":
                raise
            mark = None
        if mark != MARK_VALUE:
            raise NotOurs("bucket", name, f"has no object {MARK_OBJECT} saying {MARK_VALUE}")
        print(reused(f"bucket {name}{why}"))
    owned.add(f"deleted bucket {name} and its objects", lambda: empty_and_delete_bucket(s3, name))


# -- 2. role, 3. instance profile and instance -----------------------------------------------------------


def is_marked(tags: list[dict[str, str]]) -> bool:
    return {"Key": MARK_KEY, "Value": MARK_VALUE} in tags


def delete_role(iam) -> None:
    for name in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]:
        iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=ROLE_NAME, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=ROLE_NAME)


def ensure_role(iam, bucket: str, owned: Owned) -> str:
    try:
        role = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets applications on EC2 instances read the reports bucket",
            Tags=MARK_TAGS,
        )["Role"]
        print(f"created role {role['Arn']}")
    except iam.exceptions.EntityAlreadyExistsException:
        if not is_marked(iam.list_role_tags(RoleName=ROLE_NAME)["Tags"]):
            raise NotOurs("role", ROLE_NAME, f"has no tag {MARK_KEY}={MARK_VALUE}") from None
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
        iam.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=json.dumps(TRUST_POLICY))
        print(reused(f"role {role['Arn']}"))
    owned.add(f"deleted role {ROLE_NAME} and its policies", lambda: delete_role(iam))
    iam.put_role_policy(
        RoleName=ROLE_NAME, PolicyName="ReadReports", PolicyDocument=json.dumps(read_reports_policy(bucket))
    )
    print(
        f"  trust policy: ec2.amazonaws.com may assume it; inline policy ReadReports: list and read {bucket}"
    )
    return role["Arn"]


def delete_profile(iam) -> None:
    profile = iam.get_instance_profile(InstanceProfileName=PROFILE_NAME)["InstanceProfile"]
    for role in profile["Roles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=PROFILE_NAME, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=PROFILE_NAME)


def ensure_profile(iam, owned: Owned) -> None:
    try:
        profile = iam.create_instance_profile(InstanceProfileName=PROFILE_NAME, Tags=MARK_TAGS)[
            "InstanceProfile"
        ]
        print(f"created instance profile {profile['Arn']}")
    except iam.exceptions.EntityAlreadyExistsException:
        tags = iam.list_instance_profile_tags(InstanceProfileName=PROFILE_NAME)["Tags"]
        if not is_marked(tags):
            raise NotOurs("instance profile", PROFILE_NAME, f"has no tag {MARK_KEY}={MARK_VALUE}") from None
        profile = iam.get_instance_profile(InstanceProfileName=PROFILE_NAME)["InstanceProfile"]
        print(reused(f"instance profile {profile['Arn']}"))
    owned.add(f"deleted instance profile {PROFILE_NAME}", lambda: delete_profile(iam))
    if ROLE_NAME not in [r["RoleName"] for r in profile["Roles"]]:
        iam.add_role_to_instance_profile(InstanceProfileName=PROFILE_NAME, RoleName=ROLE_NAME)
    print(f"  with role {ROLE_NAME}")


def earlier_instances(ec2) -> list[str]:
    """Instances an earlier run launched and left: they carry the mark, and use the profile about to go."""
    found = ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{MARK_KEY}", "Values": [MARK_VALUE]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )
    return [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]


def launch_instance(ec2, owned: Owned) -> str:
    for iid in earlier_instances(ec2):  # they would be left with a deleted profile: they go with it
        print(f"found instance {iid} (left by an earlier run of this example)")
        owned.add(f"terminated instance {iid} (left by an earlier run)", terminate(ec2, iid))
    instance = ec2.run_instances(
        ImageId=AMI,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": PROFILE_NAME},
        # IMDSv2 only: credentials are served to token-holding requests (ec2:RoleDelivery 2.0).
        MetadataOptions={"HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": MARK_TAGS}],
    )["Instances"][0]
    iid = instance["InstanceId"]
    owned.add(f"terminated instance {iid}", terminate(ec2, iid))
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    print(f"launched instance {iid} with instance profile {PROFILE_NAME} (IMDSv2 required)")
    return iid


def terminate(ec2, iid: str) -> Callable[[], None]:
    return lambda: ec2.terminate_instances(InstanceIds=[iid])


# -- 4. the application on the instance ------------------------------------------------------------------


def run_on_instance(args: argparse.Namespace, iid: str, app_args: list[str]) -> subprocess.CompletedProcess:
    shown = f"rolecall ec2 exec {iid} -- python examples/{APP.name} {' '.join(app_args)}"
    print(f"on the instance: {shown}")
    command = [
        *(sys.executable, "-m", "rolecall", "ec2", "exec", iid),
        *("--endpoint-url", args.endpoint_url, "--data-dir", args.data_dir),
        *(("--profile", args.profile) if args.profile else ()),
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


def run(args: argparse.Namespace, session: boto3.Session, owned: Owned, expect: Expectations) -> None:
    iam, ec2, s3, sts, cloudtrail = (
        session.client(name, endpoint_url=args.endpoint_url)
        for name in ("iam", "ec2", "s3", "sts", "cloudtrail")
    )
    account = sts.get_caller_identity()["Account"]
    reports, payroll = f"{PREFIX}reports-{account}", f"{PREFIX}payroll-{account}"
    ensure_bucket(s3, reports, f" with {REPORT_KEY}", owned)
    s3.put_object(Bucket=reports, Key=REPORT_KEY, Body=REPORT_BODY)
    ensure_bucket(s3, payroll, f" with {PAYROLL_KEY} (the role must not read it)", owned)
    s3.put_object(Bucket=payroll, Key=PAYROLL_KEY, Body=b"name,salary\nalice,1\n")
    role_arn = ensure_role(iam, reports, owned)
    ensure_profile(iam, owned)
    iid = launch_instance(ec2, owned)

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


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signer = signing_credentials(args)  # as `rolecall ec2 exec` finds them; exits with a message if none
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.Session(
        aws_access_key_id=signer.access_key_id,
        aws_secret_access_key=signer.secret_access_key,
        region_name=region,
    )
    owned, expect = Owned(), Expectations()
    stopped = None
    try:
        run(args, session, owned, expect)
    except NotOurs as exc:
        stopped = str(exc)
        print(f"stopped: {stopped}")
    finally:
        if args.keep:
            print("kept what this example created (--keep); a later run uses it, and deletes it")
        else:
            owned.delete_all()
    if stopped:
        return 2
    if expect.failed:
        print(f"{len(expect.failed)} expectation(s) did not hold")
        return 1
    print("every expectation held")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
