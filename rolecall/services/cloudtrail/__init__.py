"""AWS CloudTrail (json protocol): the event history (LookupEvents) over the records every request leaves
(operations), and trails (trails) that deliver those records to S3 and CloudWatch Logs (delivery)."""

from __future__ import annotations

from rolecall.core.context import Caller
from rolecall.core.host import Host
from rolecall.core.operations import Service
from rolecall.services.cloudtrail.delivery import TrailDelivery
from rolecall.services.cloudtrail.operations import EventHistoryOperations
from rolecall.services.cloudtrail.trails import TrailOperations


class CloudTrail(Service):
    name = "cloudtrail"
    model = "cloudtrail"
    families = (EventHistoryOperations, TrailOperations)

    def __init__(self) -> None:
        super().__init__()
        self.delivery: TrailDelivery | None = None

    def start(self, host: Host) -> None:
        super().start(host)
        self.delivery = TrailDelivery(host)
        self.delivery.start()

    def stop(self) -> None:
        if self.delivery is not None:
            self.delivery.stop()

    def reset(self) -> None:
        if self.delivery is not None:
            self.delivery.forget()

    def admit(self, caller: Caller) -> None:
        """Records of reads and denials are written in batches: write them before LookupEvents opens its
        snapshot (which authorizing a user or role already reads from), so that callers see their own
        latest calls."""
        if self.host is not None:
            self.host.flush_trail()


__all__ = ["CloudTrail"]
