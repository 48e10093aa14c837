"""An execution role Lambda may assume (with AWS's basic execution policy) and a function's source, for the
Lambda unit tests."""

from __future__ import annotations

import pytest

from tests.e2e.lambda_.helpers import BASIC_EXECUTION, lambda_trust, package

SOURCE = """
import os

def handler(event, context):
    print("greeting", event.get("name"))
    return {"greeting": os.environ.get("GREETING", "hi") + " " + event.get("name", "")}
"""


@pytest.fixture
def role(env) -> str:
    arn = env.call("CreateRole", RoleName="fn", AssumeRolePolicyDocument=lambda_trust())["Role"]["Arn"]
    env.call("AttachRolePolicy", RoleName="fn", PolicyArn=BASIC_EXECUTION)
    return arn


@pytest.fixture
def function(env, role) -> str:
    env.invoke(
        "lambda",
        "CreateFunction",
        FunctionName="greet",
        Runtime="python3.12",
        Handler="app.handler",
        Role=role,
        Code={"ZipFile": package(SOURCE)},
    )
    return "greet"
