"""CloudWatch metric alarms: PutMetricAlarm, DescribeAlarms, DescribeAlarmHistory, SetAlarmState, DeleteAlarms,
and their evaluation.

An alarm watches one metric's statistic over `Period`-second periods. Each evaluation looks at the last
EvaluationPeriods whole periods: a period breaches when its statistic compares to Threshold as
ComparisonOperator says; the alarm is ALARM when at least DatapointsToAlarm (default: EvaluationPeriods) of
them breach, OK when enough periods have data and too few breach. Periods without data count as
TreatMissingData says: "missing" (the default: with no data at all the alarm is INSUFFICIENT_DATA),
"breaching", "notBreaching", or "ignore" (the state stays as it is).

A change of state is recorded in the alarm's history and runs its actions for the new state (AlarmActions,
OKActions, InsufficientDataActions) when ActionsEnabled: an SNS topic ARN is published to as the service
principal cloudwatch.amazonaws.com (through the pipeline, so the topic's policy decides), with the JSON
message CloudWatch sends. Evaluations run on a thread of the service (--alarm-evaluation-interval).

Store documents: "cw-alarm" {the MetricAlarm members} and "cw-alarm-history" {items: [...]} per alarm,
named REGION/NAME.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rolecall.core import metrics, rounds
from rolecall.core.context import Caller, OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import AwsError
from rolecall.services.cloudwatch.errors import (
    InvalidFormat,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    ResourceNotFound,
)
from rolecall.services.cloudwatch.metric_data import dims
from rolecall.services.cloudwatch.statistics import STATISTICS, buckets, statistic
from rolecall.store import Tx

if TYPE_CHECKING:
    from rolecall.core.host import Host

ALARM = "cw-alarm"
HISTORY = "cw-alarm-history"
MAX_HISTORY = 1000
SERVICE_PRINCIPAL = "cloudwatch.amazonaws.com"
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, ">="),
    "GreaterThanThreshold": (lambda v, t: v > t, ">"),
    "LessThanThreshold": (lambda v, t: v < t, "<"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "<="),
}
MISSING = ("breaching", "notBreaching", "ignore", "missing")


def alarm_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def _key(region: str, name: str) -> str:
    return f"{region}/{name}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _alarm_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return alarm_arn(ctx.region, ctx.account, params["AlarmName"])


def _alarms_resource(ctx: OpContext, params: dict[str, Any]) -> list[str] | str:
    names = params.get("AlarmNames") or []
    return [alarm_arn(ctx.region, ctx.account, n) for n in names] or alarm_arn(ctx.region, ctx.account, "*")


def _all_alarms(ctx: OpContext, params: dict[str, Any]) -> str:
    return alarm_arn(ctx.region, ctx.account, "*")


def add_history(
    tx: Tx, account: str, alarm: dict[str, Any], kind: str, summary: str, data: dict[str, Any], now: float
) -> None:
    key = _key(alarm["region"], alarm["AlarmName"])
    doc = tx.get(account, HISTORY, key)
    item = {
        "AlarmName": alarm["AlarmName"],
        "AlarmType": "MetricAlarm",
        "Timestamp": now,
        "HistoryItemType": kind,
        "HistorySummary": summary,
        "HistoryData": json.dumps(data, separators=(",", ":")),
    }
    if doc is None:
        tx.insert(account, HISTORY, key, {"items": [item]})
    else:
        doc["items"] = [*doc["items"], item][-MAX_HISTORY:]
        tx.update(account, HISTORY, key, doc)


def view(alarm: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in alarm.items() if k != "region" and k != "Tags" and v is not None}


class AlarmOperations(Family):
    @operation(
        "cloudwatch:PutMetricAlarm",
        resource=_alarm_resource,
        unsupported=[
            "ExtendedStatistic",
            "EvaluateLowSampleCountPercentile",
            "Metrics",
            "ThresholdMetricId",
            "EvaluationWindow",
            "WarmUpConfiguration",
            "EvaluationCriteria",
            "EvaluationInterval",
            "ActionConfiguration",
        ],
    )
    def PutMetricAlarm(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["AlarmName"]
        for member in ("MetricName", "Namespace", "Statistic", "Period", "Threshold", "ComparisonOperator"):
            if params.get(member) is None:
                raise InvalidParameterCombination(
                    f"The parameter {member} is required for an alarm on a metric."
                )
        if params["Statistic"] not in STATISTICS:
            raise InvalidParameterValue(
                f"The value {params['Statistic']} for parameter Statistic is invalid."
            )
        if params["ComparisonOperator"] not in COMPARISONS:
            raise InvalidParameterValue(
                f"The value {params['ComparisonOperator']} for parameter ComparisonOperator is invalid."
            )
        period, periods = params["Period"], params["EvaluationPeriods"]
        if period < 10 or (period >= 60 and period % 60) or (period < 60 and period not in (10, 20, 30)):
            raise InvalidParameterValue("Period must be 10, 20, 30 or a multiple of 60.")
        to_alarm = params.get("DatapointsToAlarm", periods)
        if not 1 <= to_alarm <= periods:
            raise InvalidParameterValue("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
        if params.get("TreatMissingData", "missing") not in MISSING:
            raise InvalidParameterValue(
                f"The value {params['TreatMissingData']} for parameter TreatMissingData is invalid."
            )
        for member in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            actions = params.get(member) or []
            if len(actions) > 5:
                raise LimitExceeded(f"The maximum number of {member} is 5.")
            for action in actions:
                if not action.startswith(
                    ("arn:aws:sns:", "arn:aws:automate:", "arn:aws:swf:", "arn:aws:lambda:", "arn:aws:ssm:")
                ):
                    raise InvalidParameterValue(f"Invalid arn syntax: {action}")
        now = ctx.clock.time()
        key = _key(ctx.region, name)
        existing = ctx.tx.get(ctx.account, ALARM, key)
        alarm: dict[str, Any] = {
            "region": ctx.region,
            "AlarmName": name,
            "AlarmArn": alarm_arn(ctx.region, ctx.account, name),
            "AlarmDescription": params.get("AlarmDescription"),
            "AlarmConfigurationUpdatedTimestamp": now,
            "ActionsEnabled": params.get("ActionsEnabled", True),
            "OKActions": params.get("OKActions") or [],
            "AlarmActions": params.get("AlarmActions") or [],
            "InsufficientDataActions": params.get("InsufficientDataActions") or [],
            "StateValue": "INSUFFICIENT_DATA",
            "StateReason": "Unchecked: Initial alarm creation",
            "StateUpdatedTimestamp": now,
            "StateTransitionedTimestamp": now,
            "MetricName": params["MetricName"],
            "Namespace": params["Namespace"],
            "Statistic": params["Statistic"],
            "Dimensions": params.get("Dimensions") or [],
            "Period": period,
            "Unit": params.get("Unit"),
            "EvaluationPeriods": periods,
            "DatapointsToAlarm": params.get("DatapointsToAlarm"),
            "Threshold": float(params["Threshold"]),
            "ComparisonOperator": params["ComparisonOperator"],
            "TreatMissingData": params.get("TreatMissingData"),
            "Tags": params.get("Tags") or [],
        }
        if existing:
            for keep in (
                "StateValue",
                "StateReason",
                "StateReasonData",
                "StateUpdatedTimestamp",
                "StateTransitionedTimestamp",
            ):
                alarm[keep] = existing.get(keep)
            ctx.tx.update(ctx.account, ALARM, key, alarm)
        else:
            ctx.tx.insert(ctx.account, ALARM, key, alarm)
        add_history(
            ctx.tx,
            ctx.account,
            alarm,
            "ConfigurationUpdate",
            f'Alarm "{name}" {"updated" if existing else "created"}',
            {"type": "Update" if existing else "Create", "version": "1.0"},
            now,
        )
        return {}

    @operation("cloudwatch:DescribeAlarms", resource=_all_alarms)
    def DescribeAlarms(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
        if names and prefix:
            raise InvalidParameterCombination("AlarmNames and AlarmNamePrefix are mutually exclusive.")
        types = params.get("AlarmTypes") or ["MetricAlarm"]
        state, action_prefix = params.get("StateValue"), params.get("ActionPrefix")
        found = sorted(
            (a for a in ctx.tx.list(ctx.account, ALARM) if a["region"] == ctx.region),
            key=lambda a: a["AlarmName"],
        )
        selected = [
            a
            for a in found
            if (not names or a["AlarmName"] in names)
            and (not prefix or a["AlarmName"].startswith(prefix))
            and (not state or a["StateValue"] == state)
            and (
                not action_prefix
                or any(
                    x.startswith(action_prefix)
                    for k in ("AlarmActions", "OKActions", "InsufficientDataActions")
                    for x in a[k]
                )
            )
        ]
        if "MetricAlarm" not in types:
            selected = []
        start = _token(params.get("NextToken"))
        limit = params.get("MaxRecords", 50)
        out: dict[str, Any] = {
            "MetricAlarms": [view(a) for a in selected[start : start + limit]],
            "CompositeAlarms": [],
        }
        if start + limit < len(selected):
            out["NextToken"] = str(start + limit)
        return out

    @operation("cloudwatch:DescribeAlarmHistory", resource=_all_alarms, unsupported=["AlarmContributorId"])
    def DescribeAlarmHistory(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, kind = params.get("AlarmName"), params.get("HistoryItemType")
        start_date, end_date = params.get("StartDate"), params.get("EndDate")
        items: list[dict[str, Any]] = []
        for key_doc in ctx.tx.list(ctx.account, HISTORY):
            items.extend(key_doc["items"])
        items = [
            i
            for i in items
            if (not name or i["AlarmName"] == name)
            and (not kind or i["HistoryItemType"] == kind)
            and (start_date is None or i["Timestamp"] >= start_date.timestamp())
            and (end_date is None or i["Timestamp"] <= end_date.timestamp())
            and "MetricAlarm" in (params.get("AlarmTypes") or ["MetricAlarm"])
        ]
        items.sort(
            key=lambda i: i["Timestamp"],
            reverse=params.get("ScanBy", "TimestampDescending") == "TimestampDescending",
        )
        start = _token(params.get("NextToken"))
        limit = params.get("MaxRecords", 100)
        page = [
            {**i, "Timestamp": datetime.fromtimestamp(i["Timestamp"], UTC)}
            for i in items[start : start + limit]
        ]
        out: dict[str, Any] = {"AlarmHistoryItems": page}
        if start + limit < len(items):
            out["NextToken"] = str(start + limit)
        return out

    @operation("cloudwatch:SetAlarmState", resource=_alarm_resource)
    def SetAlarmState(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        alarm = ctx.tx.get(ctx.account, ALARM, _key(ctx.region, params["AlarmName"]))
        if alarm is None:
            raise ResourceNotFound(f"Alarm {params['AlarmName']} not found")
        if params.get("StateReasonData"):
            try:
                json.loads(params["StateReasonData"])
            except ValueError:
                raise InvalidFormat("StateReasonData is not valid JSON.") from None
        previous = set_state(
            ctx.tx,
            ctx.account,
            alarm,
            params["StateValue"],
            params["StateReason"],
            ctx.clock.time(),
            params.get("StateReasonData"),
        )
        if previous is not None and alarm.get("ActionsEnabled", True):
            host = ctx.host
            account = ctx.account

            def act() -> None:
                run_actions(host, account, alarm, previous)

            ctx.defer(act)
        return {}

    @operation("cloudwatch:DeleteAlarms", resource=_alarms_resource)
    def DeleteAlarms(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        names = params["AlarmNames"]
        missing = [n for n in names if ctx.tx.get(ctx.account, ALARM, _key(ctx.region, n)) is None]
        if missing:
            raise ResourceNotFound(f"{', '.join(missing)} not found")
        for n in names:
            ctx.tx.delete(ctx.account, ALARM, _key(ctx.region, n))
            ctx.tx.delete(ctx.account, HISTORY, _key(ctx.region, n))
        return {}


def _token(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidNextToken("The service couldn't process your request because of an invalid token.")
    return int(token)


def set_state(
    tx: Tx, account: str, alarm: dict[str, Any], state: str, reason: str, now: float, data: str | None = None
) -> str | None:
    """Put the alarm in `state` and record the change; the previous state, or None if it did not change."""
    previous = alarm["StateValue"]
    alarm.update(StateReason=reason, StateUpdatedTimestamp=now, StateReasonData=data)
    changed = previous != state
    if changed:
        alarm.update(StateValue=state, StateTransitionedTimestamp=now)
        add_history(
            tx,
            account,
            alarm,
            "StateUpdate",
            f"Alarm updated from {previous} to {state}",
            {
                "version": "1.0",
                "oldState": {"stateValue": previous},
                "newState": {"stateValue": state, "stateReason": reason},
            },
            now,
        )
    tx.update(account, ALARM, _key(alarm["region"], alarm["AlarmName"]), alarm)
    return previous if changed else None


# -- evaluation -------------------------------------------------------------------------------------------


def evaluate(alarm: dict[str, Any], points: list[metrics.Point], now: float) -> tuple[str, str] | None:
    """(new state, reason) from the alarm's last EvaluationPeriods periods; None to keep the state."""
    period, count = alarm["Period"], alarm["EvaluationPeriods"]
    end = int(now // period * period)
    start = end - count * period
    groups = buckets(points, start, end, period, alarm.get("Unit"))
    compare, sign = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = alarm["Threshold"]
    treat = alarm.get("TreatMissingData") or "missing"
    values = [
        statistic(groups[s], alarm["Statistic"]) if s in groups else None for s in range(start, end, period)
    ]
    present = [v for v in values if v is not None]
    breaching = sum(1 for v in present if compare(v, threshold))
    missing = len(values) - len(present)
    if treat == "breaching":
        breaching += missing
    needed = alarm.get("DatapointsToAlarm") or count
    shown = ", ".join(f"{v:g}" for v in present[-5:])
    if breaching >= needed:
        return "ALARM", (
            f"Threshold Crossed: {breaching} out of the last {count} datapoints [{shown}] "
            f"{'were' if breaching != 1 else 'was'} {sign} the threshold ({threshold:g})."
        )
    if not present and treat == "missing":
        return "INSUFFICIENT_DATA", f"Insufficient Data: {count} datapoints were unknown."
    if not present and treat == "ignore":
        return None
    # notBreaching counts the missing periods as good ones.
    good = count - breaching if treat == "notBreaching" else len(present) - breaching
    return "OK", (
        f"Threshold Crossed: {good} out of the last {count} datapoints [{shown}] were not {sign} the threshold "
        f"({threshold:g})."
    )


def evaluate_all(host: Host, *, claim: bool = True) -> int:
    """Evaluate every alarm of every account once; run the actions of those that changed. The changes.
    With `claim`, only if no other node sharing the database has evaluated this round."""
    now = host.clock.time()
    if claim and not rounds.claim(
        host.store, "cloudwatch-alarms", now, host.config.alarm_evaluation_interval
    ):
        return 0
    changed: list[tuple[str, dict[str, Any], str]] = []
    with host.store.transaction() as tx:
        for account in _accounts(tx):
            for alarm in tx.list(account, ALARM):
                doc = metrics.get_metric(
                    tx,
                    account,
                    alarm["region"],
                    alarm["Namespace"],
                    alarm["MetricName"],
                    dims(alarm["Dimensions"]),
                )
                verdict = evaluate(alarm, doc["points"] if doc else [], now)
                if verdict is None:
                    continue
                previous = (
                    set_state(tx, account, alarm, verdict[0], verdict[1], now)
                    if verdict[0] != alarm["StateValue"]
                    else None
                )
                if previous is not None:
                    changed.append((account, alarm, previous))
    for account, alarm, previous in changed:
        if alarm.get("ActionsEnabled", True):
            run_actions(host, account, alarm, previous)
    return len(changed)


def _accounts(tx: Tx) -> list[str]:
    from rolecall.store import GLOBAL

    return [a["AccountId"] for a in tx.list(GLOBAL, "account")]


def service_caller(account: str, alarm_arn_: str) -> Caller:
    return Caller(
        account=account,
        arn=SERVICE_PRINCIPAL,
        type="AWSService",
        principal_id=SERVICE_PRINCIPAL,
        session={
            "context": {"aws:SourceArn": alarm_arn_, "aws:SourceAccount": account, "aws:SourceOwner": account}
        },
    )


def notification(alarm: dict[str, Any], account: str, previous: str) -> dict[str, Any]:
    """The JSON message CloudWatch publishes to an alarm's SNS topics."""
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(alarm["AlarmConfigurationUpdatedTimestamp"]),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm["StateReason"],
        "StateChangeTime": _iso(alarm["StateUpdatedTimestamp"]),
        "Region": alarm["region"],
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": previous,
        "OKActions": alarm["OKActions"],
        "AlarmActions": alarm["AlarmActions"],
        "InsufficientDataActions": alarm["InsufficientDataActions"],
        "Trigger": {
            "MetricName": alarm["MetricName"],
            "Namespace": alarm["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": alarm["Statistic"].upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm["Dimensions"]],
            "Period": alarm["Period"],
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": alarm["Threshold"],
            "TreatMissingData": alarm.get("TreatMissingData") or "missing",
        },
    }


def run_actions(host: Host, account: str, alarm: dict[str, Any], previous: str) -> None:
    """Publish the alarm's new state to the SNS topics of its actions for that state, as CloudWatch; each
    outcome goes into the alarm's history."""
    member = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
    actions = alarm.get(member[alarm["StateValue"]]) or []
    caller = service_caller(account, alarm["AlarmArn"])
    message = notification(alarm, account, previous)
    for action in actions:
        if not action.startswith("arn:aws:sns:"):
            outcome, ok = f"Failed to execute action {action}: rolecall runs SNS actions only", False
        else:
            region = action.split(":")[3]
            params = {
                "TopicArn": action,
                "Subject": f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {alarm["region"]}'[:100],
                "Message": json.dumps(message),
            }
            try:
                host.invoke(caller, "sns", "Publish", params, region=region)
                outcome, ok = f"Successfully executed action {action}", True
            except (AwsError, KeyError) as err:
                code = err.code if isinstance(err, AwsError) else "ServiceUnavailable"
                outcome, ok = f'Failed to execute action {action}. Received error: "{code}"', False
        with host.store.transaction() as tx:
            add_history(
                tx,
                account,
                alarm,
                "Action",
                outcome,
                {"actionState": "Succeeded" if ok else "Failed", "notificationResource": action},
                host.clock.time(),
            )
