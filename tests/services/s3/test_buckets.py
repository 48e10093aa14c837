"""S3 buckets in process, through the authorizer: create, head, locate, list and delete, and S3's own
denial for each."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow


def s3(env, op: str, caller=None, **params):
    return env.invoke("s3", op, caller=caller, **params)


def test_bucket_lifecycle(env):
    assert s3(env, "CreateBucket", Bucket="reports") == {
        "Location": "/reports",
        "BucketArn": "arn:aws:s3:::reports",
    }
    assert s3(env, "HeadBucket", Bucket="reports")["BucketRegion"] == "us-east-1"
    assert s3(env, "GetBucketLocation", Bucket="reports") == {
        "LocationConstraint": None
    }  # us-east-1's answer
    listed = s3(env, "ListBuckets")
    assert [(b["Name"], b["CreationDate"]) for b in listed["Buckets"]] == [
        ("reports", "2027-01-15T08:00:00.000Z")
    ]
    assert len(listed["Owner"]["ID"]) == 64  # the account's canonical user id
    s3(env, "PutObject", Bucket="reports", Key="k", Body=b"x")
    with pytest.raises(AwsError) as full:
        s3(env, "DeleteBucket", Bucket="reports")
    assert (full.value.code, full.value.status) == ("BucketNotEmpty", 409)
    s3(env, "DeleteObject", Bucket="reports", Key="k")
    s3(env, "DeleteBucket", Bucket="reports")
    with pytest.raises(AwsError) as gone:
        s3(env, "HeadBucket", Bucket="reports")
    assert (gone.value.code, gone.value.status) == ("NoSuchBucket", 404)
    assert s3(env, "ListBuckets")["Buckets"] == []


def test_bucket_operations_are_refused_with_s3s_reason(env, bucket):
    dev = env.user("dev", allow("s3:ListBucket", "arn:aws:s3:::other"))
    refusals = {
        "CreateBucket": ({"Bucket": "devs"}, "s3:CreateBucket", ' on resource: "arn:aws:s3:::devs"'),
        "DeleteBucket": ({"Bucket": bucket}, "s3:DeleteBucket", f' on resource: "arn:aws:s3:::{bucket}"'),
        "HeadBucket": ({"Bucket": bucket}, "s3:ListBucket", f' on resource: "arn:aws:s3:::{bucket}"'),
        "GetBucketLocation": (
            {"Bucket": bucket},
            "s3:GetBucketLocation",
            f' on resource: "arn:aws:s3:::{bucket}"',
        ),
        "ListBuckets": ({}, "s3:ListAllMyBuckets", ""),  # no resource named: it is the account's list
    }
    for op, (params, action, on) in refusals.items():
        err = env.denied(dev, "s3", op, **params)
        assert (err.code, err.status) == ("AccessDenied", 403), op
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: {action}{on} "
            f"because no identity-based policy allows the {action} action"
        )
    assert [b["Name"] for b in s3(env, "ListBuckets")["Buckets"]] == [bucket]  # nothing changed
