"""Statistics over a metric's data points, per period: what GetMetricStatistics, GetMetricData and alarms
compute (rolecall.core.metrics keeps the points as [timestamp, sum, count, min, max, unit])."""

from __future__ import annotations

from typing import Any

from rolecall.core.metrics import Point

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def buckets(
    points: list[Point], start: float, end: float, period: int, unit: str | None = None
) -> dict[int, list[Point]]:
    """The points in [start, end) of `unit` (any when None), by the start of their period (aligned on
    `start`)."""
    out: dict[int, list[Point]] = {}
    for point in points:
        ts = point[0]
        if not start <= ts < end or (unit is not None and point[5] != unit):
            continue
        slot = int(start + ((ts - start) // period) * period)
        out.setdefault(slot, []).append(point)
    return out


def aggregate(points: list[Point]) -> dict[str, Any]:
    total = sum(p[1] for p in points)
    count = sum(p[2] for p in points)
    return {
        "SampleCount": float(count),
        "Sum": float(total),
        "Average": float(total / count) if count else 0.0,
        "Minimum": float(min(p[3] for p in points)),
        "Maximum": float(max(p[4] for p in points)),
        "Unit": points[0][5] or "None",
    }


def statistic(points: list[Point], name: str) -> float:
    value = aggregate(points)[name]
    assert isinstance(value, float)
    return value
