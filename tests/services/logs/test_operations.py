"""CloudWatch Logs in process, through the authorizer: log groups, streams, events, filtering, and the ARNs
Logs authorizes each operation on (a group's operations on ...:log-group:NAME:log-stream:)."""

from __future__ import annotations

import pytest

from rolecall.errors import AccessDenied, AwsError
from tests.services.conftest import ACCOUNT, START, allow

GROUP = "/app/web"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"
MS = int(START * 1000)


def logs(env, op: str, caller=None, **params):
    return env.invoke("logs", op, caller=caller, **params)


@pytest.fixture
def stream(env) -> str:
    logs(env, "CreateLogGroup", logGroupName=GROUP, tags={"team": "web"})
    logs(env, "CreateLogStream", logGroupName=GROUP, logStreamName="s1")
    return "s1"


def test_groups_and_streams_are_created_described_and_deleted(env, stream):
    (group,) = logs(env, "DescribeLogGroups", logGroupNamePrefix="/app")["logGroups"]
    assert (group["logGroupName"], group["creationTime"], group["logGroupArn"]) == (GROUP, MS, GROUP_ARN)
    assert group["arn"] == GROUP_ARN + ":*"  # the form policies write for a group and its streams
    with pytest.raises(AwsError) as exists:
        logs(env, "CreateLogGroup", logGroupName=GROUP)
    assert exists.value.code == "ResourceAlreadyExistsException"
    (described,) = logs(env, "DescribeLogStreams", logGroupName=GROUP)["logStreams"]
    assert described["arn"] == f"{GROUP_ARN}:log-stream:s1" and "firstEventTimestamp" not in described
    logs(env, "DeleteLogGroup", logGroupName=GROUP)
    assert logs(env, "DescribeLogGroups", logGroupNamePrefix="/app")["logGroups"] == []
    with pytest.raises(AwsError) as gone:
        logs(env, "DescribeLogStreams", logGroupName=GROUP)
    assert (gone.value.code, gone.value.message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_events_are_put_read_back_and_filtered(env, stream):
    events = [{"timestamp": MS, "message": "GET /a 200"}, {"timestamp": MS + 1000, "message": "GET /b 500"}]
    assert logs(env, "PutLogEvents", logGroupName=GROUP, logStreamName=stream, logEvents=events)[
        "nextSequenceToken"
    ]
    got = logs(env, "GetLogEvents", logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    assert [(e["timestamp"], e["message"], e["ingestionTime"]) for e in got["events"]] == [
        (MS, "GET /a 200", MS),
        (MS + 1000, "GET /b 500", MS),
    ]
    assert got["nextForwardToken"].startswith("f/") and got["nextBackwardToken"].startswith("b/")
    (matched,) = logs(env, "FilterLogEvents", logGroupName=GROUP, filterPattern="500")["events"]
    assert (matched["logStreamName"], matched["message"]) == (stream, "GET /b 500")
    (described,) = logs(env, "DescribeLogStreams", logGroupName=GROUP)["logStreams"]
    assert (described["firstEventTimestamp"], described["lastEventTimestamp"]) == (MS, MS + 1000)


def test_a_user_allowed_one_group_is_refused_the_others(env, stream):
    other = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/other:*"
    dev = env.user("dev", allow("logs:*", other))
    logs(env, "CreateLogGroup", caller=dev, logGroupName="/app/other")
    logs(env, "CreateLogStream", caller=dev, logGroupName="/app/other", logStreamName="mine")
    refusals = {
        "CreateLogStream": (dict(logGroupName=GROUP, logStreamName="s2"), f"{GROUP_ARN}:log-stream:s2"),
        "PutLogEvents": (
            dict(logGroupName=GROUP, logStreamName=stream, logEvents=[{"timestamp": MS, "message": "x"}]),
            f"{GROUP_ARN}:log-stream:{stream}",
        ),
        "GetLogEvents": (dict(logGroupName=GROUP, logStreamName=stream), f"{GROUP_ARN}:log-stream:{stream}"),
        "FilterLogEvents": (dict(logGroupName=GROUP), f"{GROUP_ARN}:log-stream:"),
        "DescribeLogStreams": (dict(logGroupName=GROUP), f"{GROUP_ARN}:log-stream:"),
        "DeleteLogGroup": (dict(logGroupName=GROUP), f"{GROUP_ARN}:log-stream:"),
        # Listing groups is checked on no group at all: it needs log-group:* (or *).
        "DescribeLogGroups": ({}, f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group::log-stream:"),
    }
    for op, (params, resource) in refusals.items():
        err = env.denied(dev, "logs", op, **params)
        assert isinstance(err, AccessDenied), op
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: logs:{op} on resource: "
            f"{resource} because no identity-based policy allows the logs:{op} action"
        )
    assert logs(env, "DescribeLogStreams", logGroupName=GROUP)["logStreams"][0]["logStreamName"] == stream
