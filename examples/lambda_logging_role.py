"""The Lambda-Logging-Role example: a service role needs a trust policy AND a permissions policy.

Against a running rolecall (or AWS itself), with credentials allowed to manage IAM and Lambda:

    export AWS_ENDPOINT_URL=http://127.0.0.1:4577 AWS_REGION=us-east-1
    export AWS_SHARED_CREDENTIALS_FILE=~/.rolecall/credentials AWS_PROFILE=rolecall
    python examples/lambda_logging_role.py

1. creates the role Lambda-Logging-Role: its trust policy lets lambda.amazonaws.com assume it, and the
   AWS managed policy AWSLambdaBasicExecutionRole lets it create log groups and streams and put log events;
2. creates a Python function running with that role, which prints a few lines;
3. invokes it: Lambda assumes the role, runs the function, and writes the START/END/REPORT lines and
   what the function printed to the log group /aws/lambda/<function> -- with the role's credentials;
4. reads the log lines back with logs:FilterLogEvents and prints them.

Running it again reuses the role and replaces the function.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile

import boto3

ROLE_NAME = "Lambda-Logging-Role"
FUNCTION_NAME = "lambda-logging-example"
BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

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


def package(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", source)
    return buf.getvalue()


def ensure_role(iam) -> str:
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
        print(f"using role {role['Arn']}")
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets Lambda functions write their logs to CloudWatch Logs",
        )["Role"]
        print(f"created role {role['Arn']}")
    iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=BASIC_EXECUTION_ROLE)
    return role["Arn"]


def create_function(lam, role_arn: str) -> None:
    try:
        lam.delete_function(FunctionName=FUNCTION_NAME)
    except lam.exceptions.ResourceNotFoundException:
        pass
    for attempt in range(10):  # on AWS a new role takes a few seconds to become assumable
        try:
            lam.create_function(
                FunctionName=FUNCTION_NAME,
                Runtime="python3.12",
                Role=role_arn,
                Handler="lambda_function.handler",
                Code={"ZipFile": package(FUNCTION_SOURCE)},
                Timeout=15,
            )
            break
        except lam.exceptions.InvalidParameterValueException as exc:
            if "cannot be assumed" not in str(exc) or attempt == 9:
                raise
            time.sleep(3)
    lam.get_waiter("function_active_v2").wait(FunctionName=FUNCTION_NAME)
    print(f"created function {FUNCTION_NAME}")


def read_logs(logs, group: str, request_id: str) -> list[str]:
    deadline = time.time() + 60
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        lines = [e["message"].rstrip("\n") for e in events]
        if (
            any(line.startswith(f"REPORT RequestId: {request_id}") for line in lines)
            or time.time() > deadline
        ):
            return lines
        time.sleep(1)


def main() -> int:
    session = boto3.Session()
    if session.region_name is None:  # older SDKs read AWS_DEFAULT_REGION only
        session = boto3.Session(region_name=os.environ.get("AWS_REGION", "us-east-1"))
    iam, lam, logs = session.client("iam"), session.client("lambda"), session.client("logs")
    role_arn = ensure_role(iam)
    create_function(lam, role_arn)

    response = lam.invoke(FunctionName=FUNCTION_NAME, Payload=json.dumps({"name": "rolecall"}).encode())
    result = json.loads(response["Payload"].read())
    request_id = response["ResponseMetadata"]["RequestId"]
    print(f"invoked {FUNCTION_NAME}: status {response['StatusCode']}, result {result}")
    if response.get("FunctionError"):
        print(f"the function failed: {result}", file=sys.stderr)
        return 1

    group = f"/aws/lambda/{FUNCTION_NAME}"
    print(f"log lines in {group}:")
    for line in read_logs(logs, group, request_id):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
