"""CloudWatch Logs metric filters against a real server with boto3 and the AWS CLI: JSON patterns on
CloudTrail-shaped events, and the filters' lifecycle."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import name

DENIED = '{ ($.eventName = "AssumeRole") && ($.errorCode = "AccessDenied") }'


def test_metric_filter_lifecycle_with_json_patterns(server):
    logs = server.client("logs")
    group = name("trail-events")
    logs.create_log_group(logGroupName=group)
    samples = [
        json.dumps({"eventName": "AssumeRole", "errorCode": "AccessDenied"}),
        json.dumps({"eventName": "AssumeRole"}),
    ]
    assert [
        m["eventNumber"]
        for m in logs.test_metric_filter(filterPattern=DENIED, logEventMessages=samples)["matches"]
    ] == [1]
    transformation = {"metricName": "DeniedAssumeRole", "metricNamespace": "Security", "metricValue": "1"}
    logs.put_metric_filter(
        logGroupName=group, filterName="denied", filterPattern=DENIED, metricTransformations=[transformation]
    )
    out = server.cli("logs", "describe-metric-filters", "--log-group-name", group).stdout
    (described,) = json.loads(out)["metricFilters"]
    assert (
        described["filterPattern"] == DENIED and described["metricTransformations"][0]["metricValue"] == "1"
    )
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": m} for m in samples]
    )
    found = logs.filter_log_events(logGroupName=group, filterPattern=DENIED)["events"]
    assert [json.loads(e["message"])["errorCode"] for e in found] == ["AccessDenied"]
    logs.delete_metric_filter(logGroupName=group, filterName="denied")
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    with pytest.raises(ClientError) as bad:
        logs.put_metric_filter(
            logGroupName=group,
            filterName="bad",
            filterPattern="{ $.latency > lots }",
            metricTransformations=[transformation],
        )
    assert bad.value.response["Error"]["Code"] == "InvalidParameterException"
