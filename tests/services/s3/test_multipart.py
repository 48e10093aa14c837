"""S3 multipart uploads in process, through the authorizer: create, upload parts, list them, complete into
one object, abort, list uploads; and the s3:PutObject every step of writing an object needs."""

from __future__ import annotations

import hashlib

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow

MB = 1024 * 1024


def s3(env, op: str, caller=None, **params):
    return env.invoke("s3", op, caller=caller, **params)


def test_upload_in_parts_and_complete(env, bucket):
    upload = s3(env, "CreateMultipartUpload", Bucket=bucket, Key="big")["UploadId"]
    first, last = b"x" * (5 * MB), b"tail"
    etags = [
        s3(env, "UploadPart", Bucket=bucket, Key="big", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, first), (2, last))
    ]
    parts = s3(env, "ListParts", Bucket=bucket, Key="big", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [
        (1, 5 * MB, etags[0]),
        (2, 4, etags[1]),
    ]
    (listed,) = s3(env, "ListMultipartUploads", Bucket=bucket)["Uploads"]
    assert (listed["Key"], listed["UploadId"]) == ("big", upload)

    done = s3(
        env,
        "CompleteMultipartUpload",
        Bucket=bucket,
        Key="big",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in ((1, etags[0]), (2, etags[1]))]},
    )
    # S3's multipart ETag: the MD5 of the parts' MD5s, then the number of parts.
    digest = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(last).digest()).hexdigest()
    assert done["ETag"] == f'"{digest}-2"'
    assert s3(env, "HeadObject", Bucket=bucket, Key="big")["ContentLength"] == 5 * MB + 4
    assert s3(env, "ListMultipartUploads", Bucket=bucket).get("Uploads") is None


def test_abort_discards_the_upload(env, bucket):
    upload = s3(env, "CreateMultipartUpload", Bucket=bucket, Key="gone")["UploadId"]
    s3(env, "UploadPart", Bucket=bucket, Key="gone", UploadId=upload, PartNumber=1, Body=b"part")
    assert s3(env, "AbortMultipartUpload", Bucket=bucket, Key="gone", UploadId=upload) == {}
    with pytest.raises(AwsError) as gone:
        s3(env, "ListParts", Bucket=bucket, Key="gone", UploadId=upload)
    assert (gone.value.code, gone.value.status) == ("NoSuchUpload", 404)
    with pytest.raises(AwsError) as missing:
        s3(env, "HeadObject", Bucket=bucket, Key="gone")
    assert missing.value.status == 404


def test_each_step_is_refused_without_its_permission(env, bucket):
    upload = s3(env, "CreateMultipartUpload", Bucket=bucket, Key="k")["UploadId"]
    dev = env.user("dev", allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"))
    steps = (
        ("CreateMultipartUpload", {}, "s3:PutObject"),
        ("UploadPart", {"UploadId": upload, "PartNumber": 1, "Body": b"p"}, "s3:PutObject"),
        (
            "CompleteMultipartUpload",
            {"UploadId": upload, "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e"'}]}},
            "s3:PutObject",
        ),
        ("ListParts", {"UploadId": upload}, "s3:ListMultipartUploadParts"),
        ("AbortMultipartUpload", {"UploadId": upload}, "s3:AbortMultipartUpload"),
    )
    for op, params, action in steps:
        err = env.denied(dev, "s3", op, Bucket=bucket, Key="k", **params)
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: {action} on resource: "
            f'"arn:aws:s3:::{bucket}/k" because no identity-based policy allows the {action} action'
        ), op
    err = env.denied(dev, "s3", "ListMultipartUploads", Bucket=bucket)
    assert "s3:ListBucketMultipartUploads" in err.message
    assert [u["UploadId"] for u in s3(env, "ListMultipartUploads", Bucket=bucket)["Uploads"]] == [upload]
