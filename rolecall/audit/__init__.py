"""CloudTrail: the records every request leaves (records.py) and the writer that stores them (writer.py)."""

from rolecall.audit.records import RequestEvent, record, sensitive_members, trail_resources
from rolecall.audit.writer import TrailWriter

__all__ = ["RequestEvent", "TrailWriter", "record", "sensitive_members", "trail_resources"]
