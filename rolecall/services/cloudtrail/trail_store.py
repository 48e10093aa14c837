"""Trails as CloudTrail keeps them: their settings, their logging status, and how a name or ARN names one.

Store documents, in the trail owner's account:

  cloudtrail-trail         {Name, HomeRegion, TrailARN, S3BucketName, ..., EventSelectors, Tags}, named
                           "REGION/NAME" (a trail's name is unique per account and Region)
  cloudtrail-trail-status  {IsLogging, StartLoggingTime, ..., s3_cursor, cw_cursor}: what logging has done,
                           apart from the settings so that deliveries never rewrite a trail's settings

Cursors are epoch seconds: the records of event times before a cursor have gone to that destination.
"""

from __future__ import annotations

import re
from typing import Any

from rolecall.services.cloudtrail.errors import (
    CloudTrailARNInvalidException,
    InvalidTrailNameException,
    TrailNotFoundException,
)
from rolecall.store import Tx

TRAIL = "cloudtrail-trail"
STATUS = "cloudtrail-trail-status"
MAX_TRAILS_PER_REGION = 5

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{1,126})[A-Za-z0-9]")
_ADJACENT = re.compile(r"[._-]{2}")
_IP = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_ARN = re.compile(r"arn:aws:cloudtrail:([a-z0-9-]+):(\d{12}):trail/(.+)")

BAD_NAME = (
    "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), "
    "hyphens (-), and underscores (_)."
)


def trail_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def doc_name(region: str, name: str) -> str:
    return f"{region}/{name}"


def check_name(name: str) -> None:
    """CloudTrail's rules for a trail name (InvalidTrailNameException)."""
    if len(name) < 3:
        raise InvalidTrailNameException("Trail name too short. Minimum allowed length: 3 characters.")
    if len(name) > 128:
        raise InvalidTrailNameException("Trail name too long. Maximum allowed length: 128 characters.")
    if not _NAME.fullmatch(name):
        raise InvalidTrailNameException(BAD_NAME)
    if _ADJACENT.search(name):
        raise InvalidTrailNameException("Trail name must not have adjacent dashes, periods or underscores.")
    if _IP.fullmatch(name):
        raise InvalidTrailNameException("Trail name must not be formatted as an IP address.")


def parse_ref(ref: str, region: str, account: str) -> tuple[str, str, str]:
    """(region, account, name) of a trail given by name or ARN."""
    if ref.startswith("arn:"):
        match = _ARN.fullmatch(ref)
        if match is None:
            raise CloudTrailARNInvalidException(
                f"{ref} is not a valid CloudTrail ARN. A trail ARN is arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME."
            )
        return match.group(1), match.group(2), match.group(3)
    check_name(ref)
    return region, account, ref


def not_found(region: str, account: str, name: str, caller_account: str) -> TrailNotFoundException:
    return TrailNotFoundException(
        f"Unknown trail: {trail_arn(region, account, name)} for the user: {caller_account}"
    )


def get_trail(tx: Tx, account: str, region: str, name: str) -> dict[str, Any] | None:
    return tx.get(account, TRAIL, doc_name(region, name))


def trails(tx: Tx, account: str) -> list[dict[str, Any]]:
    return sorted(tx.list(account, TRAIL), key=lambda t: (t["HomeRegion"], t["Name"]))


def visible(trail: dict[str, Any], region: str) -> bool:
    """A trail is seen from its home Region, and a multi-Region trail from every Region (a shadow trail)."""
    return trail["HomeRegion"] == region or bool(trail.get("IsMultiRegionTrail"))


def new_status() -> dict[str, Any]:
    return {"IsLogging": False, "s3_cursor": None, "cw_cursor": None}


def status_of(tx: Tx, account: str, trail: dict[str, Any]) -> dict[str, Any]:
    return tx.get(account, STATUS, doc_name(trail["HomeRegion"], trail["Name"])) or new_status()


def save_status(tx: Tx, account: str, trail: dict[str, Any], status: dict[str, Any]) -> None:
    name = doc_name(trail["HomeRegion"], trail["Name"])
    if tx.get(account, STATUS, name) is None:
        tx.insert(account, STATUS, name, status)
    else:
        tx.update(account, STATUS, name, status)


DEFAULT_SELECTORS = [
    {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    }
]


def view(trail: dict[str, Any]) -> dict[str, Any]:
    """The Trail shape (DescribeTrails, GetTrail)."""
    out = {
        k: trail[k]
        for k in (
            "Name",
            "S3BucketName",
            "S3KeyPrefix",
            "IncludeGlobalServiceEvents",
            "IsMultiRegionTrail",
            "HomeRegion",
            "TrailARN",
            "LogFileValidationEnabled",
            "CloudWatchLogsLogGroupArn",
            "CloudWatchLogsRoleArn",
            "HasCustomEventSelectors",
            "HasInsightSelectors",
            "IsOrganizationTrail",
        )
        if trail.get(k) is not None
    }
    return out


def settings_view(trail: dict[str, Any]) -> dict[str, Any]:
    """CreateTrail's and UpdateTrail's answer: the settings, without HomeRegion and the selector flags."""
    out = view(trail)
    for key in ("HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors"):
        out.pop(key, None)
    return out
