"""CloudTrail's LookupEvents over the records the pipeline writes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.cloudtrail.errors import (
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
)
from rolecall.store.events import event_username, utc

LOOKUP_KEYS = {
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
}


def _event(rec: dict[str, Any]) -> dict[str, Any]:
    ident = rec.get("userIdentity") or {}
    username = event_username(ident)  # the same rule the store indexes Username lookups by
    out: dict[str, Any] = {
        "EventId": rec["eventID"],
        "EventName": rec["eventName"],
        "ReadOnly": "true" if rec.get("readOnly") else "false",
        # fromisoformat, as the store indexed it: strptime took 6-30 µs a record, a fifth to a half
        # of a page's CPU.
        "EventTime": utc(datetime.fromisoformat(rec["eventTime"])),
        "EventSource": rec["eventSource"],
        "Resources": [
            {"ResourceType": r.get("type"), "ResourceName": r.get("ARN")} for r in rec.get("resources") or []
        ],
        "CloudTrailEvent": json.dumps(rec, separators=(",", ":")),
    }
    if ident.get("accessKeyId"):
        out["AccessKeyId"] = ident["accessKeyId"]
    if username:
        out["Username"] = username
    return out


class EventHistoryOperations(Family):
    @operation("cloudtrail:LookupEvents", read_only=True)
    def LookupEvents(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        attrs = params.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise InvalidLookupAttributesException("You cannot specify more than one lookup attribute.")
        attribute = None
        if attrs:
            key, value = attrs[0].get("AttributeKey"), attrs[0].get("AttributeValue", "")
            if key not in LOOKUP_KEYS:
                raise InvalidLookupAttributesException(f"{key} is not a valid lookup attribute key.")
            attribute = (key, value)
        start, end = params.get("StartTime"), params.get("EndTime")
        if start and end and start > end:
            raise InvalidTimeRangeException("Start time must be before end time.")
        max_results = params.get("MaxResults", 50)
        if not 1 <= max_results <= 50:
            raise InvalidMaxResultsException("Value for parameter MaxResults must be between 1 and 50.")
        if params.get("EventCategory") == "insight":
            # Only Insights events are looked up then, and rolecall has no CloudTrail Insights.
            return {"Events": []}
        try:
            records, token = ctx.store.lookup_events(
                ctx.account,
                attribute=attribute,
                start=start,
                end=end,
                max_results=max_results,
                next_token=params.get("NextToken"),
            )
        except ValueError as exc:
            raise InvalidNextTokenException("Invalid NextToken.") from exc
        out: dict[str, Any] = {"Events": [_event(r) for r in records]}
        if token:
            out["NextToken"] = token
        return out
