"""S3 bucket policies against a real server with boto3: put, get and delete, S3's validation, and the
owner's way back in."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3.helpers import ACCOUNT, code, policy, status


def test_bucket_policy_crud_and_validation(srv, s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert (code(exc), status(exc)) == ("NoSuchBucketPolicy", 404)
    good = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=good)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(good)
    cases = {
        "Policy has invalid resource": {"Resource": "arn:aws:s3:::some-other-bucket/*"},
        "Policy has invalid action": {"Action": "iam:CreateUser"},
        "Action does not apply to any resource(s) in statement": {"Resource": f"arn:aws:s3:::{bucket}"},
        "Invalid principal in policy": {
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody-by-this-name"}
        },
        "Missing required field Principal": {"Principal": None},
    }
    for message, change in cases.items():
        statement = {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            **change,
        }
        statement = {k: v for k, v in statement.items() if v is not None}
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_policy(Bucket=bucket, Policy=policy(statement))
        assert (code(exc), exc.value.response["Error"]["Message"]) == ("MalformedPolicy", message)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy="{not json")
    assert exc.value.response["Error"]["Message"] == "This policy contains invalid Json"
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(exc) == "NoSuchBucketPolicy"


def test_owner_root_cannot_lock_itself_out(s3, bucket):
    deny_all = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_all)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"")
    assert code(exc) == "AccessDenied"
    assert "with an explicit deny in a resource-based policy" in exc.value.response["Error"]["Message"]
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(deny_all)
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"")


def test_bucket_policy_content_md5_is_checked(srv, s3, bucket):
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy, ContentMD5=wrong)
    assert (code(exc), status(exc)) == ("BadDigest", 400)
    right = base64.b64encode(hashlib.md5(policy.encode()).digest()).decode()
    s3.put_bucket_policy(Bucket=bucket, Policy=policy, ContentMD5=right)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
