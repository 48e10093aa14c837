"""Invoking a Lambda function in process, through the authorizer: it runs in a subprocess as its execution
role, its result and log tail come back, its logs go to its log group, and lambda:InvokeFunction decides."""

from __future__ import annotations

import base64
import json

from rolecall.errors import AccessDenied
from tests.services.conftest import ACCOUNT, allow

ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:greet"


def test_invoke_returns_the_result_and_writes_the_logs(env, function):
    out = env.invoke(
        "lambda",
        "Invoke",
        FunctionName=function,
        Payload=json.dumps({"name": "bob"}).encode(),
        LogType="Tail",
    )
    assert (out["StatusCode"], out["ExecutedVersion"]) == (200, "$LATEST") and "FunctionError" not in out
    assert json.loads(out["Payload"]) == {"greeting": "hi bob"}
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "greeting bob" in tail and tail.startswith("START RequestId: ")
    # Lambda wrote the same lines to the function's log group, as the execution role.
    events = env.invoke("logs", "FilterLogEvents", logGroupName="/aws/lambda/greet")["events"]
    assert any(e["message"].strip() == "greeting bob" for e in events)
    (created,) = [r for r in env.trail("CreateLogStream") if not r.get("errorCode")]
    assert created["userIdentity"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn/greet"


def test_invoking_needs_lambda_invoke_function_on_the_function(env, function):
    caller = env.user("caller", allow("lambda:InvokeFunction", ARN + "-other"))
    err = env.denied(caller, "lambda", "Invoke", FunctionName=function)
    assert isinstance(err, AccessDenied) and err.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/caller is not authorized to perform: lambda:InvokeFunction on "
        f"resource: {ARN} because no identity-based policy allows the lambda:InvokeFunction action"
    )
    env.user_caller("caller", allow("lambda:InvokeFunction", ARN))
    out = env.invoke(
        "lambda", "Invoke", caller=env.user_caller("caller"), FunctionName=function, Payload=b"{}"
    )
    assert json.loads(out["Payload"]) == {"greeting": "hi "}
