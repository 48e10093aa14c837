"""AWS CloudTrail (json protocol): the event history (LookupEvents) over the records every request leaves."""

from __future__ import annotations

from rolecall.core.context import Caller
from rolecall.core.operations import Service
from rolecall.services.cloudtrail.operations import EventHistoryOperations


class CloudTrail(Service):
    name = "cloudtrail"
    model = "cloudtrail"
    families = (EventHistoryOperations,)

    def admit(self, caller: Caller) -> None:
        """Records of reads and denials are written in batches: write them before LookupEvents opens its
        snapshot (which authorizing a user or role already reads from), so that callers see their own
        latest calls."""
        if self.host is not None:
            self.host.flush_trail()


__all__ = ["CloudTrail"]
