"""Amazon CloudWatch Logs (json protocol): log groups, log streams and their events (operations), the
filter pattern language (filter) and where events are kept (store)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.logs.operations import LogsOperations


class Logs(Service):
    name = "logs"
    model = "logs"
    families = (LogsOperations,)


__all__ = ["Logs"]
