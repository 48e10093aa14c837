"""CloudWatch against a real server with boto3 (its JSON protocol) and the AWS CLI: metric data and
statistics, alarms evaluated by the server and their history, and a refusal."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import as_key, name, new_user
from tests.servers import Server

WAIT = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("rolecall"), extra_args=["--alarm-evaluation-interval", "0.5"]
    ).start()
    yield srv
    srv.stop()


def test_metric_data_and_statistics(server):
    cw = server.client("cloudwatch")
    namespace = name("App")
    now = datetime.now(UTC)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Value": 10, "Unit": "Milliseconds", "Timestamp": now},
            {"MetricName": "Latency", "Value": 30, "Unit": "Milliseconds", "Timestamp": now},
        ],
    )
    stats = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
        Period=120,
        Statistics=["Average", "Maximum", "SampleCount"],
    )["Datapoints"]
    assert [(p["Average"], p["Maximum"], p["SampleCount"], p["Unit"]) for p in stats] == [
        (20.0, 30.0, 2.0, "Milliseconds")
    ]
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "l",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": "Latency"},
                    "Period": 120,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
    )["MetricDataResults"]
    assert data[0]["Values"] == [40.0]
    listed = json.loads(server.cli("cloudwatch", "list-metrics", "--namespace", namespace).stdout)["Metrics"]
    assert listed == [{"Namespace": namespace, "MetricName": "Latency", "Dimensions": []}]
    with pytest.raises(ClientError) as reserved:
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "CPU", "Value": 1}])
    assert reserved.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_alarm_is_evaluated_by_the_server(server):
    cw = server.client("cloudwatch")
    namespace, alarm = name("Security"), name("denied")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace=namespace,
        MetricName="AccessDenied",
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=2,  # a 20 s window: the point stays in it for at least 10 s
        DatapointsToAlarm=1,
        Threshold=3,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    # Data in the period before the current one: the evaluations of the next 10 s at least see it.
    past = datetime.now(UTC) - timedelta(seconds=10)
    cw.put_metric_data(
        Namespace=namespace, MetricData=[{"MetricName": "AccessDenied", "Value": 5, "Timestamp": past}]
    )
    deadline = time.monotonic() + WAIT
    history: list = []
    while time.monotonic() < deadline:
        history = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")[
            "AlarmHistoryItems"
        ]
        if any(h["HistorySummary"].endswith("to ALARM") for h in history):
            break
        time.sleep(0.3)
    assert any(h["HistorySummary"].endswith("to ALARM") for h in history), history
    # With notBreaching, evaluations never give INSUFFICIENT_DATA: this state change is the CLI's.
    server.cli(
        "cloudwatch",
        "set-alarm-state",
        "--alarm-name",
        alarm,
        "--state-value",
        "INSUFFICIENT_DATA",
        "--state-reason",
        "drill",
    )
    updates = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    drills = [json.loads(h["HistoryData"])["newState"] for h in updates]
    assert {"stateValue": "INSUFFICIENT_DATA", "stateReason": "drill"} in drills
    cw.delete_alarms(AlarmNames=[alarm])
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []


def test_a_user_without_cloudwatch_permissions_is_refused(server):
    _, key = new_user(server, server.client("iam"))
    cw = as_key(server, key, "cloudwatch")
    with pytest.raises(ClientError) as refused:
        cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "x", "Value": 1}])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "cloudwatch:PutMetricData" in refused.value.response["Error"]["Message"]
