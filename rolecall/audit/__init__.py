"""CloudTrail: the records every request leaves (records.py) and the writers that store them (writer.py: a thread;
trail_process.py: a process of its own, as `rolecall serve` runs it)."""

from rolecall.audit.records import RequestEvent, record, sensitive_members, trail_resources
from rolecall.audit.writer import TrailSink, TrailWriter

__all__ = ["RequestEvent", "TrailSink", "TrailWriter", "record", "sensitive_members", "trail_resources"]
