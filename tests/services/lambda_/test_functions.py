"""Lambda functions in process, through the authorizer: create, read, list, update and delete, and the
iam:PassRole that handing a function its execution role needs."""

from __future__ import annotations

import base64
import hashlib

import pytest

from rolecall.errors import AccessDenied, AwsError
from tests.e2e.lambda_.helpers import package
from tests.services.conftest import ACCOUNT, allow
from tests.services.lambda_.conftest import SOURCE

ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:greet"


def lam(env, op: str, caller=None, **params):
    return env.invoke("lambda", op, caller=caller, **params)


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_create_read_list_update_delete(env, role):
    code = package(SOURCE)
    created = lam(
        env,
        "CreateFunction",
        FunctionName="greet",
        Runtime="python3.12",
        Handler="app.handler",
        Role=role,
        Code={"ZipFile": code},
        Environment={"Variables": {"GREETING": "hello"}},
    )
    assert (created["FunctionArn"], created["Role"], created["State"]) == (ARN, role, "Pending")
    assert (created["CodeSha256"], created["CodeSize"]) == (sha256(code), len(code))
    assert created["LoggingConfig"]["LogGroup"] == "/aws/lambda/greet"
    with pytest.raises(AwsError) as exists:
        lam(
            env,
            "CreateFunction",
            FunctionName="greet",
            Runtime="python3.12",
            Handler="app.handler",
            Role=role,
            Code={"ZipFile": code},
        )
    assert exists.value.code == "ResourceConflictException"

    configuration = lam(env, "GetFunctionConfiguration", FunctionName="greet")
    assert configuration["State"] == "Active" and configuration["Environment"] == {
        "Variables": {"GREETING": "hello"}
    }
    got = lam(env, "GetFunction", FunctionName=ARN)  # by name or by ARN
    assert got["Configuration"]["FunctionArn"] == ARN and got["Code"]["RepositoryType"] == "S3"
    assert [f["FunctionName"] for f in lam(env, "ListFunctions")["Functions"]] == ["greet"]

    assert lam(env, "UpdateFunctionConfiguration", FunctionName="greet", Timeout=30)["Timeout"] == 30
    new_code = package(SOURCE.replace('"hi"', '"hey"'))
    updated = lam(env, "UpdateFunctionCode", FunctionName="greet", ZipFile=new_code)
    assert updated["CodeSha256"] == sha256(new_code) != created["CodeSha256"]
    assert lam(env, "GetFunctionConfiguration", FunctionName="greet")["Timeout"] == 30  # kept

    lam(env, "DeleteFunction", FunctionName="greet")
    with pytest.raises(AwsError) as gone:
        lam(env, "GetFunction", FunctionName="greet")
    assert (gone.value.code, gone.value.status, gone.value.message) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {ARN}",
    )
    assert lam(env, "ListFunctions")["Functions"] == []


def test_handing_a_function_its_role_needs_pass_role(env, role):
    dev = env.user("dev", allow("lambda:*"))
    err = env.denied(
        dev,
        "lambda",
        "CreateFunction",
        FunctionName="mine",
        Runtime="python3.12",
        Handler="app.handler",
        Role=role,
        Code={"ZipFile": package(SOURCE)},
    )
    assert isinstance(err, AccessDenied) and err.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: iam:PassRole on resource: {role} "
        "because no identity-based policy allows the iam:PassRole action"
    )
    assert lam(env, "ListFunctions", caller=dev)["Functions"] == []


def test_function_operations_are_authorized_on_the_function_arn(env, function):
    reader = env.user(
        "reader", allow(["lambda:GetFunction", "lambda:GetFunctionConfiguration"], ARN + "-other")
    )
    for op in ("GetFunction", "GetFunctionConfiguration", "DeleteFunction", "UpdateFunctionConfiguration"):
        params = {"FunctionName": function, **({"Timeout": 5} if op.startswith("Update") else {})}
        err = env.denied(reader, "lambda", op, **params)
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: lambda:{op} on resource: "
            f"{ARN} because no identity-based policy allows the lambda:{op} action"
        )
    err = env.denied(reader, "lambda", "UpdateFunctionCode", FunctionName=function, ZipFile=package(SOURCE))
    assert "lambda:UpdateFunctionCode on resource: " + ARN in err.message
    assert lam(env, "GetFunctionConfiguration", FunctionName=function)["Timeout"] == 3  # nothing changed
