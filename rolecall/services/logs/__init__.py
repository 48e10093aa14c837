"""Amazon CloudWatch Logs (json protocol): log groups, log streams and their events (operations), the
filter pattern language (filter, json_filter), metric filters (metric_filters) and where events are kept
(store)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.logs.metric_filters import MetricFilterOperations
from rolecall.services.logs.operations import LogsOperations


class Logs(Service):
    name = "logs"
    model = "logs"
    families = (LogsOperations, MetricFilterOperations)


__all__ = ["Logs"]
