"""Shared steps of the IAM unit tests: policy documents, expected errors, answers held to botocore's output
shapes, and what an operation declares for authorization."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import botocore.session
import pytest

from rolecall.errors import AwsError
from rolecall.services.iam.policy_documents import document_size
from tests.services.conftest import ACCOUNT

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


MODEL = botocore.session.get_session().get_service_model("iam")


def trust_for(principal: dict[str, Any]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def raises(exc_type: type[AwsError], fn, *args, **kwargs) -> AwsError:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    return info.value


def conforms(value: Any, shape, where: str = "") -> None:
    """Assert an output value fits botocore's shape: known members only, required ones present, types."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members not in {shape.name}: {unknown}"
        # The account root's GetUser answer omits UserName and Path, as AWS's does: checked separately.
        for required in shape.required_members:
            assert required in value, f"{where}: {shape.name} lacks required {required}"
        for name, member in value.items():
            conforms(member, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            conforms(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), where
        for k, v in value.items():
            conforms(k, shape.key, f"{where}.key")
            conforms(v, shape.value, f"{where}[{k}]")
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "blob":
        assert isinstance(value, bytes), where
    elif kind == "timestamp":
        assert isinstance(value, str) and ISO.match(value), f"{where}: {value!r}"
    else:  # pragma: no cover - IAM's outputs use nothing else
        raise AssertionError(f"{where}: unexpected shape type {kind}")


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str = "s3:GetObject", resource: str = "*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decoded(text: str) -> str:
    return urllib.parse.unquote(text)


def policy_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def padded(size: int) -> str:
    """A valid document of exactly `size` non-whitespace characters."""
    base = doc(allow(resource="arn:aws:s3:::"))
    filler = size - document_size(base)
    assert filler >= 0
    return doc(allow(resource="arn:aws:s3:::" + "x" * filler))


def resolve(iam_env, op: str, **params: Any) -> tuple[list[tuple[str, Any, dict[str, Any]]], bool]:
    """What the pipeline would authorize for a request: [(action, resource, context)] (the declared one,
    then its `extra` ones), and whether the operation is read-only."""
    handler = iam_env.iam.handler(op)
    auth = handler.authorization
    with iam_env.store.transaction() as tx:
        ctx = iam_env.context(op, tx)
        resource = auth.resource(ctx, params) if callable(auth.resource) else auth.resource
        out = [(auth.action, resource, auth.context(ctx, params) if auth.context else {})]
        if auth.extra:
            out.extend(auth.extra(ctx, params))
    return out, handler.read_only


def no_allow(user: str, action: str, resource: str) -> str:
    """IAM's AccessDenied message when no identity-based policy of the user allows the action."""
    return (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: {action} on resource: "
        f"{resource} because no identity-based policy allows the {action} action"
    )
