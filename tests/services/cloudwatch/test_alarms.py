"""CloudWatch alarms in process: evaluation over periods, state changes and history, SetAlarmState, and
alarm actions publishing to SNS as cloudwatch.amazonaws.com."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow

ALARM = dict(
    AlarmName="denied-spike",
    MetricName="AccessDenied",
    Namespace="Security",
    Statistic="Sum",
    Period=60,
    EvaluationPeriods=2,
    DatapointsToAlarm=1,
    Threshold=5,
    ComparisonOperator="GreaterThanOrEqualToThreshold",
)


def cw(env, op: str, caller=None, **params):
    return env.invoke("monitoring", op, caller=caller, **params)


def put(env, value: float, offset: float = 0) -> None:
    from datetime import UTC, datetime

    ts = datetime.fromtimestamp(env.clock.time() + offset, UTC)
    cw(
        env,
        "PutMetricData",
        Namespace="Security",
        MetricData=[{"MetricName": "AccessDenied", "Value": value, "Timestamp": ts}],
    )


def evaluate(env, seconds: float = 60) -> None:
    env.clock.advance(seconds)
    env.service("monitoring").evaluate_alarms()


def state(env) -> str:
    return cw(env, "DescribeAlarms", AlarmNames=["denied-spike"])["MetricAlarms"][0]["StateValue"]


def test_alarm_goes_to_alarm_and_back_over_periods(env):
    cw(env, "PutMetricAlarm", **ALARM)
    (alarm,) = cw(env, "DescribeAlarms")["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:denied-spike"
    evaluate(env)
    assert state(env) == "INSUFFICIENT_DATA"  # no data at all
    put(env, 3)
    put(env, 4, offset=1)
    evaluate(env)
    assert state(env) == "ALARM"  # 7 >= 5 in one of the last two periods
    reason = cw(env, "DescribeAlarms")["MetricAlarms"][0]["StateReason"]
    assert reason.startswith("Threshold Crossed: 1 out of the last 2 datapoints")
    put(env, 1)
    evaluate(env)
    assert state(env) == "ALARM"  # the 7 is still within the last two periods
    evaluate(env)
    assert state(env) == "OK"  # the last two periods: 1 and nothing
    history = cw(env, "DescribeAlarmHistory", AlarmName="denied-spike", HistoryItemType="StateUpdate")
    summaries = [h["HistorySummary"] for h in history["AlarmHistoryItems"]]
    assert summaries == ["Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM"]


def test_treat_missing_data_breaching(env):
    cw(env, "PutMetricAlarm", **{**ALARM, "TreatMissingData": "breaching"})
    evaluate(env)
    assert state(env) == "ALARM"


def test_set_alarm_state_and_delete(env):
    cw(env, "PutMetricAlarm", **ALARM)
    cw(env, "SetAlarmState", AlarmName="denied-spike", StateValue="ALARM", StateReason="testing the alarm")
    (alarm,) = cw(env, "DescribeAlarms", StateValue="ALARM")["MetricAlarms"]
    assert alarm["StateReason"] == "testing the alarm"
    with pytest.raises(AwsError) as missing:
        cw(env, "SetAlarmState", AlarmName="nope", StateValue="OK", StateReason="x")
    assert missing.value.code == "ResourceNotFound"
    with pytest.raises(AwsError) as bad:
        cw(env, "PutMetricAlarm", **{**ALARM, "AlarmName": "bad", "Period": 45})
    assert bad.value.code == "InvalidParameterValue"
    cw(env, "DeleteAlarms", AlarmNames=["denied-spike"])
    assert cw(env, "DescribeAlarms")["MetricAlarms"] == []
    with pytest.raises(AwsError) as gone:
        cw(env, "DeleteAlarms", AlarmNames=["denied-spike"])
    assert gone.value.code == "ResourceNotFound"


def test_alarm_operations_are_authorized_per_alarm(env):
    cw(env, "PutMetricAlarm", **ALARM)
    arn = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:other"
    operator = env.user(
        "operator",
        allow(["cloudwatch:PutMetricAlarm", "cloudwatch:SetAlarmState", "cloudwatch:DeleteAlarms"], arn),
    )
    cw(env, "PutMetricAlarm", caller=operator, **{**ALARM, "AlarmName": "other"})
    for op, params in (
        ("PutMetricAlarm", ALARM),
        ("SetAlarmState", {"AlarmName": "denied-spike", "StateValue": "OK", "StateReason": "x"}),
        ("DeleteAlarms", {"AlarmNames": ["denied-spike"]}),
        ("DescribeAlarms", {}),
        ("DescribeAlarmHistory", {}),
    ):
        err = env.denied(operator, "monitoring", op, **params)
        assert err.code == "AccessDenied" and f"cloudwatch:{op}" in err.message
    assert state(env) == "INSUFFICIENT_DATA"


def test_alarm_actions_publish_to_sns_as_cloudwatch(env, monkeypatch):
    sent = []
    monkeypatch.setattr(env.service("sns"), "deliver", sent.append)
    topic = env.invoke("sns", "CreateTopic", Name="security")["TopicArn"]
    env.invoke("sns", "Subscribe", TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
    env.invoke("sns", "ConfirmSubscription", TopicArn=topic, Token=sent[0].message["Token"])
    cw(env, "PutMetricAlarm", **ALARM, AlarmActions=[topic], OKActions=[topic])
    put(env, 9)
    evaluate(env)
    assert state(env) == "ALARM"
    note = sent[-1].message
    assert note["Subject"] == 'ALARM: "denied-spike" in us-east-1'
    body = json.loads(note["Message"])
    assert (body["NewStateValue"], body["OldStateValue"], body["AWSAccountId"]) == (
        "ALARM",
        "INSUFFICIENT_DATA",
        ACCOUNT,
    )
    assert body["Trigger"]["MetricName"] == "AccessDenied"
    (published,) = [r for r in env.trail("Publish") if r["userIdentity"].get("type") == "AWSService"]
    assert (
        published["userIdentity"]["invokedBy"] == "cloudwatch.amazonaws.com" and "errorCode" not in published
    )
    actions = cw(env, "DescribeAlarmHistory", AlarmName="denied-spike", HistoryItemType="Action")[
        "AlarmHistoryItems"
    ]
    assert actions[0]["HistorySummary"] == f"Successfully executed action {topic}"


def test_a_topic_policy_without_cloudwatch_refuses_the_action(env, monkeypatch):
    sent = []
    monkeypatch.setattr(env.service("sns"), "deliver", sent.append)
    topic = env.invoke("sns", "CreateTopic", Name="locked")["TopicArn"]
    owner_only = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sns:Publish",
                    "Resource": topic,
                }
            ],
        }
    )
    env.invoke("sns", "SetTopicAttributes", TopicArn=topic, AttributeName="Policy", AttributeValue=owner_only)
    cw(env, "PutMetricAlarm", **ALARM, AlarmActions=[topic])
    cw(env, "SetAlarmState", AlarmName="denied-spike", StateValue="ALARM", StateReason="drill")
    actions = cw(env, "DescribeAlarmHistory", AlarmName="denied-spike", HistoryItemType="Action")[
        "AlarmHistoryItems"
    ]
    assert (
        actions[0]["HistorySummary"]
        == f'Failed to execute action {topic}. Received error: "AuthorizationError"'
    )
    (refused,) = [r for r in env.trail("Publish") if r["userIdentity"].get("type") == "AWSService"]
    assert refused["errorCode"] == "AuthorizationError"
