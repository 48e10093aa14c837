"""The Lambda logging role example: a service role needs a trust policy AND a permissions policy.

Against a running rolecall (or AWS itself), with credentials allowed to manage IAM and Lambda:

    export AWS_ENDPOINT_URL=http://127.0.0.1:4577 AWS_REGION=us-east-1
    export AWS_SHARED_CREDENTIALS_FILE=~/.rolecall/credentials AWS_PROFILE=rolecall
    python examples/lambda_logging_role.py [--keep]

1. creates the role rolecall-example-Lambda-Logging-Role: its trust policy lets lambda.amazonaws.com
   assume it, and the AWS managed policy AWSLambdaBasicExecutionRole lets it create log groups and
   streams and put log events;
2. creates a Python function, rolecall-example-lambda-logging, running with that role, which prints a
   few lines;
3. creates the function's log group /aws/lambda/<function>, where Lambda writes its logs;
4. invokes it: Lambda assumes the role, runs the function, and writes the START/END/REPORT lines and
   what the function printed to a new stream in the log group -- with the role's credentials;
5. reads this invocation's log lines back with logs:FilterLogEvents and prints them;
6. deletes what it created, unless --keep.

It changes or deletes only what is its own: what this run created, and what an earlier run of it left
(--keep, or a crash), which it recognises by its mark -- the tag rolecall-example=lambda-logging-role
on the role and the function, and a log stream of that name in the log group. When something else
already has one of its names, it stops (exit status 2) and leaves that alone. Otherwise the exit
status is 0 only when every expectation held.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

PREFIX = "rolecall-example-"  # every name the example uses starts with it
ROLE_NAME = f"{PREFIX}Lambda-Logging-Role"
FUNCTION_NAME = f"{PREFIX}lambda-logging"
LOG_GROUP = f"/aws/lambda/{FUNCTION_NAME}"
BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# The example's mark on what it creates; only what carries it is ever reused, changed or deleted.
MARK_KEY, MARK_VALUE = "rolecall-example", "lambda-logging-role"
MARK_STREAM = f"{MARK_KEY}={MARK_VALUE}"  # log groups carry the mark as a stream (rolecall has no log tags)

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

FUNCTION_SOURCE = """
import boto3

def handler(event, context):
    print(f"Hello from {context.function_name}, invoked with {event}")
    identity = boto3.client("sts").get_caller_identity()
    print(f"running as {identity['Arn']}")
    return {"greeting": f"hello, {event.get('name', 'world')}"}
"""


class NotOurs(Exception):
    """A resource has one of the example's names but not its mark: the example stops and leaves it be."""

    def __init__(self, kind: str, name: str, why: str = f"has no tag {MARK_KEY}={MARK_VALUE}") -> None:
        super().__init__(
            f"{kind} {name} already exists and {why}, so this example did not create it; it neither uses "
            "nor deletes it. Delete or rename it if it is yours to, then run the example again."
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
                print(f"  could not: {what}: {exc.response['Error']['Code']}")
            else:
                print(f"  {what}")


class Expectations:
    """What the example must show; each failure is printed when it is found and counted at the end."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, held: bool, what: str) -> bool:
        if not held:
            self.failed.append(what)
            print(f"UNEXPECTED: {what}")
        return held


def package(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", source)
    return buf.getvalue()


def reused(what: str) -> str:
    return f"{what} (left by an earlier run of this example)"


def delete_role(iam) -> None:
    for name in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]:
        iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=ROLE_NAME, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=ROLE_NAME)


def ensure_role(iam, owned: Owned) -> str:
    try:
        role = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets Lambda functions write their logs to CloudWatch Logs",
            Tags=[{"Key": MARK_KEY, "Value": MARK_VALUE}],
        )["Role"]
        print(f"created role {role['Arn']}")
    except iam.exceptions.EntityAlreadyExistsException:
        if {"Key": MARK_KEY, "Value": MARK_VALUE} not in iam.list_role_tags(RoleName=ROLE_NAME)["Tags"]:
            raise NotOurs("role", ROLE_NAME) from None
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
        iam.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=json.dumps(TRUST_POLICY))
        print(reused(f"using role {role['Arn']}"))
    owned.add(f"deleted role {ROLE_NAME}", lambda: delete_role(iam))
    iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=BASIC_EXECUTION_ROLE)
    print("  trust policy: lambda.amazonaws.com may assume it; attached AWSLambdaBasicExecutionRole")
    return role["Arn"]


def create_function(lam, role_arn: str, owned: Owned) -> None:
    try:
        tags = lam.get_function(FunctionName=FUNCTION_NAME).get("Tags", {})
    except lam.exceptions.ResourceNotFoundException:
        replacing = False
    else:
        if tags.get(MARK_KEY) != MARK_VALUE:
            raise NotOurs("function", FUNCTION_NAME)
        lam.delete_function(FunctionName=FUNCTION_NAME)  # the example's own: replaced by today's code
        replacing = True
    for attempt in range(10):  # on AWS a new role takes a few seconds to become assumable
        try:
            lam.create_function(
                FunctionName=FUNCTION_NAME,
                Runtime="python3.12",
                Role=role_arn,
                Handler="lambda_function.handler",
                Code={"ZipFile": package(FUNCTION_SOURCE)},
                Timeout=15,
                Tags={MARK_KEY: MARK_VALUE},
            )
            break
        except lam.exceptions.InvalidParameterValueException as exc:
            if "cannot be assumed" not in str(exc) or attempt == 9:
                raise
            time.sleep(3)
    owned.add(f"deleted function {FUNCTION_NAME}", lambda: lam.delete_function(FunctionName=FUNCTION_NAME))
    lam.get_waiter("function_active_v2").wait(FunctionName=FUNCTION_NAME)
    print(reused(f"replaced function {FUNCTION_NAME}") if replacing else f"created function {FUNCTION_NAME}")


def ensure_log_group(logs, owned: Owned) -> None:
    """The function's log group, made by the example so that a later run can tell it is the example's.

    (Lambda would create it on the first invocation, as the role; a group made that way carries no mark.)
    """
    try:
        logs.create_log_group(logGroupName=LOG_GROUP)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=MARK_STREAM)
        print(f"created log group {LOG_GROUP}")
    except logs.exceptions.ResourceAlreadyExistsException:
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=MARK_STREAM)
        if not any(st["logStreamName"] == MARK_STREAM for st in streams["logStreams"]):
            raise NotOurs("log group", LOG_GROUP, f"has no log stream {MARK_STREAM}") from None
        print(reused(f"using log group {LOG_GROUP}"))
    owned.add(f"deleted log group {LOG_GROUP}", lambda: logs.delete_log_group(logGroupName=LOG_GROUP))


def invocation_log(logs, request_id: str, since_ms: int) -> list[dict[str, Any]]:
    """The events of the log stream this invocation wrote (one stream per invocation, found by its START).

    Only that stream: the group may hold earlier runs' streams, which are not this run's to show.
    """
    start = f"START RequestId: {request_id}"
    deadline = time.time() + 60
    while True:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=LOG_GROUP, startTime=since_ms
            )
            events = [e for page in pages for e in page["events"]]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        stream = next((e["logStreamName"] for e in events if e["message"].startswith(start)), None)
        lines = [e for e in events if e["logStreamName"] == stream]
        done = any(e["message"].startswith(f"REPORT RequestId: {request_id}") for e in lines)
        if done or time.time() > deadline:
            return lines
        time.sleep(1)


def run(session: boto3.Session, owned: Owned, expect: Expectations) -> None:
    iam, lam, logs = session.client("iam"), session.client("lambda"), session.client("logs")
    role_arn = ensure_role(iam, owned)
    create_function(lam, role_arn, owned)
    ensure_log_group(logs, owned)

    since_ms = int(time.time() * 1000) - 1000
    response = lam.invoke(FunctionName=FUNCTION_NAME, Payload=json.dumps({"name": "rolecall"}).encode())
    result = json.loads(response["Payload"].read())
    request_id = response["ResponseMetadata"]["RequestId"]
    print(f"invoked {FUNCTION_NAME}: status {response['StatusCode']}, result {result}")
    if not expect.check(not response.get("FunctionError"), f"the function failed: {result}"):
        return
    expect.check(result == {"greeting": "hello, rolecall"}, f"the function returned {result}")

    events = invocation_log(logs, request_id, since_ms)
    stream = events[0]["logStreamName"] if events else "none"
    print(f"log lines in {LOG_GROUP}, stream {stream}:")
    lines = [e["message"].rstrip() for e in events]
    for line in lines:
        print(f"  {line}")
    account = role_arn.split(":")[4]
    wanted = f"running as arn:aws:sts::{account}:assumed-role/{ROLE_NAME}/{FUNCTION_NAME}"
    expect.check(wanted in lines, f"no log line {wanted!r}: the role's logs were lost")
    expect.check(
        bool(lines) and lines[-1].startswith(f"REPORT RequestId: {request_id}"),
        "the invocation's log does not end with its REPORT line",
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", action="store_true", help="leave the role, the function and its log group")
    args = p.parse_args(argv)
    session = boto3.Session()
    if session.region_name is None:  # older SDKs read AWS_DEFAULT_REGION only
        session = boto3.Session(region_name=os.environ.get("AWS_REGION", "us-east-1"))
    owned, expect = Owned(), Expectations()
    stopped = None
    try:
        run(session, owned, expect)
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
