"""S3 listings against a real server with boto3: ListObjectsV2 and ListObjects, delimiters, pages,
StartAfter."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3.helpers import code


def test_listing_with_delimiter_and_continuation(s3, bucket):
    keys = ["a.txt", "b/1", "b/2", "b/3", "c/x/1", "c/y", "d", "e e+f", "é"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    everything = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in everything["Contents"]] == keys
    assert everything["KeyCount"] == len(keys) and everything["IsTruncated"] is False
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "d", "e e+f", "é"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "c/"]
    under_c = s3.list_objects_v2(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert [o["Key"] for o in under_c["Contents"]] == ["c/y"]
    assert [p["Prefix"] for p in under_c["CommonPrefixes"]] == ["c/x/"]
    # Pages of two, with common prefixes counted against max-keys and never repeated across pages.
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/", MaxKeys=2))
    assert len(pages) == 3
    seen = [o["Key"] for p in pages for o in p.get("Contents", [])]
    seen_prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert seen == ["a.txt", "d", "e e+f", "é"] and seen_prefixes == ["b/", "c/"]
    assert all(p["KeyCount"] <= 2 for p in pages) and pages[0]["IsTruncated"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="c/y")
    assert [o["Key"] for o in after["Contents"]] == ["d", "e e+f", "é"]
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="garbage")
    assert code(exc) == "InvalidArgument"
    owner = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, FetchOwner=True)["Contents"][0]["Owner"]
    assert len(owner["ID"]) == 64
    v1 = s3.list_objects(Bucket=bucket, Prefix="b/")
    assert [o["Key"] for o in v1["Contents"]] == ["b/1", "b/2", "b/3"]
