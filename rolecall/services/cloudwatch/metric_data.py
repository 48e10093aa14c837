"""CloudWatch metrics: PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics over the data points
rolecall.core.metrics keeps (also written by CloudWatch Logs' metric filters).

CloudWatch authorizes these actions on "*" (they have no resource type). Namespaces starting with "AWS/"
are reserved for AWS's own services, as CloudWatch refuses them to PutMetricData.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from rolecall.core import metrics
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.cloudwatch.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from rolecall.services.cloudwatch.statistics import STATISTICS, aggregate, buckets, statistic

MAX_DATUMS = 1000
MAX_DATAPOINTS = 1440  # GetMetricStatistics answers at most this many
PAGE = 500


def dims(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in items or []}


def _epoch(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _points(datum: dict[str, Any], now: float) -> list[metrics.Point]:
    ts = _epoch(datum["Timestamp"]) if datum.get("Timestamp") is not None else now
    unit = datum.get("Unit") or "None"
    given = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
    if len(given) > 1:
        raise InvalidParameterCombination(
            "The parameters MetricData.member.N.Value, MetricData.member.N.StatisticValues and "
            "MetricData.member.N.Values are mutually exclusive and you have specified more than one."
        )
    if not given:
        raise MissingParameter(
            "The parameter MetricData.member.N.Value, StatisticValues or Values is required."
        )
    if "Value" in given:
        return [metrics.value_point(ts, float(datum["Value"]), unit)]
    if "StatisticValues" in given:
        s = datum["StatisticValues"]
        return [
            [ts, float(s["Sum"]), float(s["SampleCount"]), float(s["Minimum"]), float(s["Maximum"]), unit]
        ]
    values, counts = datum["Values"], datum.get("Counts") or [1.0] * len(datum["Values"])
    if len(counts) != len(values):
        raise InvalidParameterValue("The Values and Counts arrays must have the same length.")
    return [[ts, v * c, c, v, v, unit] for v, c in zip(values, counts, strict=True)]


class MetricDataOperations(Family):
    @operation(
        "cloudwatch:PutMetricData",
        context=lambda ctx, params: {"cloudwatch:namespace": params.get("Namespace")},
        unsupported=["EntityMetricData", "StrictEntityValidation"],
    )
    def PutMetricData(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params["Namespace"]
        if namespace.startswith("AWS/"):
            raise InvalidParameterValue(
                f"The value {namespace} for parameter Namespace is invalid. Namespaces starting with AWS/ "
                "are reserved for use by AWS services."
            )
        data = params.get("MetricData") or []
        if not data:
            raise MissingParameter("The parameter MetricData is required.")
        if len(data) > MAX_DATUMS:
            raise InvalidParameterValue(
                f"The collection MetricData must not have a size greater than {MAX_DATUMS}."
            )
        now = ctx.clock.time()
        for datum in data:
            metrics.put_points(
                ctx.tx,
                ctx.account,
                ctx.region,
                namespace,
                datum["MetricName"],
                dims(datum.get("Dimensions")),
                _points(datum, now),
            )
        return {}

    @operation("cloudwatch:GetMetricStatistics", unsupported=["ExtendedStatistics"])
    def GetMetricStatistics(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("Statistics") or []
        if not wanted:
            raise MissingParameter("Must specify either Statistics or ExtendedStatistics.")
        start, end, period = _epoch(params["StartTime"]), _epoch(params["EndTime"]), params["Period"]
        if start >= end:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        if period < 1 or (period >= 60 and period % 60):
            raise InvalidParameterValue("The parameter Period must be a multiple of 60.")
        if (end - start) / period > MAX_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {int((end - start) / period)} datapoints, which exceeds the limit of "
                f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing "
                "the time range."
            )
        doc = metrics.get_metric(
            ctx.tx,
            ctx.account,
            ctx.region,
            params["Namespace"],
            params["MetricName"],
            dims(params.get("Dimensions")),
        )
        points = doc["points"] if doc else []
        datapoints = []
        for slot, group in sorted(buckets(points, start, end, period, params.get("Unit")).items()):
            stats = aggregate(group)
            point: dict[str, Any] = {"Timestamp": slot, "Unit": stats["Unit"]}
            point.update({name: stats[name] for name in wanted})
            datapoints.append(point)
        return {"Label": params["MetricName"], "Datapoints": datapoints}

    @operation("cloudwatch:GetMetricData", unsupported=["LabelOptions", "MetricDataQueries.Expression"])
    def GetMetricData(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
        newest_first = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for query in params["MetricDataQueries"]:
            stat = query.get("MetricStat")
            if stat is None:
                raise InvalidParameterValue(
                    f"The metric data query {query['Id']} must have a MetricStat (math expressions are not "
                    "supported by rolecall)."
                )
            if stat["Stat"] not in STATISTICS:
                raise InvalidParameterValue(f"The value {stat['Stat']} for parameter Stat is invalid.")
            metric = stat["Metric"]
            doc = metrics.get_metric(
                ctx.tx,
                ctx.account,
                ctx.region,
                metric.get("Namespace", ""),
                metric.get("MetricName", ""),
                dims(metric.get("Dimensions")),
            )
            groups = sorted(
                buckets(doc["points"] if doc else [], start, end, stat["Period"], stat.get("Unit")).items(),
                reverse=newest_first,
            )
            if query.get("ReturnData", True):
                results.append(
                    {
                        "Id": query["Id"],
                        "Label": query.get("Label") or metric.get("MetricName", ""),
                        "Timestamps": [slot for slot, _ in groups],
                        "Values": [statistic(g, stat["Stat"]) for _, g in groups],
                        "StatusCode": "Complete",
                    }
                )
        return {"MetricDataResults": results, "Messages": []}

    # Cross-account observability: no source accounts are linked to a monitoring account here.
    @operation(
        "cloudwatch:ListMetrics",
        unsupported={"IncludeLinkedAccounts": (False,), "OwningAccount": (), "RecentlyActive": ()},
    )
    def ListMetrics(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace, name = params.get("Namespace"), params.get("MetricName")
        filters = params.get("Dimensions") or []
        found = []
        for m in metrics.metrics(ctx.tx, ctx.account, ctx.region):
            have = dims(m["Dimensions"])
            if namespace and m["Namespace"] != namespace or name and m["MetricName"] != name:
                continue
            if any(
                f["Name"] not in have or ("Value" in f and have[f["Name"]] != f["Value"]) for f in filters
            ):
                continue
            found.append(
                {"Namespace": m["Namespace"], "MetricName": m["MetricName"], "Dimensions": m["Dimensions"]}
            )
        found.sort(key=lambda m: (m["Namespace"], m["MetricName"], json.dumps(m["Dimensions"])))
        start = 0
        if params.get("NextToken"):
            try:
                start = int(base64.urlsafe_b64decode(params["NextToken"]).decode())
            except ValueError:
                raise InvalidNextToken(
                    "The service couldn't process your request because of an invalid token."
                ) from None
        out: dict[str, Any] = {"Metrics": found[start : start + PAGE]}
        if start + PAGE < len(found):
            out["NextToken"] = base64.urlsafe_b64encode(str(start + PAGE).encode()).decode()
        return out
