"""S3 bucket policies in process, through the authorizer: put, get and delete, S3's validation of them, a
policy that grants a user of the account on its own, and who may manage policies."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow, policy


def s3(env, op: str, caller=None, **params):
    return env.invoke("s3", op, caller=caller, **params)


def reader_policy(bucket: str, principal: str) -> str:
    return policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/public/*",
        }
    )


def test_put_get_delete_and_what_the_policy_grants(env, bucket):
    s3(env, "PutObject", Bucket=bucket, Key="public/readme", Body=b"hi")
    s3(env, "PutObject", Bucket=bucket, Key="private/salaries", Body=b"$")
    reader = env.user("reader")  # no identity policy at all
    with pytest.raises(AwsError) as none:
        s3(env, "GetBucketPolicy", Bucket=bucket)
    assert (none.value.code, none.value.status) == ("NoSuchBucketPolicy", 404)
    with pytest.raises(AwsError) as missing:  # a principal that does not exist is refused
        s3(
            env,
            "PutBucketPolicy",
            Bucket=bucket,
            Policy=reader_policy(bucket, f"arn:aws:iam::{ACCOUNT}:user/ghost"),
        )
    assert (missing.value.code, missing.value.message) == ("MalformedPolicy", "Invalid principal in policy")

    text = reader_policy(bucket, reader.arn)
    s3(env, "PutBucketPolicy", Bucket=bucket, Policy=text)
    assert json.loads(s3(env, "GetBucketPolicy", Bucket=bucket)["Policy"]) == json.loads(text)
    # The bucket policy alone grants a principal of the bucket owner's account.
    assert s3(env, "GetObject", caller=reader, Bucket=bucket, Key="public/readme")["Body"] == b"hi"
    assert env.denied(reader, "s3", "GetObject", Bucket=bucket, Key="private/salaries").code == "AccessDenied"

    s3(env, "DeleteBucketPolicy", Bucket=bucket)
    err = env.denied(reader, "s3", "GetObject", Bucket=bucket, Key="public/readme")
    assert err.message.endswith("because no identity-based policy allows the s3:GetObject action")


def test_managing_a_bucket_policy_needs_its_own_actions(env, bucket):
    text = reader_policy(bucket, f"arn:aws:iam::{ACCOUNT}:root")
    admin = env.user("admin", allow(["s3:GetBucketPolicy"], f"arn:aws:s3:::{bucket}"))
    for op, params in (
        ("PutBucketPolicy", {"Policy": text}),
        ("DeleteBucketPolicy", {}),
    ):
        err = env.denied(admin, "s3", op, Bucket=bucket, **params)
        assert err.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/admin is not authorized to perform: s3:{op} on resource: "
            f'"arn:aws:s3:::{bucket}" because no identity-based policy allows the s3:{op} action'
        )
    s3(env, "PutBucketPolicy", Bucket=bucket, Policy=text)
    assert json.loads(s3(env, "GetBucketPolicy", caller=admin, Bucket=bucket)["Policy"]) == json.loads(text)
