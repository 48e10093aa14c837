"""Fixtures of the IAM unit tests (the harness itself is tests/services/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.iam.helpers import MODEL, TRUST, conforms


@pytest.fixture
def checked(iam_env):
    """Like `call`, and every answer must fit the operation's output shape in botocore's model."""

    def run(op: str, **params: Any) -> dict[str, Any]:
        out = iam_env.call(op, **params)
        output = MODEL.operation_model(op).output_shape
        if output is None:
            assert out == {}
        else:
            conforms(out, output, op)
        return out

    return run


@pytest.fixture
def role(call):
    call("CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST)
    return "app"


@pytest.fixture
def user(call):
    call("CreateUser", UserName="alice")
    return "alice"
