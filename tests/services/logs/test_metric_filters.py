"""CloudWatch Logs metric filters in process: JSON filter patterns, the filters' lifecycle, and the metrics
they publish as CloudTrail-shaped events are put."""

from __future__ import annotations

import json

import pytest

from rolecall.core import metrics
from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, START, allow

GROUP = "trail-events"
MS = int(START * 1000)
DENIED = '{ ($.eventName = "AssumeRole") && ($.errorCode = "AccessDenied") }'


def logs(env, op: str, caller=None, **params):
    return env.invoke("logs", op, caller=caller, **params)


def event(name: str, error: str | None = None, account: str = ACCOUNT) -> str:
    rec = {"eventName": name, "userIdentity": {"accountId": account}, "latency": 7}
    if error:
        rec["errorCode"] = error
    return json.dumps(rec)


def points(env, namespace: str, name: str, dimensions: dict[str, str] | None = None) -> list[list]:
    with env.store.read_transaction() as tx:
        doc = metrics.get_metric(tx, ACCOUNT, "us-east-1", namespace, name, dimensions or {})
    return doc["points"] if doc else []


@pytest.fixture
def group(env) -> str:
    logs(env, "CreateLogGroup", logGroupName=GROUP)
    logs(env, "CreateLogStream", logGroupName=GROUP, logStreamName="s")
    return GROUP


def put(env, *messages: str) -> None:
    logs(
        env,
        "PutLogEvents",
        logGroupName=GROUP,
        logStreamName="s",
        logEvents=[{"timestamp": MS + i, "message": m} for i, m in enumerate(messages)],
    )


def test_test_metric_filter_matches_json_events(env):
    messages = [event("AssumeRole", "AccessDenied"), event("AssumeRole"), "not json", event("GetUser")]
    out = logs(env, "TestMetricFilter", filterPattern=DENIED, logEventMessages=messages)
    assert [m["eventNumber"] for m in out["matches"]] == [1]
    wild = logs(env, "TestMetricFilter", filterPattern="{ $.eventName = Assume* }", logEventMessages=messages)
    assert [m["eventNumber"] for m in wild["matches"]] == [1, 2]
    numbers = logs(
        env,
        "TestMetricFilter",
        filterPattern="{ $.latency > 5 && $.errorCode NOT EXISTS }",
        logEventMessages=messages,
    )
    assert [m["eventNumber"] for m in numbers["matches"]] == [2, 4]
    with pytest.raises(AwsError) as bad:
        logs(env, "TestMetricFilter", filterPattern="{ $.latency > many }", logEventMessages=messages)
    assert bad.value.code == "InvalidParameterException"


def test_filter_log_events_takes_json_patterns(env, group):
    put(env, event("AssumeRole", "AccessDenied"), event("AssumeRole"))
    found = logs(env, "FilterLogEvents", logGroupName=GROUP, filterPattern=DENIED)["events"]
    assert [json.loads(e["message"]).get("errorCode") for e in found] == ["AccessDenied"]


def test_metric_filters_publish_metrics_from_put_events(env, group):
    logs(
        env,
        "PutMetricFilter",
        logGroupName=GROUP,
        filterName="denied-assume-role",
        filterPattern=DENIED,
        metricTransformations=[
            {
                "metricName": "DeniedAssumeRole",
                "metricNamespace": "Security",
                "metricValue": "1",
                "defaultValue": 0,
            }
        ],
    )
    logs(
        env,
        "PutMetricFilter",
        logGroupName=GROUP,
        filterName="by-account",
        filterPattern="{ $.eventName = AssumeRole }",
        metricTransformations=[
            {
                "metricName": "AssumeRoleLatency",
                "metricNamespace": "Security",
                "metricValue": "$.latency",
                "dimensions": {"Account": "$.userIdentity.accountId"},
                "unit": "Milliseconds",
            }
        ],
    )
    (described,) = logs(env, "DescribeMetricFilters", logGroupName=GROUP, filterNamePrefix="denied")[
        "metricFilters"
    ]
    assert (described["filterPattern"], described["creationTime"]) == (DENIED, MS)
    by_metric = logs(env, "DescribeMetricFilters", metricName="AssumeRoleLatency", metricNamespace="Security")
    assert [f["filterName"] for f in by_metric["metricFilters"]] == ["by-account"]
    assert logs(env, "DescribeLogGroups")["logGroups"][0]["metricFilterCount"] == 2

    put(
        env,
        event("AssumeRole", "AccessDenied"),
        event("AssumeRole", "AccessDenied", "999988887777"),
        event("GetUser"),
    )
    denied = points(env, "Security", "DeniedAssumeRole")
    assert [p[1] for p in denied] == [1.0, 1.0] and denied[0][0] == START
    assert [p[1] for p in points(env, "Security", "AssumeRoleLatency", {"Account": "999988887777"})] == [7.0]
    assert points(env, "Security", "AssumeRoleLatency", {"Account": ACCOUNT})[0][5] == "Milliseconds"
    put(env, event("GetUser"))  # nothing matches: the default value is published
    assert [p[1] for p in points(env, "Security", "DeniedAssumeRole")] == [1.0, 1.0, 0.0]

    logs(env, "DeleteMetricFilter", logGroupName=GROUP, filterName="denied-assume-role")
    with pytest.raises(AwsError) as gone:
        logs(env, "DeleteMetricFilter", logGroupName=GROUP, filterName="denied-assume-role")
    assert gone.value.code == "ResourceNotFoundException"
    put(env, event("AssumeRole", "AccessDenied"))
    assert len(points(env, "Security", "DeniedAssumeRole")) == 3  # the filter is gone: nothing more
    logs(env, "DeleteLogGroup", logGroupName=GROUP)
    assert logs(env, "DescribeMetricFilters")["metricFilters"] == []


def test_metric_filters_refuse_bad_input_and_unauthorized_callers(env, group):
    transformation = [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]
    with pytest.raises(AwsError) as no_group:
        logs(
            env,
            "PutMetricFilter",
            logGroupName="nope",
            filterName="f",
            filterPattern="",
            metricTransformations=transformation,
        )
    assert no_group.value.code == "ResourceNotFoundException"
    with pytest.raises(AwsError) as bad_value:
        logs(
            env,
            "PutMetricFilter",
            logGroupName=GROUP,
            filterName="f",
            filterPattern="ERROR",
            metricTransformations=[{**transformation[0], "metricValue": "lots"}],
        )
    assert bad_value.value.code == "InvalidParameterException"
    reader = env.user("reader", allow("logs:DescribeMetricFilters"))
    assert logs(env, "DescribeMetricFilters", caller=reader)["metricFilters"] == []
    for op, params in (
        (
            "PutMetricFilter",
            {"filterName": "f", "filterPattern": "", "metricTransformations": transformation},
        ),
        ("DeleteMetricFilter", {"filterName": "f"}),
    ):
        err = env.denied(reader, "logs", op, logGroupName=GROUP, **params)
        assert err.code == "AccessDenied" and f"logs:{op}" in err.message  # AccessDeniedException on the wire
    err = env.denied(reader, "logs", "TestMetricFilter", filterPattern="x", logEventMessages=["x"])
    assert "logs:TestMetricFilter" in err.message
