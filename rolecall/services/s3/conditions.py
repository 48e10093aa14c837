"""Ranged reads and conditional requests (If-Match, If-None-Match, If-(Un)Modified-Since)."""

from __future__ import annotations

from typing import Any

from rolecall.services.s3.errors import (
    AccessControlListNotSupported,
    InvalidRange,
    NotModified,
    S3Error,
    no_such_key,
    precondition_failed,
)
from rolecall.services.s3.limits import RANGE
from rolecall.services.s3.storage.objects import ObjectInfo, ObjectStore, WriteCondition


def resolve_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a Range header against an object of `size` bytes; None for the whole object.

    An unreadable (or multi-part) range is ignored, as S3 ignores it; one that starts past the end is
    InvalidRange (416).
    """
    if not header:
        return None
    found = RANGE.fullmatch(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _invalid_range(header, size)
        return max(0, size - count), size
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        return None
    if start >= size:
        raise _invalid_range(header, size)
    return start, min(end, size)


def _invalid_range(header: str, size: int) -> S3Error:
    return InvalidRange(
        "The requested range is not satisfiable", RangeRequested=header, ActualObjectSize=size
    )


def check_conditions(params: dict[str, Any], info: ObjectInfo, prefix: str = "") -> None:
    """If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304), in RFC 7232's order."""
    if_match = params.get(f"{prefix}IfMatch")
    if_unmodified = params.get(f"{prefix}IfUnmodifiedSince")
    if_none_match = params.get(f"{prefix}IfNoneMatch")
    if_modified = params.get(f"{prefix}IfModifiedSince")
    modified = int(info.last_modified)
    if if_match is not None and not etag_matches(if_match, info.etag):
        raise precondition_failed("If-Match")
    if if_match is None and if_unmodified is not None and modified > if_unmodified.timestamp():
        raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None and etag_matches(if_none_match, info.etag):
        if prefix:
            raise precondition_failed("x-amz-copy-source-If-None-Match")
        raise NotModified("Not Modified")
    if if_none_match is None and if_modified is not None and modified <= if_modified.timestamp():
        if prefix:
            raise precondition_failed("x-amz-copy-source-If-Modified-Since")
        raise NotModified("Not Modified")


def etag_matches(condition: str, etag: str) -> bool:
    wanted = {c.strip().strip('"') for c in condition.split(",")}
    return "*" in wanted or etag.strip('"') in wanted


def check_object_acl(params: dict[str, Any]) -> None:
    """Buckets here have Object Ownership's default, BucketOwnerEnforced: ACLs are disabled, and a write may
    carry no ACL or the bucket-owner-full-control one, which changes nothing (S3's rule)."""
    acl = params.get("ACL")
    if acl is not None and acl != "bucket-owner-full-control":
        raise AccessControlListNotSupported("The bucket does not allow ACLs")


def write_condition(key: str, params: dict[str, Any]) -> WriteCondition | None:
    """A conditional write's check against the object it would replace, or None for an unconditional write:
    If-None-Match (only "*") fails when the key exists, If-Match when its ETag differs (NoSuchKey when there
    is no object to match). The store makes it under the key's lock, so of two conditional writes racing on
    one key (from two nodes, say) the second sees the first's object."""
    if_none_match, if_match = params.get("IfNoneMatch"), params.get("IfMatch")
    if if_none_match is None and if_match is None:
        return None

    def check(current: ObjectInfo | None) -> None:
        if if_none_match is not None and current is not None:
            raise precondition_failed("If-None-Match")
        if if_match is not None:
            if current is None:
                raise no_such_key(key)
            if not etag_matches(if_match, current.etag):
                raise precondition_failed("If-Match")

    return check


def check_write_conditions(objects: ObjectStore, bucket_id: str, key: str, params: dict[str, Any]) -> None:
    """The write's conditions checked now, before any of its bytes are stored (write_condition)."""
    condition = write_condition(key, params)
    if condition is not None:
        condition(objects.head(bucket_id, key))
