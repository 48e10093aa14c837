"""The DynamoDB example: an application on an EC2 instance reads a DynamoDB table through the instance's role,
and only the items whose key is its own.

The role's policy is DynamoDB's documented fine-grained access control: GetItem, Query and BatchGetItem on
one table, on condition that every partition key the request names (dynamodb:LeadingKeys) is the caller's
own user id, ${aws:userid} -- for an instance's role session the role's id and the instance id,
"AROA...:i-...". Each instance of the fleet then reads its own items and no other instance's, from one
shared table, with no key on any instance.

Against a running `rolecall serve` (the application runs "on" an instance with `rolecall ec2 exec`):

    python examples/dynamodb_instance_role.py [--endpoint-url URL] [--data-dir DIR] [--profile P] [--keep]

As the account's root user (keys found as `rolecall ec2 exec` finds them) it
1. creates the table rolecall-example-instance-notes (partition key owner, sort key note);
2. creates the role rolecall-example-DynamoDB-Read-Role: EC2 may assume it, and it may read that table's
   items whose owner is ${aws:userid};
3. puts the role in an instance profile and launches two instances with it (IMDSv2 required), and writes
   one item for each, keyed by that instance's user id;
4. runs examples/dynamodb_instance_app.py on the first instance: it reads its own item and queries its
   own partition, and is refused the second instance's item, a scan and a write;
5. prints the trail records of the instance's DynamoDB calls, and deletes what it created unless --keep.

Every name starts with "rolecall-example-", and it changes or deletes only what is its own: what this run
created and what an earlier run left (--keep, or a crash), recognised by its mark -- the tag
rolecall-example=dynamodb-instance-role on the role, instance profile and instances, and the item whose
owner is ".rolecall-example" in the table. When something else has one of its names, it stops (exit
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

PREFIX = "rolecall-example-"
ROLE_NAME = PROFILE_NAME = f"{PREFIX}DynamoDB-Read-Role"
TABLE = f"{PREFIX}instance-notes"
AMI = "ami-0123456789abcdef0"
MARK_KEY, MARK_VALUE = "rolecall-example", "dynamodb-instance-role"
MARK_TAGS = [{"Key": MARK_KEY, "Value": MARK_VALUE}]
MARK_ITEM = {"owner": {"S": ".rolecall-example"}, "note": {"S": "mark"}}  # the table's mark
APP = Path(__file__).resolve().with_name("dynamodb_instance_app.py")

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def own_items_policy(table_arn: str) -> dict[str, Any]:
    """Read one table, only the items whose partition key is the caller's aws:userid.

    ForAllValues: every partition key the request names must match. A Scan names none, so it would pass
    the condition: it is left out of the actions instead, as DynamoDB's documentation does.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"],
                "Resource": table_arn,
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}},
            }
        ],
    }


class Expectations:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, held: bool, what: str) -> bool:
        if not held:
            self.failed.append(what)
            print(f"UNEXPECTED: {what}")
        return held


class NotOurs(Exception):
    def __init__(self, kind: str, name: str, why: str) -> None:
        super().__init__(
            f"{kind} {name} already exists and {why}, so this example did not create it; it neither uses "
            f"nor deletes it. Delete or rename it if it is yours to, then run the example again."
        )


class Owned:
    """What this run may delete, newest first."""

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
            except ClientError as exc:
                print(f"  could not: {what}: {exc.response['Error']['Code']}")
            else:
                print(f"  {what}")


def reused(what: str) -> str:
    return f"using {what} (left by an earlier run of this example)"


def is_marked(tags: list[dict[str, str]]) -> bool:
    return {"Key": MARK_KEY, "Value": MARK_VALUE} in tags


# -- 1. the table ------------------------------------------------------------------------------------------


def ensure_table(ddb, owned: Owned) -> str:
    try:
        arn = ddb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "owner", "AttributeType": "S"},
                {"AttributeName": "note", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "owner", "KeyType": "HASH"},
                {"AttributeName": "note", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableArn"]
        ddb.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        ddb.put_item(TableName=TABLE, Item={**MARK_ITEM, "mark": {"S": MARK_VALUE}})
        print(f"created table {arn}")
    except ddb.exceptions.ResourceInUseException:
        try:
            mark = ddb.get_item(TableName=TABLE, Key=MARK_ITEM).get("Item", {}).get("mark", {}).get("S")
        except ClientError as exc:  # another key schema: not the example's table either
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
            mark = None
        if mark != MARK_VALUE:
            raise NotOurs(
                "table", TABLE, f"has no item of owner .rolecall-example saying {MARK_VALUE}"
            ) from None
        arn = ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]
        print(reused(f"table {arn}"))
    owned.add(f"deleted table {TABLE} and its items", lambda: ddb.delete_table(TableName=TABLE))
    return str(arn)


# -- 2. role, 3. instance profile and instances ------------------------------------------------------------


def delete_role(iam) -> None:
    for name in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]:
        iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=ROLE_NAME, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=ROLE_NAME)


def ensure_role(iam, table_arn: str, owned: Owned) -> dict[str, Any]:
    try:
        role = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets each instance read its own items of the notes table",
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
        RoleName=ROLE_NAME, PolicyName="ReadOwnItems", PolicyDocument=json.dumps(own_items_policy(table_arn))
    )
    print(
        "  inline policy ReadOwnItems: GetItem, Query, BatchGetItem where dynamodb:LeadingKeys = ${aws:userid}"
    )
    return dict(role)


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
        if not is_marked(iam.list_instance_profile_tags(InstanceProfileName=PROFILE_NAME)["Tags"]):
            raise NotOurs("instance profile", PROFILE_NAME, f"has no tag {MARK_KEY}={MARK_VALUE}") from None
        profile = iam.get_instance_profile(InstanceProfileName=PROFILE_NAME)["InstanceProfile"]
        print(reused(f"instance profile {profile['Arn']}"))
    owned.add(f"deleted instance profile {PROFILE_NAME}", lambda: delete_profile(iam))
    if ROLE_NAME not in [r["RoleName"] for r in profile["Roles"]]:
        iam.add_role_to_instance_profile(InstanceProfileName=PROFILE_NAME, RoleName=ROLE_NAME)


def terminate(ec2, iids: list[str]) -> Callable[[], None]:
    return lambda: ec2.terminate_instances(InstanceIds=iids)


def launch_instances(ec2, owned: Owned) -> list[str]:
    found = ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{MARK_KEY}", "Values": [MARK_VALUE]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )
    for iid in [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]:
        print(f"found instance {iid} (left by an earlier run of this example)")
        owned.add(f"terminated instance {iid} (left by an earlier run)", terminate(ec2, [iid]))
    launched = ec2.run_instances(
        ImageId=AMI,
        InstanceType="t3.micro",
        MinCount=2,
        MaxCount=2,
        IamInstanceProfile={"Name": PROFILE_NAME},
        MetadataOptions={"HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": MARK_TAGS}],
    )["Instances"]
    iids = [i["InstanceId"] for i in launched]
    owned.add(f"terminated instances {' '.join(iids)}", terminate(ec2, iids))
    ec2.get_waiter("instance_running").wait(InstanceIds=iids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    print(f"launched instances {' '.join(iids)} with instance profile {PROFILE_NAME} (IMDSv2 required)")
    return iids


# -- 4. the application, 5. the trail ---------------------------------------------------------------------


def run_on_instance(args: argparse.Namespace, iid: str, app_args: list[str]) -> subprocess.CompletedProcess:
    print(f"on instance {iid}: rolecall ec2 exec {iid} -- python examples/{APP.name} {' '.join(app_args)}")
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


def instance_records(cloudtrail, iid: str, want: int) -> list[dict[str, Any]]:
    """The trail's records of the instance's DynamoDB calls, oldest first (its Username is the instance id)."""
    deadline = time.time() + 10
    while True:
        pages = cloudtrail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": iid}]
        )
        records = [
            json.loads(e["CloudTrailEvent"])
            for page in pages
            for e in page["Events"]
            if e["EventSource"] == "dynamodb.amazonaws.com"
        ]
        if len(records) >= want or time.time() > deadline:
            return records[::-1]
        time.sleep(0.5)


def run(args: argparse.Namespace, session: boto3.Session, owned: Owned, expect: Expectations) -> None:
    iam, ec2, ddb, cloudtrail = (
        session.client(name, endpoint_url=args.endpoint_url)
        for name in ("iam", "ec2", "dynamodb", "cloudtrail")
    )
    table_arn = ensure_table(ddb, owned)
    role = ensure_role(iam, table_arn, owned)
    ensure_profile(iam, owned)
    first, second = launch_instances(ec2, owned)
    owners = {iid: f"{role['RoleId']}:{iid}" for iid in (first, second)}
    for iid, owner in owners.items():
        ddb.put_item(
            TableName=TABLE,
            Item={"owner": {"S": owner}, "note": {"S": "greeting"}, "text": {"S": f"hello, {iid}"}},
        )
        print(f"wrote an item for {iid}: owner {owner}")

    app = run_on_instance(args, first, [TABLE, owners[second]])
    expect.check(app.returncode == 0, f"the application exited with status {app.returncode}")

    records = instance_records(cloudtrail, first, want=5)
    print(f"trail records of the instance's DynamoDB calls (cloudtrail lookup-events, Username={first}):")
    for rec in records:
        print(f"  {rec['eventName']:<9} {rec.get('errorCode') or 'allowed':<13} {rec['userIdentity']['arn']}")
    seen = [(r["eventName"], r.get("errorCode")) for r in records]
    for wanted in [("GetItem", None), ("Query", None), ("GetItem", "AccessDenied"), ("Scan", "AccessDenied")]:
        expect.check(wanted in seen, f"no trail record of {wanted[0]} ending {wanted[1] or 'allowed'}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(p)
    p.add_argument("--keep", action="store_true", help="leave the table, role, profile and instances")
    args = p.parse_args(argv)
    signer = signing_credentials(args)
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
