"""Who did what, and when, according to the trail: the activity that last-accessed reports and unused-access
findings are computed from.

A request counts for the IAM user who signed it, or for the role whose session signed it (the role, not
the session), and for the access key it was signed with. Every attempt counts, allowed or refused, as AWS
counts last access. Records come from the store's CloudTrail history of one account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rolecall.store import Store

# (service signing name, operation) -> the IAM action it is authorized by, or None.
ActionOf = Callable[[str, str], "str | None"]


def principal_of(record: dict[str, Any]) -> str | None:
    """The ARN of the IAM user or role a record's request came from (a role for its sessions)."""
    identity = record.get("userIdentity") or {}
    if identity.get("type") == "IAMUser":
        return identity.get("arn")
    if identity.get("type") == "AssumedRole":
        return ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    return None


def records_since(store: Store, account: str, since: datetime) -> Iterator[dict[str, Any]]:
    """The account's records from `since` on, newest first."""
    token = None
    while True:
        page, token = store.lookup_events(account, start=since, max_results=50, next_token=token)
        yield from page
        if not token:
            return


def action_of_record(record: dict[str, Any], action_of: ActionOf) -> str:
    """The IAM action a record's request was authorized by ("s3:ListBucket" for ListObjectsV2)."""
    service = str(record.get("eventSource", "")).removesuffix(".amazonaws.com")
    operation = str(record.get("eventName", ""))
    return action_of(service, operation) or f"{service}:{operation}"


@dataclass
class Use:
    """The last use of something: when (the record's eventTime text) and in which Region."""

    time: str
    region: str | None


@dataclass
class Activity:
    """Last uses by principal, by principal and action (lower-cased "service:action"), and by access key."""

    principals: dict[str, Use] = field(default_factory=dict)
    actions: dict[str, dict[str, Use]] = field(default_factory=dict)
    access_keys: dict[str, Use] = field(default_factory=dict)

    def services(self, principal: str) -> dict[str, Use]:
        """Service namespace (lower-cased) -> the principal's last use of any of its actions."""
        out: dict[str, Use] = {}
        for action, use in self.actions.get(principal, {}).items():
            namespace = action.split(":", 1)[0]
            if namespace not in out or use.time > out[namespace].time:
                out[namespace] = use
        return out


def activity(store: Store, account: str, since: datetime, action_of: ActionOf) -> Activity:
    """Every principal's and access key's last use since `since`."""
    found = Activity()
    for record in records_since(store, account, since):  # newest first: the first seen is the last use
        use = Use(record["eventTime"], record.get("awsRegion"))
        key = (record.get("userIdentity") or {}).get("accessKeyId")
        if key and key not in found.access_keys:
            found.access_keys[key] = use
        principal = principal_of(record)
        if principal is None:
            continue
        found.principals.setdefault(principal, use)
        action = action_of_record(record, action_of).lower()
        found.actions.setdefault(principal, {}).setdefault(action, use)
    return found
