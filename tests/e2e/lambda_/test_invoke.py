"""Invoking Lambda functions against a real server: results, errors, timeouts, the execution role, logs.

The functions run in real subprocesses and call back into the server with boto3, as the execution role.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.lambda_.helpers import (
    ACCOUNT,
    allow,
    create_function,
    doc,
    invoke_json,
    lambda_trust,
    log_messages,
    make_role,
    trail_events,
)
from tests.servers import InProcessServer

CALLER = """
import os
import boto3

def handler(event, context):
    print("event", event["n"])
    identity = boto3.client("sts").get_caller_identity()
    return {
        "arn": identity["Arn"],
        "n": event["n"] * 2,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "invoked_arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
    }
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("lambda-run")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def role(srv):
    return make_role(srv)


def test_invoke_returns_the_result_with_the_execution_role(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], CALLER, Timeout=30, Environment={"Variables": {"STAGE": "t"}})[
        "FunctionName"
    ]
    response, result = invoke_json(lam, name, {"n": 21}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result["n"] == 42
    # boto3 inside the function reached rolecall as the execution role, session named after the function.
    assert result["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{name}"
    assert result["function_name"] == name
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["invoked_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert result["log_group"] == f"/aws/lambda/{name}"
    assert result["log_stream"].endswith("]" + result["log_stream"].rsplit("]", 1)[1])
    assert "/[$LATEST]" in result["log_stream"]
    assert 25_000 < result["remaining"] <= 30_000
    env = result["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name and env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128" and env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"] == srv.url and env["STAGE"] == "t"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"] and env["_HANDLER"] == "app.handler"
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    # Nothing of the server's own environment: no ROLECALL_* (the test process has some), no other AWS_*.
    assert not [k for k in env if k.startswith("ROLECALL_")]
    assert {k for k in env if k.startswith("AWS_")} == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_CONFIG_FILE",  # both /dev/null: the server user's ~/.aws profiles stay out of reach
        "AWS_SHARED_CREDENTIALS_FILE",
    }
    assert srv.secret_key not in json.dumps(env) and srv.access_key not in json.dumps(env)
    # The tail of the log rides along, and the same lines are in CloudWatch Logs.
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {result['request_id']} Version: $LATEST" in tail
    assert "event 21" in tail and f"END RequestId: {result['request_id']}" in tail
    assert f"REPORT RequestId: {result['request_id']}\tDuration: " in tail and "Max Memory Used:" in tail
    messages = log_messages(srv, name)
    assert messages[0] == f"START RequestId: {result['request_id']} Version: $LATEST"
    assert "event 21" in messages and messages[-2] == f"END RequestId: {result['request_id']}"
    assert messages[-1].startswith(f"REPORT RequestId: {result['request_id']}\tDuration: ")
    streams = srv.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [result["log_stream"]]
    events = srv.client("logs").get_log_events(
        logGroupName=f"/aws/lambda/{name}", logStreamName=result["log_stream"], startFromHead=True
    )["events"]
    assert [e["message"] for e in events] == messages
    # The function's calls are in the trail under the role's session.
    records = [
        r
        for r in trail_events(srv, "GetCallerIdentity")
        if r["userIdentity"].get("arn", "").endswith(f"/{name}")
    ]
    assert records and records[0]["userIdentity"]["type"] == "AssumedRole"


def test_the_function_acts_with_its_role_permissions_only(srv):
    lam = srv.client("lambda")
    iam_reader = make_role(srv, inline=doc(allow(["iam:GetRole", "iam:TagRole"])))
    source = """
    import boto3
    from botocore.exceptions import ClientError

    def handler(event, context):
        iam = boto3.client("iam")
        iam.tag_role(RoleName=event["role"], Tags=[{"Key": "seen-by", "Value": context.function_name}])
        out = {"tags": iam.get_role(RoleName=event["role"])["Role"].get("Tags")}
        try:
            iam.list_users()
        except ClientError as exc:
            out["denied"] = exc.response["Error"]["Message"]
        return out
    """
    name = create_function(lam, iam_reader["Arn"], source, Timeout=30)["FunctionName"]
    started = time.monotonic()
    _, result = invoke_json(lam, name, {"role": iam_reader["RoleName"]})
    # tag_role writes to the store while Invoke is in flight: no lock of Invoke's may be held (no 30 s wait).
    assert time.monotonic() - started < 10
    assert result["tags"] == [{"Key": "seen-by", "Value": name}]
    assert result["denied"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{iam_reader['RoleName']}/{name} is not authorized to perform: "
        "iam:ListUsers on resource: "
    )


def test_the_function_reads_and_writes_s3_as_its_role(srv):
    bucket = f"fn-data-{int(time.time() * 1000)}"
    srv.client("s3").create_bucket(Bucket=bucket)
    srv.client("s3").put_object(Bucket=bucket, Key="in/hello.txt", Body=b"hello from the test")
    writer = make_role(
        srv,
        inline=doc(
            allow("s3:GetObject", f"arn:aws:s3:::{bucket}/in/*"),
            allow("s3:PutObject", f"arn:aws:s3:::{bucket}/out/*"),
        ),
    )
    source = """
    import boto3
    from botocore.exceptions import ClientError

    def handler(event, context):
        s3 = boto3.client("s3")
        text = s3.get_object(Bucket=event["bucket"], Key="in/hello.txt")["Body"].read().decode()
        s3.put_object(Bucket=event["bucket"], Key="out/copy.txt", Body=text.upper().encode())
        try:
            s3.put_object(Bucket=event["bucket"], Key="in/overwrite.txt", Body=b"no")
            return "wrote where it may not"
        except ClientError as exc:
            return exc.response["Error"]["Code"]
    """
    name = create_function(srv.client("lambda"), writer["Arn"], source, Timeout=30)["FunctionName"]
    assert invoke_json(srv.client("lambda"), name, {"bucket": bucket})[1] == "AccessDenied"
    copy = srv.client("s3").get_object(Bucket=bucket, Key="out/copy.txt")["Body"].read()
    assert copy == b"HELLO FROM THE TEST"


def test_an_exception_is_a_function_error(srv, role):
    lam = srv.client("lambda")
    source = """
    def handler(event, context):
        print("about to fail")
        raise ValueError("no good: " + event["why"])
    """
    name = create_function(lam, role["Arn"], source)["FunctionName"]
    response, payload = invoke_json(lam, name, {"why": "testing"}, LogType="Tail")
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "no good: testing" and payload["errorType"] == "ValueError"
    assert payload["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert len(payload["stackTrace"]) == 1
    assert 'app.py", line 4, in handler' in payload["stackTrace"][0]
    assert "raise ValueError" in payload["stackTrace"][0]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "about to fail" in tail and "[ERROR] ValueError: no good: testing" in tail
    error_entry = next(m for m in log_messages(srv, name) if m.startswith("[ERROR]"))
    assert "Traceback (most recent call last):" in error_entry  # one log entry, its newlines kept


def test_init_errors_are_function_errors(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], "def handler(e, c):\n    return 1\n", Handler="missing.handler")[
        "FunctionName"
    ]
    response, payload = invoke_json(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"
    lam.update_function_configuration(FunctionName=name, Handler="app.nothing")
    _, payload = invoke_json(lam, name)
    assert payload["errorType"] == "Runtime.HandlerNotFound"
    lam.update_function_configuration(FunctionName=name, Handler="app.handler")
    assert invoke_json(lam, name)[1] == 1


def test_a_result_that_is_not_json(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], "def handler(e, c):\n    return {1, 2}\n")["FunctionName"]
    response, payload = invoke_json(lam, name)
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.MarshalError"


def test_the_timeout_is_enforced(srv, role):
    lam = srv.client("lambda")
    source = """
    import time
    def handler(event, context):
        print("sleeping")
        time.sleep(30)
        return "woke"
    """
    name = create_function(lam, role["Arn"], source, Timeout=1)["FunctionName"]
    started = time.monotonic()
    response, payload = invoke_json(lam, name)
    assert time.monotonic() - started < 8
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    messages = log_messages(srv, name)
    assert "sleeping" in messages
    assert any(m.endswith(f"{request_id} Task timed out after 1.00 seconds") for m in messages)
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: 1000.00 ms")


def test_event_and_dry_run(srv, role):
    lam = srv.client("lambda")
    source = """
    def handler(event, context):
        print("got", event["tag"])
    """
    name = create_function(lam, role["Arn"], source)["FunctionName"]
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b'{"tag": "dry"}')
    assert dry["StatusCode"] == 204 and dry["Payload"].read() == b""
    queued = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "async"}')
    assert queued["StatusCode"] == 202 and queued["Payload"].read() == b""
    messages = log_messages(srv, name, wait=15, expect="got async")
    assert "got async" in messages and "got dry" not in messages
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert exc.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_the_server_stays_responsive_while_functions_run(srv, role):
    lam = srv.client("lambda")
    source = """
    import time
    import boto3
    def handler(event, context):
        time.sleep(3)
        return boto3.client("sts").get_caller_identity()["Arn"]
    """
    name = create_function(lam, role["Arn"], source, Timeout=20)["FunctionName"]
    results = []
    threads = [threading.Thread(target=lambda: results.append(invoke_json(lam, name)[1])) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    started = time.monotonic()
    srv.client("iam").list_roles(MaxItems=1)  # answered while all three functions still sleep
    assert time.monotonic() - started < 1.5
    for t in threads:
        t.join(30)
    assert len(results) == 3 and all(r.endswith(f"/{name}") for r in results)


def test_a_role_without_log_permissions_gets_no_logs(srv):
    lam = srv.client("lambda")
    silent = make_role(srv, managed=())
    source = """
    def handler(event, context):
        print("nobody will read this")
        return "ran"
    """
    name = create_function(lam, silent["Arn"], source)["FunctionName"]
    response, result = invoke_json(lam, name)
    assert result == "ran" and "FunctionError" not in response
    with pytest.raises(ClientError) as exc:
        srv.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{silent['RoleName']}/{name}"
    for event_name in ("CreateLogGroup", "CreateLogStream"):
        denied = [r for r in trail_events(srv, event_name) if r["userIdentity"].get("arn") == session]
        assert denied and denied[0]["errorCode"].startswith("AccessDenied"), event_name
        assert f"is not authorized to perform: logs:{event_name}" in denied[0]["errorMessage"]


def test_a_trust_policy_pinned_to_one_function(srv):
    lam = srv.client("lambda")
    iam = srv.client("iam")
    shared = make_role(srv)
    source = "def handler(event, context):\n    return context.function_name\n"
    pinned = create_function(lam, shared["Arn"], source)["FunctionName"]
    other = create_function(lam, shared["Arn"], source)["FunctionName"]
    pinned_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{pinned}"
    iam.update_assume_role_policy(
        RoleName=shared["RoleName"],
        PolicyDocument=lambda_trust(
            {"ArnEquals": {"aws:SourceArn": pinned_arn}, "StringEquals": {"aws:SourceAccount": ACCOUNT}}
        ),
    )
    assert invoke_json(lam, pinned)[1] == pinned
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=other, Payload=b"{}")
    error = exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert error["Message"] == "The role defined for the function cannot be assumed by Lambda."
    # Handing the pinned role to yet another function is refused when the function is configured.
    with pytest.raises(ClientError) as exc:
        create_function(lam, shared["Arn"], source)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"
    refused = [
        r
        for r in trail_events(srv, "AssumeRole")
        if r["requestParameters"].get("roleSessionName") == other and r.get("errorCode")
    ]
    assert refused and refused[0]["userIdentity"] == {
        "type": "AWSService",
        "invokedBy": "lambda.amazonaws.com",
    }


def test_aws_cli_invoke(srv, role, tmp_path):
    name = create_function(srv.client("lambda"), role["Arn"], "def handler(e, c):\n    return {'echo': e}\n")[
        "FunctionName"
    ]
    out = tmp_path / "out.json"
    result = srv.cli(
        "lambda",
        "invoke",
        "--function-name",
        name,
        "--payload",
        '{"x": 1}',
        "--cli-binary-format",
        "raw-in-base64-out",
        str(out),
        check=False,
    )
    if result.returncode != 0 and "cli-binary-format" in result.stderr:  # AWS CLI v1 reads the payload raw
        result = srv.cli("lambda", "invoke", "--function-name", name, "--payload", '{"x": 1}', str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text()) == {"echo": {"x": 1}}
