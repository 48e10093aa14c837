"""Shared steps of the end-to-end tests: policy documents, error parts, unique names, users with keys."""

from __future__ import annotations

import json
import uuid

import pytest

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def allow(actions, resource="*", effect="Allow", sid=None):
    st = {"Effect": effect, "Action": actions, "Resource": resource}
    if sid:
        st["Sid"] = sid
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def err(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_user(srv, iam, policy_json: str | None = None):
    """A user with an access key (and an inline policy); returns (user name, its iam client)."""
    user = name("dev")
    iam.create_user(UserName=user)
    if policy_json:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy_json)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return user, key


def as_key(srv, key: dict, service: str = "iam"):
    """A client of `service` signing with an access key CreateAccessKey returned."""
    return srv.client(service, key["AccessKeyId"], key["SecretAccessKey"])


def no_allow(user: str, action: str, resource: str) -> str:
    """IAM's AccessDenied message when no identity-based policy of the user allows the action."""
    return (
        f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: {action} on resource: "
        f"{resource} because no identity-based policy allows the {action} action"
    )
