"""S3 listings in process, through the authorizer: ListObjectsV2 and ListObjects with prefixes and
delimiters, and s3:ListBucket with an s3:prefix condition."""

from __future__ import annotations

from tests.services.conftest import ACCOUNT, allow


def s3(env, op: str, caller=None, **params):
    return env.invoke("s3", op, caller=caller, **params)


def test_listings_with_prefix_and_delimiter(env, bucket):
    for key in ("a/1.txt", "a/2.txt", "b.txt"):
        s3(env, "PutObject", Bucket=bucket, Key=key, Body=key.encode())
    top = s3(env, "ListObjectsV2", Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["b.txt"]
    assert top["CommonPrefixes"] == [{"Prefix": "a/"}] and top["KeyCount"] == 2
    page = s3(env, "ListObjectsV2", Bucket=bucket, MaxKeys=2)
    assert page["IsTruncated"] and [o["Key"] for o in page["Contents"]] == ["a/1.txt", "a/2.txt"]
    rest = s3(env, "ListObjectsV2", Bucket=bucket, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["b.txt"]
    v1 = s3(env, "ListObjects", Bucket=bucket, Prefix="a/")
    assert [(o["Key"], o["Size"]) for o in v1["Contents"]] == [("a/1.txt", 7), ("a/2.txt", 7)]
    assert all(len(o["Owner"]["ID"]) == 64 for o in v1["Contents"])  # version 1 lists owners unasked


def test_listing_is_refused_outside_the_allowed_prefix(env, bucket):
    s3(env, "PutObject", Bucket=bucket, Key="home/ann/notes", Body=b"n")
    ann = env.user(
        "ann",
        allow(
            "s3:ListBucket", f"arn:aws:s3:::{bucket}", Condition={"StringLike": {"s3:prefix": "home/ann/*"}}
        ),
    )
    mine = s3(env, "ListObjectsV2", caller=ann, Bucket=bucket, Prefix="home/ann/")
    assert [o["Key"] for o in mine["Contents"]] == ["home/ann/notes"]
    for op in ("ListObjectsV2", "ListObjects"):
        err = env.denied(ann, "s3", op, Bucket=bucket, Prefix="home/")
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/ann is not authorized to perform: s3:ListBucket on resource: "
            f'"arn:aws:s3:::{bucket}" because no identity-based policy allows the s3:ListBucket action'
        )
