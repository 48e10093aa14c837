"""S3 buckets against a real server with boto3: create, head, locate, list and delete, names and regions."""

from __future__ import annotations

import uuid

import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3.helpers import code, status


def test_bucket_lifecycle(srv, s3):
    name = f"life-{uuid.uuid4().hex[:8]}"
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    listed = s3.list_buckets()
    assert name in [b["Name"] for b in listed["Buckets"]]
    assert len(listed["Owner"]["ID"]) == 64
    # North Virginia's legacy answer: re-creating your own bucket succeeds.
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert (code(exc), status(exc)) == ("BucketNotEmpty", 409)
    assert exc.value.response["Error"]["BucketName"] == name
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=name)
    assert (code(exc), exc.value.response["Error"]["BucketName"]) == ("NoSuchBucket", name)


def test_bucket_names_and_regions(srv, s3):
    for bad in ("UpperCase", "ab", "a..b", "192.168.1.1", "-leading", "xn--punycode"):
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket=bad)
        assert code(exc) == "InvalidBucketName"
    eu = srv.session().client(
        "s3",
        endpoint_url=srv.url,
        region_name="eu-west-1",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    name = f"eu-{uuid.uuid4().hex[:8]}"
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (code(exc), status(exc)) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as exc:
        eu.create_bucket(Bucket=f"x-{name}")
    assert code(exc) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=f"y-{name}", CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert code(exc) == "InvalidLocationConstraint"
