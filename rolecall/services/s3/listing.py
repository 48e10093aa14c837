"""Listing objects: ListObjects and ListObjectsV2 with prefixes, delimiters and continuation."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote_plus

from rolecall.core.context import OpContext
from rolecall.core.operations import operation
from rolecall.services.s3 import unsupported
from rolecall.services.s3.arns import (
    bucket_policy,
    bucket_resource,
    canonical_user_id,
    existing_bucket,
    list_context,
)
from rolecall.services.s3.errors import InvalidArgument
from rolecall.services.s3.family import S3Family
from rolecall.services.s3.limits import MAX_LIST_KEYS
from rolecall.services.s3.storage.objects import ObjectInfo, key_order


def url_encoded(value: str | None, encode: bool) -> str | None:
    return quote_plus(value, safe="/") if encode and value is not None else value


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def decode_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        if isinstance(after, str):
            return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise InvalidArgument("The continuation token provided is incorrect", ArgumentName="continuation-token")


def list_page(
    objects: Iterable[ObjectInfo], prefix: str, delimiter: str, after: str | None, max_keys: int
) -> tuple[list[ObjectInfo], list[str], str | None]:
    """One page of a listing: (objects, common prefixes, the last entry when more follow, else None).

    Keys are taken in S3's order after `after` (a key, or a common prefix from a previous page, whose keys
    are then all skipped); keys under `prefix` whose remainder holds `delimiter` roll up into one common
    prefix. Objects and common prefixes together number at most `max_keys`.
    """
    contents: list[ObjectInfo] = []
    prefixes: list[str] = []
    after_order = key_order(after) if after is not None else None
    skip_under = after if (after is not None and delimiter and after.endswith(delimiter)) else None
    last: str | None = None
    for info in objects:
        key = info.key
        if not key.startswith(prefix):
            continue
        if after_order is not None and key_order(key) <= after_order:
            continue
        if skip_under is not None and key.startswith(skip_under):
            continue
        entry: str = key
        rolled = None
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                rolled = key[: cut + len(delimiter)]
                if prefixes and prefixes[-1] == rolled:
                    continue
                entry = rolled
        if len(contents) + len(prefixes) >= max_keys:
            return contents, prefixes, last
        if rolled is not None:
            prefixes.append(rolled)
        else:
            contents.append(info)
        last = entry
    return contents, prefixes, None


class ListingOperations(S3Family):
    def _list(self, ctx: OpContext, params: dict[str, Any], after: str | None) -> tuple[Any, ...]:
        doc = existing_bucket(ctx, params)
        max_keys = params.get("MaxKeys", MAX_LIST_KEYS)
        if max_keys < 0:
            raise InvalidArgument(
                "Argument maxKeys must be an integer between 0 and 2147483647",
                ArgumentName="maxKeys",
                ArgumentValue=max_keys,
            )
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        # Read from the store as the page fills: a page of a large bucket costs a page, not the bucket.
        candidates = self.objects(ctx).list(doc["Id"], prefix=prefix, after=after)
        contents, prefixes, last = list_page(
            candidates, prefix, delimiter, after, min(max_keys, MAX_LIST_KEYS)
        )
        self._touch(ctx, doc)
        return doc, contents, prefixes, last, max_keys

    @staticmethod
    def _contents(doc: dict[str, Any], contents: list[ObjectInfo], encode: bool, owner: bool) -> list[dict]:
        out = []
        for info in contents:
            item: dict[str, Any] = {
                "Key": url_encoded(info.key, encode),
                "LastModified": info.last_modified,
                "ETag": info.etag,
                "Size": info.size,
                "StorageClass": info.storage_class,
            }
            if info.checksums:
                item["ChecksumAlgorithm"] = [name.removeprefix("Checksum") for name in info.checksums]
                item["ChecksumType"] = info.checksum_type
            if owner:
                item["Owner"] = {"ID": canonical_user_id(doc["Owner"])}
            out.append(item)
        return out

    @operation(
        "s3:ListBucket",
        bucket_resource,
        list_context,
        resource_policy=bucket_policy,
        unsupported=unsupported.refused("OptionalObjectAttributes"),
    )
    def ListObjectsV2(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ContinuationToken")
        after = decode_token(token) if token else params.get("StartAfter")
        doc, contents, prefixes, last, max_keys = self._list(ctx, params, after)
        encode = params.get("EncodingType") == "url"
        out: dict[str, Any] = {
            "Name": doc["Name"],
            "Prefix": url_encoded(params.get("Prefix") or "", encode),
            "Delimiter": url_encoded(params.get("Delimiter"), encode),
            "MaxKeys": max_keys,
            "KeyCount": len(contents) + len(prefixes),
            "IsTruncated": last is not None,
            "Contents": self._contents(doc, contents, encode, bool(params.get("FetchOwner"))) or None,
            "CommonPrefixes": [{"Prefix": url_encoded(p, encode)} for p in prefixes] or None,
            "EncodingType": params.get("EncodingType"),
            "ContinuationToken": token,
            "NextContinuationToken": encode_token(last) if last is not None else None,
            "StartAfter": url_encoded(params.get("StartAfter"), encode),
        }
        return out

    @operation(
        "s3:ListBucket",
        bucket_resource,
        list_context,
        resource_policy=bucket_policy,
        unsupported=unsupported.refused("OptionalObjectAttributes"),
    )
    def ListObjects(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        marker = params.get("Marker")
        doc, contents, prefixes, last, max_keys = self._list(ctx, params, marker)
        encode = params.get("EncodingType") == "url"
        return {
            "Name": doc["Name"],
            "Prefix": url_encoded(params.get("Prefix") or "", encode),
            "Delimiter": url_encoded(params.get("Delimiter"), encode),
            "Marker": url_encoded(marker or "", encode),
            "MaxKeys": max_keys,
            "IsTruncated": last is not None,
            "NextMarker": url_encoded(last, encode) if last is not None and params.get("Delimiter") else None,
            "Contents": self._contents(doc, contents, encode, True) or None,
            "CommonPrefixes": [{"Prefix": url_encoded(p, encode)} for p in prefixes] or None,
            "EncodingType": params.get("EncodingType"),
        }
