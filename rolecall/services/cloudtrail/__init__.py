"""AWS CloudTrail (json protocol): the event history (LookupEvents) over the records every request leaves."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.cloudtrail.operations import EventHistoryOperations


class CloudTrail(Service):
    name = "cloudtrail"
    model = "cloudtrail"
    families = (EventHistoryOperations,)


__all__ = ["CloudTrail"]
