"""Amazon CloudWatch (Smithy RPC v2 CBOR, signing name "monitoring"): metric data (metric_data) and metric
alarms (alarms), with statistics computed per period (statistics). Alarms are evaluated every
--alarm-evaluation-interval seconds on one thread of the service."""

from __future__ import annotations

import logging
import threading

from rolecall.core.host import Host
from rolecall.core.operations import Service
from rolecall.services.cloudwatch.alarms import AlarmOperations, evaluate_all
from rolecall.services.cloudwatch.metric_data import MetricDataOperations

log = logging.getLogger("rolecall.cloudwatch")


class CloudWatch(Service):
    name = "monitoring"
    model = "cloudwatch"
    families = (MetricDataOperations, AlarmOperations)

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, host: Host) -> None:
        super().start(host)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cloudwatch-alarms", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def evaluate_alarms(self, *, claim: bool = False) -> int:
        """Evaluate every alarm now (one round; the thread runs one every interval, claiming it so that of
        several nodes on one database only one does). The alarms changed."""
        assert self.host is not None
        with self._lock:
            return evaluate_all(self.host, claim=claim)

    def _run(self) -> None:
        assert self.host is not None
        interval = max(0.2, float(self.host.config.alarm_evaluation_interval))
        while not self._stop.wait(interval):
            try:
                self.evaluate_alarms(claim=True)
            except Exception:  # a failed round must not end evaluations
                log.exception("alarm evaluation failed")


__all__ = ["CloudWatch"]
