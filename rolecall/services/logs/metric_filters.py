"""CloudWatch Logs metric filters: a log group's filters turn matching log events into CloudWatch metrics.

PutMetricFilter / DescribeMetricFilters / DeleteMetricFilter keep them (store documents of kind
"log-metric-filter", named by a digest of Region, group and filter name); TestMetricFilter tries a pattern
on sample messages. As events are put (PutLogEvents), each filter of the group publishes, for each
matching event, its metricValue (a number, or $.field of a JSON event) at the event's time, with the
dimensions its selectors give; a batch in which nothing matches publishes the defaultValue, when the
filter has one. The data points go to CloudWatch's metrics (rolecall.core.metrics) in the same
transaction as the events.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rolecall.core import metrics
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.logs import store
from rolecall.services.logs.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)
from rolecall.services.logs.filter import BadFilterPattern, parse_filter_pattern
from rolecall.services.logs.json_filter import selector_value

KIND = "log-metric-filter"
MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3
NO_GROUP = "The specified log group does not exist."


def filter_key(region: str, group: str, name: str) -> str:
    return hashlib.sha256(f"{region}:{group}:{name}".encode()).hexdigest()[:40]


def group_filters(ctx: OpContext, region: str, group: str) -> list[dict[str, Any]]:
    return sorted(
        (f for f in ctx.tx.list(ctx.account, KIND) if f["region"] == region and f["logGroupName"] == group),
        key=lambda f: f["filterName"],
    )


def filter_counts(ctx: OpContext, region: str) -> dict[str, int]:
    """The number of metric filters of each log group of a Region (DescribeLogGroups' metricFilterCount)."""
    out: dict[str, int] = {}
    for f in ctx.tx.list(ctx.account, KIND):
        if f["region"] == region:
            out[f["logGroupName"]] = out.get(f["logGroupName"], 0) + 1
    return out


def delete_group_filters(ctx: OpContext, region: str, group: str) -> None:
    for f in group_filters(ctx, region, group):
        ctx.tx.delete(ctx.account, KIND, filter_key(region, group, f["filterName"]))


def _value(transformation: dict[str, Any], message: str) -> float | None:
    """The value an event gives: the literal metricValue, or the number at its $.selector."""
    spec = str(transformation["metricValue"]).strip()
    if spec.startswith("$"):
        value = selector_value(message, spec)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            return float(value)
        except ValueError:
            return None
    return float(spec)


def _dimensions(transformation: dict[str, Any], message: str) -> dict[str, str] | None:
    out = {}
    for name, selector in (transformation.get("dimensions") or {}).items():
        value = selector_value(message, selector)
        if value is None:
            return None  # AWS publishes no data point for an event without the dimension's field
        out[name] = str(value)
    return out


def publish(ctx: OpContext, region: str, group: str, events: list[tuple[int, str]]) -> None:
    """Publish the metrics the group's filters make of `events` ((timestamp ms, message))."""
    for metric_filter in group_filters(ctx, region, group):
        pattern = parse_filter_pattern(metric_filter["filterPattern"])
        matched = [(ts, message) for ts, message in events if pattern.matches(message)]
        for transformation in metric_filter["metricTransformations"]:
            unit = transformation.get("unit") or "None"
            series: dict[tuple[tuple[str, str], ...], list[metrics.Point]] = {}
            for ts, message in matched:
                value = _value(transformation, message)
                dims = _dimensions(transformation, message)
                if value is None or dims is None:
                    continue
                series.setdefault(tuple(sorted(dims.items())), []).append(
                    metrics.value_point(ts / 1000, value, unit)
                )
            if not matched and transformation.get("defaultValue") is not None:
                now = ctx.clock.time()
                series[()] = [metrics.value_point(now, float(transformation["defaultValue"]), unit)]
            for dims_key, points in series.items():
                metrics.put_points(
                    ctx.tx,
                    ctx.account,
                    region,
                    transformation["metricNamespace"],
                    transformation["metricName"],
                    dict(dims_key),
                    points,
                )


def _pattern(text: str) -> None:
    try:
        parse_filter_pattern(text)
    except BadFilterPattern as exc:
        raise InvalidParameterException(str(exc)) from None


def _group_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{params['logGroupName']}:log-stream:"


def _describe_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{params.get('logGroupName', '')}:log-stream:"


class MetricFilterOperations(Family):
    # Transformed logs, field indexes and system-field dimensions are not implemented here.
    @operation(
        "logs:PutMetricFilter",
        resource=_group_resource,
        unsupported={
            "applyOnTransformedLogs": (False,),
            "fieldSelectionCriteria": (),
            "emitSystemFieldDimensions": (),
        },
    )
    def PutMetricFilter(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group, name = params["logGroupName"], params["filterName"]
        if store.get_group(ctx.tx, ctx.account, ctx.region, group) is None:
            raise ResourceNotFoundException(NO_GROUP)
        _pattern(params["filterPattern"])
        transformations = params["metricTransformations"]
        for t in transformations:
            spec = str(t["metricValue"]).strip()
            if not spec.startswith("$"):
                try:
                    float(spec)
                except ValueError:
                    raise InvalidParameterException(
                        f"Invalid metric value: {spec}. It must be a number or a $.selector."
                    ) from None
            dims = t.get("dimensions") or {}
            if len(dims) > MAX_DIMENSIONS:
                raise InvalidParameterException(
                    f"A metric filter can have at most {MAX_DIMENSIONS} dimensions."
                )
            if dims and t.get("defaultValue") is not None:
                raise InvalidParameterException(
                    "A metric filter with dimensions cannot have a default value."
                )
        key = filter_key(ctx.region, group, name)
        existing = ctx.tx.get(ctx.account, KIND, key)
        doc = {
            "region": ctx.region,
            "logGroupName": group,
            "filterName": name,
            "filterPattern": params["filterPattern"],
            "metricTransformations": [dict(t) for t in transformations],
            "creationTime": existing["creationTime"] if existing else int(ctx.clock.time() * 1000),
        }
        if existing:
            ctx.tx.update(ctx.account, KIND, key, doc)
        else:
            if len(group_filters(ctx, ctx.region, group)) >= MAX_FILTERS_PER_GROUP:
                raise LimitExceededException("Resource limit exceeded.")
            ctx.tx.insert(ctx.account, KIND, key, doc)
        return {}

    @operation("logs:DescribeMetricFilters", resource=_describe_resource)
    def DescribeMetricFilters(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group, prefix = params.get("logGroupName"), params.get("filterNamePrefix")
        metric_name, namespace = params.get("metricName"), params.get("metricNamespace")
        if prefix and not group:
            raise InvalidParameterException("filterNamePrefix requires logGroupName.")
        if bool(metric_name) != bool(namespace):
            raise InvalidParameterException("metricName and metricNamespace must be given together.")
        if group and store.get_group(ctx.tx, ctx.account, ctx.region, group) is None:
            raise ResourceNotFoundException(NO_GROUP)
        found = sorted(
            (f for f in ctx.tx.list(ctx.account, KIND) if f["region"] == ctx.region),
            key=lambda f: (f["logGroupName"], f["filterName"]),
        )
        selected = [
            f
            for f in found
            if (not group or f["logGroupName"] == group)
            and (not prefix or f["filterName"].startswith(prefix))
            and (
                not metric_name
                or any(
                    t["metricName"] == metric_name and t["metricNamespace"] == namespace
                    for t in f["metricTransformations"]
                )
            )
        ]
        start = int(params["nextToken"]) if str(params.get("nextToken", "")).isdigit() else 0
        limit = params.get("limit", 50)
        page = selected[start : start + limit]
        out: dict[str, Any] = {
            "metricFilters": [
                {
                    "filterName": f["filterName"],
                    "filterPattern": f["filterPattern"],
                    "metricTransformations": f["metricTransformations"],
                    "creationTime": f["creationTime"],
                    "logGroupName": f["logGroupName"],
                }
                for f in page
            ]
        }
        if start + limit < len(selected):
            out["nextToken"] = str(start + limit)
        return out

    @operation("logs:DeleteMetricFilter", resource=_group_resource)
    def DeleteMetricFilter(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group, name = params["logGroupName"], params["filterName"]
        if store.get_group(ctx.tx, ctx.account, ctx.region, group) is None:
            raise ResourceNotFoundException(NO_GROUP)
        if not ctx.tx.delete(ctx.account, KIND, filter_key(ctx.region, group, name)):
            raise ResourceNotFoundException("The specified resource does not exist.")
        return {}

    @operation("logs:TestMetricFilter", read_only=True)
    def TestMetricFilter(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        _pattern(params["filterPattern"])
        pattern = parse_filter_pattern(params["filterPattern"])
        return {
            "matches": [
                {"eventNumber": number, "eventMessage": message, "extractedValues": {}}
                for number, message in enumerate(params["logEventMessages"], start=1)
                if pattern.matches(message)
            ]
        }
