"""S3 objects in process, through the authorizer: put, get, head, copy and delete, batch deletes refused key
by key, and what a missing key looks like to a caller who may not list the bucket."""

from __future__ import annotations

import hashlib

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow


def s3(env, op: str, caller=None, **params):
    return env.invoke("s3", op, caller=caller, **params)


def etag(body: bytes) -> str:
    return '"' + hashlib.md5(body).hexdigest() + '"'


def test_put_get_head_copy_delete(env, bucket):
    put = s3(
        env,
        "PutObject",
        Bucket=bucket,
        Key="a/1.txt",
        Body=b"one",
        ContentType="text/plain",
        Metadata={"owner": "ann"},
    )
    assert put["ETag"] == etag(b"one")
    got = s3(env, "GetObject", Bucket=bucket, Key="a/1.txt")
    assert (got["Body"], got["ContentType"], got["Metadata"], got["ETag"]) == (
        b"one",
        "text/plain",
        {"owner": "ann"},
        put["ETag"],
    )
    head = s3(env, "HeadObject", Bucket=bucket, Key="a/1.txt")
    assert head["ContentLength"] == 3 and "Body" not in head
    assert s3(env, "GetObject", Bucket=bucket, Key="a/1.txt", Range="bytes=1-")["Body"] == b"ne"
    copied = s3(env, "CopyObject", Bucket=bucket, Key="b.txt", CopySource=f"{bucket}/a/1.txt")
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    assert s3(env, "GetObject", Bucket=bucket, Key="b.txt")["Metadata"] == {"owner": "ann"}
    s3(env, "DeleteObject", Bucket=bucket, Key="b.txt")
    with pytest.raises(AwsError) as gone:
        s3(env, "GetObject", Bucket=bucket, Key="b.txt")
    assert (gone.value.code, gone.value.status) == ("NoSuchKey", 404)


def test_delete_objects_deletes_what_the_caller_may_and_reports_the_rest(env, bucket):
    for key in ("tmp/1", "tmp/2", "keep/1"):
        s3(env, "PutObject", Bucket=bucket, Key=key, Body=b".")
    cleaner = env.user("cleaner", allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/tmp/*"))
    out = s3(
        env,
        "DeleteObjects",
        caller=cleaner,
        Bucket=bucket,
        Delete={"Objects": [{"Key": "tmp/1"}, {"Key": "keep/1"}, {"Key": "tmp/absent"}]},
    )
    assert out["Deleted"] == [{"Key": "tmp/1"}, {"Key": "tmp/absent"}]
    assert out["Errors"] == [{"Key": "keep/1", "Code": "AccessDenied", "Message": "Access Denied"}]
    listed = s3(env, "ListObjectsV2", Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["keep/1", "tmp/2"]


def test_object_operations_are_refused_with_s3s_reason(env, bucket):
    s3(env, "PutObject", Bucket=bucket, Key="k", Body=b"v")
    dev = env.user("dev", allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))
    for op, params, action in (
        ("GetObject", {"Key": "k"}, "s3:GetObject"),
        ("HeadObject", {"Key": "k"}, "s3:GetObject"),
        ("PutObject", {"Key": "k", "Body": b"w"}, "s3:PutObject"),
        ("DeleteObject", {"Key": "k"}, "s3:DeleteObject"),
        ("CopyObject", {"Key": "k2", "CopySource": f"{bucket}/k"}, "s3:PutObject"),
    ):
        err = env.denied(dev, "s3", op, Bucket=bucket, **params)
        resource = f"arn:aws:s3:::{bucket}/{params['Key']}"
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: {action} on resource: "
            f'"{resource}" because no identity-based policy allows the {action} action'
        ), op
    assert s3(env, "GetObject", Bucket=bucket, Key="k")["Body"] == b"v"
    # A key that is not there is AccessDenied, not NoSuchKey, to a caller who may not list the bucket.
    assert env.denied(dev, "s3", "GetObject", Bucket=bucket, Key="public/absent").code == "AccessDenied"
