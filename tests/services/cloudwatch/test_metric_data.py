"""CloudWatch metric data in process: data points put and read back as statistics per period, listings,
and who may put or read them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import START, allow

T0 = datetime.fromtimestamp(START, UTC)
DIMS = [{"Name": "Service", "Value": "web"}]


def cw(env, op: str, caller=None, **params):
    return env.invoke("monitoring", op, caller=caller, **params)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START + seconds, UTC)


def test_statistics_per_period_from_values_and_statistic_sets(env):
    cw(
        env,
        "PutMetricData",
        Namespace="App",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": DIMS,
                "Timestamp": at(0),
                "Value": 10,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": DIMS,
                "Timestamp": at(30),
                "Value": 30,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": DIMS,
                "Timestamp": at(70),
                "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 2, "Maximum": 8},
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": DIMS,
                "Timestamp": at(130),
                "Values": [1, 5],
                "Counts": [2, 1],
                "Unit": "Milliseconds",
            },
        ],
    )
    out = cw(
        env,
        "GetMetricStatistics",
        Namespace="App",
        MetricName="Latency",
        Dimensions=DIMS,
        StartTime=at(0),
        EndTime=at(180),
        Period=60,
        Statistics=["Sum", "SampleCount", "Average", "Minimum", "Maximum"],
    )
    assert out["Label"] == "Latency"
    got = [
        (p["Timestamp"], p["Sum"], p["SampleCount"], p["Average"], p["Minimum"], p["Maximum"])
        for p in out["Datapoints"]
    ]
    assert got == [
        (START, 40.0, 2.0, 20.0, 10.0, 30.0),
        (START + 60, 20.0, 4.0, 5.0, 2.0, 8.0),
        (START + 120, 7.0, 3.0, 7 / 3, 1.0, 5.0),
    ]
    assert {p["Unit"] for p in out["Datapoints"]} == {"Milliseconds"}
    # Another dimension set is another metric; a unit filter leaves out other units.
    assert (
        cw(
            env,
            "GetMetricStatistics",
            Namespace="App",
            MetricName="Latency",
            StartTime=at(0),
            EndTime=at(180),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        == []
    )
    data = cw(
        env,
        "GetMetricData",
        StartTime=at(0),
        EndTime=at(180),
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": "App", "MetricName": "Latency", "Dimensions": DIMS},
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
    )
    (result,) = data["MetricDataResults"]
    assert (result["Id"], result["Values"], result["StatusCode"]) == (
        "m",
        [5.0, 8.0, 30.0],
        "Complete",
    )  # newest first
    assert cw(env, "ListMetrics", Namespace="App")["Metrics"] == [
        {"Namespace": "App", "MetricName": "Latency", "Dimensions": DIMS}
    ]
    assert cw(env, "ListMetrics", Dimensions=[{"Name": "Service", "Value": "db"}])["Metrics"] == []


def test_bad_metric_data_changes_nothing(env):
    with pytest.raises(AwsError) as reserved:
        cw(env, "PutMetricData", Namespace="AWS/EC2", MetricData=[{"MetricName": "CPU", "Value": 1}])
    assert reserved.value.code == "InvalidParameterValue"
    with pytest.raises(AwsError) as both:
        cw(
            env,
            "PutMetricData",
            Namespace="App",
            MetricData=[{"MetricName": "A", "Value": 1}, {"MetricName": "B", "Value": 1, "Values": [1]}],
        )
    assert both.value.code == "InvalidParameterCombination"
    assert cw(env, "ListMetrics")["Metrics"] == []  # the whole request failed: A was not kept either
    with pytest.raises(AwsError) as period:
        cw(
            env,
            "GetMetricStatistics",
            Namespace="App",
            MetricName="A",
            StartTime=at(0),
            EndTime=at(60),
            Period=90,
            Statistics=["Sum"],
        )
    assert period.value.code == "InvalidParameterValue"


def test_metric_operations_need_cloudwatch_permissions(env):
    writer = env.user("writer", allow("cloudwatch:PutMetricData"))
    cw(env, "PutMetricData", caller=writer, Namespace="App", MetricData=[{"MetricName": "A", "Value": 1}])
    for op, params in (
        ("ListMetrics", {}),
        (
            "GetMetricStatistics",
            {
                "Namespace": "App",
                "MetricName": "A",
                "StartTime": at(0),
                "EndTime": at(60),
                "Period": 60,
                "Statistics": ["Sum"],
            },
        ),
        (
            "GetMetricData",
            {
                "StartTime": at(0),
                "EndTime": at(60),
                "MetricDataQueries": [
                    {
                        "Id": "a",
                        "MetricStat": {
                            "Metric": {"Namespace": "App", "MetricName": "A"},
                            "Period": 60,
                            "Stat": "Sum",
                        },
                    }
                ],
            },
        ),
    ):
        err = env.denied(writer, "monitoring", op, **params)
        assert err.code == "AccessDenied" and f"cloudwatch:{op}" in err.message
    # cloudwatch:namespace limits which namespaces a principal may publish to.
    scoped = env.user(
        "scoped",
        allow("cloudwatch:PutMetricData", Condition={"StringEquals": {"cloudwatch:namespace": "App"}}),
    )
    cw(env, "PutMetricData", caller=scoped, Namespace="App", MetricData=[{"MetricName": "C", "Value": 1}])
    err = env.denied(
        scoped, "monitoring", "PutMetricData", Namespace="Other", MetricData=[{"MetricName": "C", "Value": 1}]
    )
    assert "cloudwatch:PutMetricData" in err.message
    reader = env.user("reader", allow("cloudwatch:ListMetrics"))
    err = env.denied(
        reader, "monitoring", "PutMetricData", Namespace="App", MetricData=[{"MetricName": "B", "Value": 1}]
    )
    assert "cloudwatch:PutMetricData" in err.message
    assert [m["MetricName"] for m in cw(env, "ListMetrics", caller=reader)["Metrics"]] == ["A", "C"]
