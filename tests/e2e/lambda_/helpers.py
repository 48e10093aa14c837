"""Shared pieces of the Lambda end-to-end tests: packages, roles and policies."""

from __future__ import annotations

import io
import json
import textwrap
import time
import uuid
import zipfile

ACCOUNT = "123456789012"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def package(source: str, module: str = "app.py", extra: dict[str, str] | None = None) -> bytes:
    """A .zip deployment package holding `source` as `module` (and any extra files); the same bytes for the same
    files whenever it is built (fixed member times), so a test can compare a download with a fresh build."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in {module: source, **(extra or {})}.items():
            member = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, textwrap.dedent(text))
    return buf.getvalue()


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", condition=None) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def lambda_trust(condition=None, service="lambda.amazonaws.com") -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_role(
    srv, *, trust: str | None = None, managed=(BASIC_EXECUTION,), inline: str | None = None
) -> dict:
    iam = srv.client("iam")
    name = unique("fnrole")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust or lambda_trust())["Role"]
    for arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=inline)
    return role


def make_user(srv, policy: str) -> tuple[dict, dict]:
    iam = srv.client("iam")
    name = unique("dev")
    user = iam.create_user(UserName=name)["User"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user, key


def create_function(lam, role_arn: str, source: str, name: str | None = None, **kw) -> dict:
    kw.setdefault("Runtime", "python3.12")
    kw.setdefault("Handler", "app.handler")
    return lam.create_function(
        FunctionName=name or unique("fn"), Role=role_arn, Code={"ZipFile": package(source)}, **kw
    )


def invoke_json(lam, name: str, event=None, **kw) -> tuple[dict, object]:
    """(response, decoded payload) of a RequestResponse invocation."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kw)
    body = response["Payload"].read()
    return response, (json.loads(body) if body else None)


def log_messages(srv, name: str, wait: float = 5.0, expect: str | None = None) -> list[str]:
    """The messages in /aws/lambda/NAME (every stream), waiting up to `wait` s for `expect` to appear."""
    logs = srv.client("logs")
    deadline = time.time() + wait
    while True:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        messages = [e["message"] for e in events]
        if expect is None or any(expect in m for m in messages) or time.time() > deadline:
            return messages
        time.sleep(0.1)


def trail_events(srv, event_name: str) -> list[dict]:
    flush = getattr(getattr(srv, "pipeline", None), "trail", None)
    if flush is not None:
        flush.flush()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}], MaxResults=50
    )["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in events]
