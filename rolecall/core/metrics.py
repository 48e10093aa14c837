"""CloudWatch metric data as the store keeps it, shared by the services that publish metrics (CloudWatch's
PutMetricData, CloudWatch Logs' metric filters) and CloudWatch, which reads them.

A metric is its (Region, namespace, name, dimensions); each is one store document of kind "cw-metric" in
its account, named by a digest of those, holding its data points as [timestamp, sum, count, min, max, unit]
(one value v is [t, v, 1, v, v, unit]; a statistic set keeps its own sum, count, min and max). Points older
than RETENTION before the newest are dropped as points are added (AWS keeps 1-minute data for 15 days).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from rolecall.store import Tx

KIND = "cw-metric"
RETENTION = 15 * 86400

Point = list[Any]  # [timestamp, sum, count, min, max, unit]


def metric_key(region: str, namespace: str, name: str, dimensions: dict[str, str]) -> str:
    parts = [region, namespace, name, *(f"{k}={v}" for k, v in sorted(dimensions.items()))]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:40]


def value_point(timestamp: float, value: float, unit: str = "None") -> Point:
    return [timestamp, value, 1, value, value, unit]


def put_points(
    tx: Tx,
    account: str,
    region: str,
    namespace: str,
    name: str,
    dimensions: dict[str, str],
    points: Iterable[Point],
) -> None:
    """Add data points to a metric (creating it)."""
    key = metric_key(region, namespace, name, dimensions)
    doc = tx.get(account, KIND, key)
    fresh = doc is None
    if doc is None:
        doc = {
            "region": region,
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
            "points": [],
        }
    doc["points"].extend(points)
    newest = max(p[0] for p in doc["points"]) if doc["points"] else 0
    doc["points"] = [p for p in doc["points"] if p[0] >= newest - RETENTION]
    if fresh:
        tx.insert(account, KIND, key, doc)
    else:
        tx.update(account, KIND, key, doc)


def metrics(tx: Tx, account: str, region: str) -> list[dict[str, Any]]:
    """Every metric of an account in a Region, with its points."""
    return [m for m in tx.list(account, KIND) if m["region"] == region]


def get_metric(
    tx: Tx, account: str, region: str, namespace: str, name: str, dimensions: dict[str, str]
) -> dict[str, Any] | None:
    return tx.get(account, KIND, metric_key(region, namespace, name, dimensions))
