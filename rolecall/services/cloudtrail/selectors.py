"""Which records a trail logs: its event selectors (management and data events) and Region settings.

As CloudTrail documents them: a record is logged when some selector takes it. A management event is
taken by a selector that includes management events, whose ReadWriteType matches the record's readOnly,
and whose ExcludeManagementEventSources does not name its source. A data event is taken by a selector
whose DataResources name it: type AWS::S3::Object with "arn:aws:s3" (every object), "arn:aws:s3:::bucket/"
or "arn:aws:s3:::bucket/prefix" (objects under it); AWS::Lambda::Function with "arn:aws:lambda" or a
function ARN. A single-Region trail logs its Region's events, plus global services' events (IAM, STS's
global endpoint) when IncludeGlobalServiceEvents is true.
"""

from __future__ import annotations

from typing import Any

from rolecall.services.cloudtrail.errors import InvalidEventSelectorsException

MAX_SELECTORS = 5
MAX_DATA_RESOURCE_VALUES = 250
DATA_TYPES = {"AWS::S3::Object": "arn:aws:s3", "AWS::Lambda::Function": "arn:aws:lambda"}
GLOBAL_SOURCES = frozenset({"iam.amazonaws.com", "sts.amazonaws.com", "cloudfront.amazonaws.com"})


def validate(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Selectors with their defaults, or InvalidEventSelectorsException."""
    if not 1 <= len(selectors) <= MAX_SELECTORS:
        raise InvalidEventSelectorsException(
            f"You have exceeded the maximum number of event selectors ({MAX_SELECTORS})."
            if selectors
            else "Event selectors cannot be empty."
        )
    out = []
    for selector in selectors:
        resources = selector.get("DataResources") or []
        values = 0
        for resource in resources:
            kind, vals = resource.get("Type"), resource.get("Values") or []
            if kind not in DATA_TYPES:
                raise InvalidEventSelectorsException(
                    f"Value {kind} for parameter DataResources.Type is invalid."
                )
            values += len(vals)
            for value in vals:
                if not value.startswith(DATA_TYPES[kind]):
                    raise InvalidEventSelectorsException(
                        f"Value {value} for parameter DataResources.Values is invalid."
                    )
        if values > MAX_DATA_RESOURCE_VALUES:
            raise InvalidEventSelectorsException(
                f"You have exceeded the maximum number of data resources ({MAX_DATA_RESOURCE_VALUES})."
            )
        out.append(
            {
                "ReadWriteType": selector.get("ReadWriteType", "All"),
                "IncludeManagementEvents": selector.get("IncludeManagementEvents", True),
                "DataResources": [
                    {"Type": r["Type"], "Values": list(r.get("Values") or [])} for r in resources
                ],
                "ExcludeManagementEventSources": list(selector.get("ExcludeManagementEventSources") or []),
            }
        )
    return out


def _read_write_matches(selector: dict[str, Any], record: dict[str, Any]) -> bool:
    kind = selector.get("ReadWriteType", "All")
    return kind == "All" or (kind == "ReadOnly") == bool(record.get("readOnly"))


def _data_value_matches(value: str, kind: str, arns: list[str]) -> bool:
    if value == DATA_TYPES[kind]:
        return True
    return any(arn.startswith(value) for arn in arns)


def _data_arns(record: dict[str, Any], kind: str) -> list[str]:
    """The ARNs of the record's resources of a data resource type (S3 objects, Lambda functions)."""
    if kind == "AWS::S3::Object":
        params = record.get("requestParameters") or {}
        bucket, key = params.get("bucketName"), params.get("key")
        return [f"arn:aws:s3:::{bucket}/{key}"] if bucket and key is not None else []
    return [r["ARN"] for r in record.get("resources") or [] if r.get("type") == kind and r.get("ARN")]


def selected(trail: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether the trail logs this record."""
    source = record.get("eventSource", "")
    if not trail.get("IsMultiRegionTrail") and record.get("awsRegion") != trail["HomeRegion"]:
        return False
    if source in GLOBAL_SOURCES and not trail.get("IncludeGlobalServiceEvents", True):
        return False
    data = record.get("eventCategory") == "Data"
    for selector in trail.get("EventSelectors") or []:
        if not _read_write_matches(selector, record):
            continue
        if not data:
            if selector.get("IncludeManagementEvents", True) and source not in (
                selector.get("ExcludeManagementEventSources") or []
            ):
                return True
            continue
        for resource in selector.get("DataResources") or []:
            kind = resource["Type"]
            arns = _data_arns(record, kind)
            if any(_data_value_matches(v, kind, arns) for v in resource.get("Values") or []):
                return True
    return False
