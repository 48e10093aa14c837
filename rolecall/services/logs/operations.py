"""Amazon CloudWatch Logs (JSON 1.1, Logs_20140328): log groups, log streams and their events.

Authorization uses the ARNs CloudWatch Logs itself evaluates (they show in its AccessDenied messages):
a log group's actions are checked on arn:aws:logs:R:A:log-group:NAME:log-stream: (hence AWS's advice to
write log-group:NAME:* in policies), a stream's on ...:log-group:NAME:log-stream:STREAM, and
DescribeLogGroups on ...:log-group::log-stream: (so it needs log-group:* or *).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.logs import metric_filters, store
from rolecall.services.logs.errors import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from rolecall.services.logs.filter import BadFilterPattern, parse_filter_pattern

MAX_BATCH_BYTES = 1_048_576  # PutLogEvents: messages in UTF-8 plus 26 bytes per event
EVENT_OVERHEAD = 26
MAX_RESPONSE_BYTES = 1_048_576  # GetLogEvents / FilterLogEvents return at most 1 MB of events
DAY_MS = 86_400_000
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * DAY_MS
MAX_SPAN_MS = DAY_MS


NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."
BAD_TOKEN = "The specified nextToken is invalid."
LATEST_FIRST_SINCE = 1_704_067_200_000  # FilterLogEvents reads latest first only from 2024-01-01T00:00:00Z


# --- names and ARNs ---------------------------------------------------------------------------------------


def group_arn(region: str, account: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}"


def stream_arn(region: str, account: str, group: str, stream: str) -> str:
    return f"{group_arn(region, account, group)}:log-stream:{stream}"


def group_ref(ctx: OpContext, params: dict[str, Any]) -> tuple[str, str, str]:
    """(region, account, name) of the log group named by logGroupName or logGroupIdentifier (name or ARN)."""
    name: str | None = params.get("logGroupName")
    ident: str = params.get("logGroupIdentifier") or ""
    if name and ident:
        raise InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if not name and not ident:
        raise InvalidParameterException("Should provide either logGroupName or logGroupIdentifier.")
    if name:
        return ctx.region, ctx.account, name
    if not ident.startswith("arn:"):
        return ctx.region, ctx.account, ident
    parts = ident.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group" or not parts[6]:
        raise InvalidParameterException(f"Invalid logGroupIdentifier: {ident}")
    return parts[3] or ctx.region, parts[4] or ctx.account, parts[6]


def _group_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return stream_arn(ctx.region, ctx.account, params["logGroupName"], "")


def _group_ref_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return stream_arn(*group_ref(ctx, params), "")


def _stream_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return stream_arn(*group_ref(ctx, params), params["logStreamName"])


def _unmask_permission(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """unmask=true also needs logs:Unmask on the log group. rolecall masks nothing (it has no data protection
    policies), so the events come back the same; the permission is what the member changes."""
    if not params.get("unmask"):
        return []
    return [("logs:Unmask", group_arn(*group_ref(ctx, params)), {})]


def _all_groups_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return stream_arn(ctx.region, ctx.account, "", "")


def _tag_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("tags") or {}
    if not tags:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = list(tags)
    return context


def _tag_permission(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Creating a log group with tags also needs logs:TagResource on it (tagging ARNs have no :*)."""
    if not params.get("tags"):
        return []
    return [("logs:TagResource", group_arn(ctx.region, ctx.account, params["logGroupName"]), {})]


# --- tokens -------------------------------------------------------------------------------------------------


def encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidParameterException(BAD_TOKEN) from None


def _position_token(direction: str, position: tuple[int, int]) -> str:
    """GetLogEvents' f/... and b/... tokens: 56 digits holding the (timestamp, seq) they continue from."""
    return f"{direction}/{position[0] + 1:028d}{position[1] + 1:028d}"


def _parse_position_token(token: str) -> tuple[str, tuple[int, int]]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or len(digits) != 56 or not digits.isdigit():
        raise InvalidParameterException(BAD_TOKEN)
    return direction, (int(digits[:28]) - 1, int(digits[28:]) - 1)


BEFORE_ALL = (-1, -1)


# --- views --------------------------------------------------------------------------------------------------


def _group_view(group: dict[str, Any], account: str, stored: int, filters: int = 0) -> dict[str, Any]:
    arn = group_arn(group["region"], account, group["logGroupName"])
    out: dict[str, Any] = {
        "logGroupName": group["logGroupName"],
        "creationTime": group["creationTime"],
        "metricFilterCount": filters,
        "arn": f"{arn}:*",
        "storedBytes": stored,
        "logGroupClass": group.get("logGroupClass", "STANDARD"),
        "logGroupArn": arn,
    }
    for key in ("retentionInDays", "kmsKeyId"):
        if group.get(key) is not None:
            out[key] = group[key]
    if group.get("deletionProtectionEnabled"):
        out["deletionProtectionEnabled"] = True
    return out


def _sequence_token(stream: dict[str, Any], seq: int) -> str:
    return f"{stream['serial'] % 10**20:020d}{seq:036d}"


def _stream_view(stream: dict[str, Any], account: str, state: dict[str, Any] | None) -> dict[str, Any]:
    state = state or store.new_state()
    out: dict[str, Any] = {
        "logStreamName": stream["logStreamName"],
        "creationTime": stream["creationTime"],
        "arn": stream_arn(stream["region"], account, stream["logGroupName"], stream["logStreamName"]),
        "storedBytes": 0,  # deprecated for streams: AWS always reports zero
        "uploadSequenceToken": _sequence_token(stream, state["seq"]),
    }
    if state["first"] is not None:
        out["firstEventTimestamp"] = state["first"]
        out["lastEventTimestamp"] = state["last"]
        out["lastIngestionTime"] = state["ingested"]
    return out


def _size(message: str) -> int:
    return len(message.encode("utf-8")) + EVENT_OVERHEAD


class LogsOperations(Family):
    # --- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _now_ms(ctx: OpContext) -> int:
        return int(ctx.clock.time() * 1000)

    @staticmethod
    def _group(ctx: OpContext, region: str, account: str, name: str) -> dict[str, Any]:
        group = store.get_group(ctx.tx, account, region, name) if account == ctx.account else None
        if group is None:
            raise ResourceNotFoundException(NO_GROUP)
        return group

    @staticmethod
    def _stream(ctx: OpContext, region: str, account: str, group: str, name: str) -> dict[str, Any]:
        stream = store.get_stream(ctx.tx, account, region, group, name)
        if stream is None:
            raise ResourceNotFoundException(NO_STREAM)
        return stream

    @staticmethod
    def _note(ctx: OpContext, arn: str) -> None:
        ctx.trail_resources.append({"ARN": arn, "accountId": ctx.account, "type": "AWS::Logs::LogGroup"})

    # --- log groups -------------------------------------------------------------------------------------

    @operation("logs:CreateLogGroup", resource=_group_resource, context=_tag_context, extra=_tag_permission)
    def CreateLogGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["logGroupName"]
        if name.lower().startswith("aws/"):
            raise InvalidParameterException("Log groups starting with AWS/ are reserved for AWS.")
        if store.get_group(ctx.tx, ctx.account, ctx.region, name) is not None:
            raise ResourceAlreadyExistsException("The specified log group already exists")
        group: dict[str, Any] = {
            "region": ctx.region,
            "logGroupName": name,
            "creationTime": self._now_ms(ctx),
            "logGroupClass": params.get("logGroupClass", "STANDARD"),
            "tags": params.get("tags") or {},
        }
        if params.get("kmsKeyId"):
            group["kmsKeyId"] = params["kmsKeyId"]
        if params.get("deletionProtectionEnabled"):
            group["deletionProtectionEnabled"] = True
        ctx.tx.insert(ctx.account, store.GROUP, store.group_key(ctx.region, name), group)
        self._note(ctx, group_arn(ctx.region, ctx.account, name))
        return {}

    @operation("logs:DeleteLogGroup", resource=_group_resource)
    def DeleteLogGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["logGroupName"]
        group = self._group(ctx, ctx.region, ctx.account, name)
        if group.get("deletionProtectionEnabled"):
            raise InvalidParameterException(
                "Log group deletion is not allowed because deletion protection is enabled."
            )
        for stream in store.streams(ctx.tx, ctx.account, ctx.region, name):
            store.delete_stream(ctx.tx, ctx.account, stream)
        metric_filters.delete_group_filters(ctx, ctx.region, name)
        ctx.tx.delete(ctx.account, store.GROUP, store.group_key(ctx.region, name))
        self._note(ctx, group_arn(ctx.region, ctx.account, name))
        return {}

    # Cross-account observability: rolecall links no source accounts to a monitoring account.
    @operation(
        "logs:DescribeLogGroups",
        resource=_all_groups_resource,
        unsupported={"includeLinkedAccounts": (False,), "accountIdentifiers": ()},
    )
    def DescribeLogGroups(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        identifiers = params.get("logGroupIdentifiers")
        if prefix and pattern:
            raise InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        if identifiers and (prefix or pattern):
            raise InvalidParameterException(
                "logGroupIdentifiers cannot be used with logGroupNamePrefix or logGroupNamePattern."
            )
        limit = params.get("limit", 50)
        wanted: set[str] | None = None
        if identifiers:
            wanted = {group_ref(ctx, {"logGroupIdentifier": i})[2] for i in identifiers}
        found = sorted(store.groups(ctx.tx, ctx.account, ctx.region), key=lambda g: g["logGroupName"])
        selected = [
            g
            for g in found
            if (not prefix or g["logGroupName"].startswith(prefix))
            and (not pattern or pattern in g["logGroupName"])
            and (wanted is None or g["logGroupName"] in wanted)
            and (not params.get("logGroupClass") or g.get("logGroupClass") == params["logGroupClass"])
        ]
        if params.get("nextToken"):
            after = decode_token(params["nextToken"])
            if not isinstance(after, str):
                raise InvalidParameterException(BAD_TOKEN)
            selected = [g for g in selected if g["logGroupName"] > after]
        page = selected[:limit]
        stored = store.stored_bytes(ctx.tx, ctx.account, ctx.region)
        counts = metric_filters.filter_counts(ctx, ctx.region)
        out: dict[str, Any] = {
            "logGroups": [
                _group_view(
                    g, ctx.account, stored.get(g["logGroupName"], 0), counts.get(g["logGroupName"], 0)
                )
                for g in page
            ]
        }
        if len(selected) > limit:
            out["nextToken"] = encode_token(page[-1]["logGroupName"])
        return out

    # --- log streams ------------------------------------------------------------------------------------

    @operation("logs:CreateLogStream", resource=_stream_resource)
    def CreateLogStream(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group, name = params["logGroupName"], params["logStreamName"]
        self._group(ctx, ctx.region, ctx.account, group)
        if store.get_stream(ctx.tx, ctx.account, ctx.region, group, name) is not None:
            raise ResourceAlreadyExistsException("The specified log stream already exists")
        key = store.stream_key(ctx.region, group, name)
        store.create_stream(
            ctx.tx,
            ctx.account,
            {
                "region": ctx.region,
                "logGroupName": group,
                "logStreamName": name,
                "creationTime": self._now_ms(ctx),
                "serial": int(key[:16], 16),
            },
        )
        self._note(ctx, group_arn(ctx.region, ctx.account, group))
        return {}

    @operation("logs:DescribeLogStreams", resource=_group_ref_resource)
    def DescribeLogStreams(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        region, account, group = group_ref(ctx, params)
        self._group(ctx, region, account, group)
        prefix = params.get("logStreamNamePrefix")
        order = params.get("orderBy", "LogStreamName")
        if order == "LastEventTime" and prefix:
            raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit = params.get("limit", 50)
        states = store.states(ctx.tx, account)
        views = [
            _stream_view(s, account, states.get(store.stream_key(region, group, s["logStreamName"])))
            for s in store.streams(ctx.tx, account, region, group)
            if not prefix or s["logStreamName"].startswith(prefix)
        ]
        if order == "LastEventTime":
            views.sort(key=lambda v: (v.get("lastEventTimestamp", 0), v["logStreamName"]))
        else:
            views.sort(key=lambda v: v["logStreamName"])
        if params.get("descending"):
            views.reverse()
        offset = 0
        if params.get("nextToken"):
            offset = decode_token(params["nextToken"])
            if not isinstance(offset, int) or offset < 0:
                raise InvalidParameterException(BAD_TOKEN)
        page = views[offset : offset + limit]
        out: dict[str, Any] = {"logStreams": page}
        if offset + limit < len(views):
            out["nextToken"] = encode_token(offset + limit)
        return out

    # --- events -----------------------------------------------------------------------------------------

    # sequenceToken is ignored, as AWS has ignored it since 2023. An entity is neither kept nor checked, so
    # the rejectedEntityInfo AWS gives for a bad one could not be given: refused.
    @operation("logs:PutLogEvents", resource=_stream_resource, unsupported=["entity"])
    def PutLogEvents(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        group_name, stream_name = params["logGroupName"], params["logStreamName"]
        group = self._group(ctx, ctx.region, ctx.account, group_name)
        stream = self._stream(ctx, ctx.region, ctx.account, group_name, stream_name)
        events = params["logEvents"]
        batch = sum(_size(e["message"]) for e in events)
        if batch > MAX_BATCH_BYTES:
            raise InvalidParameterException(
                f"Upload too large: {batch} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )
        stamps = [e["timestamp"] for e in events]
        if any(b < a for a, b in zip(stamps, stamps[1:], strict=False)):
            raise InvalidParameterException(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        if stamps[-1] - stamps[0] > MAX_SPAN_MS:
            raise InvalidParameterException(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
            )
        now = self._now_ms(ctx)
        oldest, newest = now - TOO_OLD_MS, now + TOO_NEW_MS
        retention = group.get("retentionInDays")
        expired_before = now - retention * DAY_MS if retention else None
        rejected: dict[str, int] = {}
        accepted: list[tuple[int, str]] = []
        for index, event in enumerate(events):
            ts = event["timestamp"]
            if ts < oldest:
                rejected["tooOldLogEventEndIndex"] = index + 1
            elif expired_before is not None and ts < expired_before:
                rejected["expiredLogEventEndIndex"] = index + 1
            elif ts > newest:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            else:
                accepted.append((ts, event["message"]))
        if not store.lock_stream(ctx.tx, ctx.account, stream):
            raise ResourceNotFoundException(NO_STREAM)
        seq = store.append_events(ctx.tx, ctx.account, stream, accepted, now)
        metric_filters.publish(ctx, ctx.region, group_name, accepted)
        out: dict[str, Any] = {"nextSequenceToken": _sequence_token(stream, seq)}
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        self._note(ctx, group_arn(ctx.region, ctx.account, group_name))
        return out

    @operation("logs:GetLogEvents", resource=_stream_resource, extra=_unmask_permission)
    def GetLogEvents(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        region, account, group = group_ref(ctx, params)
        self._group(ctx, region, account, group)
        stream = self._stream(ctx, region, account, group, params["logStreamName"])
        start, end = params.get("startTime"), params.get("endTime")
        events = [
            e
            for e in store.read_events(ctx.tx, account, stream)
            if (start is None or e[0] >= start) and (end is None or e[0] < end)
        ]
        limit = params.get("limit", 10000)
        token = params.get("nextToken")
        if token:
            direction, position = _parse_position_token(token)
        else:
            direction, position = ("f" if params.get("startFromHead") else "b"), None
        if direction == "f":
            after = events if position is None else [e for e in events if (e[0], e[2]) > position]
            page = _within_bytes(after[:limit])
        else:
            before = events if position is None else [e for e in events if (e[0], e[2]) < position]
            page = list(reversed(_within_bytes(list(reversed(before[-limit:])))))
        if page:
            forward, backward = (page[-1][0], page[-1][2]), (page[0][0], page[0][2])
        else:
            forward = backward = position if position is not None else BEFORE_ALL
        return {
            "events": [{"timestamp": e[0], "message": e[3], "ingestionTime": e[1]} for e in page],
            "nextForwardToken": _position_token("f", forward),
            "nextBackwardToken": _position_token("b", backward),
        }

    # interleaved is ignored by AWS since 2019 (events are always interleaved), as here.
    @operation("logs:FilterLogEvents", resource=_group_ref_resource, extra=_unmask_permission, read_only=True)
    def FilterLogEvents(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        region, account, group = group_ref(ctx, params)
        self._group(ctx, region, account, group)
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names and prefix:
            raise InvalidParameterException(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        try:
            pattern = parse_filter_pattern(params.get("filterPattern"))
        except BadFilterPattern as exc:
            raise InvalidParameterException(str(exc)) from None
        start, end = params.get("startTime"), params.get("endTime")
        if start is not None and end is not None and end < start:
            raise InvalidParameterException("endTime must be greater than or equal to startTime.")
        latest_first = params.get("startFromHead") is False
        if latest_first and start is not None and start < LATEST_FIRST_SINCE:
            raise InvalidParameterException(
                "startFromHead set to false is supported only when startTime is on or after "
                "Jan 1, 2024 00:00:00 UTC."
            )
        wanted = set(names) if names else None
        matched: list[tuple[int, str, int, int, str, int]] = []
        for stream in store.streams(ctx.tx, account, region, group):
            name = stream["logStreamName"]
            if (wanted is not None and name not in wanted) or (prefix and not name.startswith(prefix)):
                continue
            for ts, ingested, seq, message in store.read_events(ctx.tx, account, stream):
                if (start is None or ts >= start) and (end is None or ts <= end) and pattern.matches(message):
                    matched.append((ts, name, seq, ingested, message, stream["serial"]))
        matched.sort(key=lambda m: (m[0], m[1], m[2]), reverse=latest_first)
        if params.get("nextToken"):
            # [timestamp, stream, sequence] going forward; a fourth item "b" going backward. The token's
            # direction wins over startFromHead, as AWS documents.
            after = decode_token(params["nextToken"])
            if not (isinstance(after, list) and (len(after) == 3 or after[3:] == ["b"])):
                raise InvalidParameterException(BAD_TOKEN)
            position = (after[0], after[1], after[2])
            if latest_first != (len(after) == 4):
                latest_first = not latest_first
                matched.reverse()
            if latest_first:
                matched = [m for m in matched if (m[0], m[1], m[2]) < position]
            else:
                matched = [m for m in matched if (m[0], m[1], m[2]) > position]
        limit = params.get("limit", 10000)
        page = _within_bytes(matched[:limit], message_at=4)
        out: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": name,
                    "timestamp": ts,
                    "message": message,
                    "ingestionTime": ingested,
                    "eventId": f"{ts:020d}{serial % 10**18:018d}{seq:018d}",
                }
                for ts, name, seq, ingested, message, serial in page
            ],
            "searchedLogStreams": [],  # no longer supported by AWS: always an empty list
        }
        if len(page) < len(matched):
            last = page[-1]
            out["nextToken"] = encode_token([last[0], last[1], last[2], *(["b"] if latest_first else [])])
        return out


def _within_bytes(events: list[Any], message_at: int = 3) -> list[Any]:
    """The longest leading run of events whose messages (plus overhead) fit in one response."""
    total = 0
    for index, event in enumerate(events):
        total += _size(event[message_at])
        if total > MAX_RESPONSE_BYTES and index > 0:
            return events[:index]
    return events
