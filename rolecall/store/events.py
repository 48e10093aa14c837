"""CloudTrail history: what of a record is indexed, and how a LookupEvents query becomes SQL.

Records come back newest first, ordered by (eventTime, seq) descending: the event's own time, as
CloudTrail orders event history, with the insertion sequence breaking ties. The page token carries
the position of the last record returned (its time and seq), so a page follows on from exactly where
the previous one stopped, however many records arrive meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_RESULTS = 50

# LookupAttribute keys answered from a column of `events`.
COLUMN_ATTRIBUTES = {
    "EventId": "event_id",
    "EventName": "event_name",
    "ReadOnly": "read_only",
    "Username": "username",
    "EventSource": "event_source",
    "AccessKeyId": "access_key_id",
}
# Keys answered from `event_resources` (an event names any number of resources).
RESOURCE_ATTRIBUTES = {"ResourceType": "type", "ResourceName": "name"}
LOOKUP_ATTRIBUTES = (*COLUMN_ATTRIBUTES, *RESOURCE_ATTRIBUTES)


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def time_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing the text compares the times (SQLite's event_time)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_username(identity: dict[str, Any]) -> str | None:
    """The Username lookup attribute of a record's userIdentity.

    An IAM user (and a root user with an account alias) is named by userName; a role session by its
    session name, as CloudTrail's event history shows it ("my-session-name" for
    assumed-role/my-role/my-session-name); a federated user by its name; the root user otherwise as
    "root"; an AWS service acting on its own by the service principal that invoked the call.
    """
    if identity.get("userName"):
        return identity["userName"]
    kind = identity.get("type")
    arn = identity.get("arn") or ""
    if kind in ("AssumedRole", "FederatedUser"):
        if "/" in arn:
            return arn.rsplit("/", 1)[1]
        principal = identity.get("principalId") or ""
        return principal.split(":", 1)[1] if ":" in principal else None
    if kind == "Root":
        return "root"
    if kind == "AWSService":
        return identity.get("invokedBy")
    return None


def resource_name(arn: str) -> str:
    """The short name of a resource ARN: the last segment of its resource part (role/path/Name -> Name)."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
    return resource.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """The columns a record is stored under, besides the record itself."""

    event_id: str
    event_time: datetime
    event_name: str | None
    event_source: str | None
    username: str | None
    access_key_id: str | None
    read_only: str | None
    request_id: str | None
    resources: list[tuple[str, str]]  # (attr, value) rows of event_resources, without duplicates

    def columns(self, account: str, when: Any) -> tuple[Any, ...]:
        """The `events` row's columns from event_id to request_id, in table order (the record text follows
        them); `when` is the event time as the statement takes it."""
        return (
            self.event_id,
            account,
            when,
            self.event_name,
            self.event_source,
            self.username,
            self.access_key_id,
            self.read_only,
            self.request_id,
        )


def index_record(record: dict[str, Any]) -> IndexedEvent:
    """Pull the lookup attributes out of a CloudTrail record; ValueError when eventID/eventTime are unusable."""
    event_id = record.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("a CloudTrail record needs an eventID")
    try:
        event_time = utc(datetime.fromisoformat(record["eventTime"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a CloudTrail record needs an ISO 8601 eventTime: {exc}") from None
    identity = record.get("userIdentity") or {}
    read_only = record.get("readOnly")
    if isinstance(read_only, bool):
        read_only = "true" if read_only else "false"
    elif isinstance(read_only, str):
        read_only = read_only.lower()
    else:
        read_only = None
    resources: list[tuple[str, str]] = []
    for resource in record.get("resources") or ():
        if resource.get("type"):
            resources.append(("type", resource["type"]))
        if arn := resource.get("ARN"):
            resources += [("name", arn), ("name", resource_name(arn))]
    return IndexedEvent(
        event_id=event_id,
        event_time=event_time,
        event_name=record.get("eventName"),
        event_source=record.get("eventSource"),
        username=event_username(identity),
        access_key_id=identity.get("accessKeyId") or None,
        read_only=read_only,
        request_id=record.get("requestID") if isinstance(record.get("requestID"), str) else None,
        resources=list(dict.fromkeys(resources)),
    )


# --- page tokens --------------------------------------------------------------------------------------


def encode_token(event_time: datetime, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{seq}/{time_text(event_time)}".encode()).decode("ascii")


def decode_token(token: str) -> tuple[datetime, int]:
    """(event_time, seq) of the last record of the previous page; ValueError for anything we did not issue."""
    try:
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("ascii")
        seq_text, time_part = raw.split("/", 1)
        if not seq_text.isdigit():
            raise ValueError(seq_text)
        moment = datetime.strptime(time_part, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return moment, int(seq_text)
    except (UnicodeError, binascii.Error, ValueError):
        raise ValueError("invalid next token") from None


# --- the query ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupQuery:
    sql: str  # `?` placeholders; selects (seq, event_time, record) in result order, one row more than a page
    params: list[Any]
    limit: int  # page size


def build_lookup(
    account: str,
    attribute: tuple[str, str] | None,
    start: datetime | None,
    end: datetime | None,
    max_results: int,
    next_token: str | None,
    encode_time: Callable[[datetime], Any],
) -> LookupQuery:
    """SQL for one page of Store.lookup_events. `encode_time` turns a UTC datetime into the dialect's
    event_time parameter. ValueError for an unknown attribute, a bad max_results or a bad token."""
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValueError(f"max_results must be between 1 and {MAX_RESULTS}")
    where: list[str]
    params: list[Any]
    if attribute is None:
        table, prefix = "events", "e"
        where, params = ["e.account = ?"], [account]
    else:
        key, value = attribute
        if key in COLUMN_ATTRIBUTES:
            table, prefix = "events", "e"
            if key == "ReadOnly":
                value = value.lower()
            where, params = ["e.account = ?", f"e.{COLUMN_ATTRIBUTES[key]} = ?"], [account, value]
        elif key in RESOURCE_ATTRIBUTES:
            table, prefix = "event_resources", "r"
            where = ["r.account = ?", "r.attr = ?", "r.value = ?"]
            params = [account, RESOURCE_ATTRIBUTES[key], value]
        else:
            raise ValueError(
                f"unknown lookup attribute {key!r}; expected one of {', '.join(LOOKUP_ATTRIBUTES)}"
            )
    if start is not None:
        where.append(f"{prefix}.event_time >= ?")
        params.append(encode_time(utc(start)))
    if end is not None:
        where.append(f"{prefix}.event_time <= ?")
        params.append(encode_time(utc(end)))
    source = "events e" if table == "events" else "event_resources r JOIN events e ON e.seq = r.seq"
    select = f"SELECT e.seq, e.event_time, e.record FROM {source}"
    order = f"ORDER BY {prefix}.event_time DESC, {prefix}.seq DESC"
    limit = max_results + 1
    if not next_token:
        sql = f"{select} WHERE {' AND '.join(where)} {order} LIMIT ?"
        return LookupQuery(sql, [*params, limit], max_results)
    after_time, after_seq = decode_token(next_token)
    after = encode_time(after_time)
    if table == "event_resources":
        # (event_time, seq) are real key columns: both databases seek to the row value and scan on.
        where.append("(r.event_time, r.seq) < (?, ?)")
        sql = f"{select} WHERE {' AND '.join(where)} {order} LIMIT ?"
        return LookupQuery(sql, [*params, after, after_seq, limit], max_results)
    # On events, seq is SQLite's rowid, which it does not use in a row-value range on an index: it would
    # seek to event_time <= ? and step over every record of that same second with a larger seq (thousands
    # after a burst, each deeper page more). Two index ranges instead, the rest of that second and the
    # seconds before it, each at most a page, merged.
    same = " AND ".join([*where, "e.event_time = ?", "e.seq < ?"])
    older = " AND ".join([*where, "e.event_time < ?"])
    sql = (
        f"SELECT * FROM ({select} WHERE {same} ORDER BY e.seq DESC LIMIT ?) AS same_time "
        f"UNION ALL SELECT * FROM ({select} WHERE {older} {order} LIMIT ?) AS older "
        "ORDER BY event_time DESC, seq DESC LIMIT ?"
    )
    return LookupQuery(sql, [*params, after, after_seq, limit, *params, after, limit, limit], max_results)
