"""What each S3 operation is authorized on: bucket and object ARNs, S3's condition keys, and the
bucket policy as the resource-based policy (owned by the bucket's account).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from rolecall.authz.principals import compiled
from rolecall.core.context import OpContext
from rolecall.errors import AccessDenied
from rolecall.policy import Policy
from rolecall.services.s3.errors import InvalidArgument, no_such_bucket
from rolecall.services.s3.limits import BUCKET_KIND, BUCKET_NAME, IP_ADDRESS
from rolecall.store import GLOBAL


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def canonical_user_id(account: str) -> str:
    """The 64-hex-digit canonical user id S3 shows as an account's Owner ID (stable per account)."""
    return hashlib.sha256(f"rolecall canonical user {account}".encode()).hexdigest()


def valid_bucket_name(name: str) -> bool:
    return (
        BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not IP_ADDRESS.fullmatch(name)
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not name.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3"))
    )


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- resolvers: what each operation is authorized on ------------------------------------------------------


def bucket_record(ctx: OpContext, name: str) -> dict[str, Any] | None:
    return ctx.tx.get(GLOBAL, BUCKET_KIND, name)


def existing_bucket(ctx: OpContext, params: dict[str, Any], member: str = "Bucket") -> dict[str, Any]:
    """The bucket's record; NoSuchBucket before anything else (a missing bucket is 404 to everyone)."""
    name = params[member]
    doc = bucket_record(ctx, name)
    if doc is None or doc["Name"] != name:
        raise no_such_bucket(name)
    expected = params.get("ExpectedBucketOwner")
    if expected is not None and expected != doc["Owner"]:
        raise AccessDenied("Access Denied")
    return doc


def bucket_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return bucket_arn(existing_bucket(ctx, params)["Name"])


def object_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return object_arn(existing_bucket(ctx, params)["Name"], params["Key"])


def policy_of(doc: dict[str, Any]) -> Policy | None:

    text = doc.get("Policy")
    return compiled(text, "resource", f"bucket policy of {doc['Name']}") if text else None


def bucket_policy(ctx: OpContext, params: dict[str, Any]) -> tuple[Policy | None, str]:
    doc = existing_bucket(ctx, params)
    return policy_of(doc), doc["Owner"]


def policy_admin_policy(ctx: OpContext, params: dict[str, Any]) -> tuple[Policy | None, str]:
    """The bucket policy, except for the owner's root user: S3 lets the root user of the bucket's account
    read, replace and delete the bucket policy even when that policy denies it (lockout protection)."""
    doc = existing_bucket(ctx, params)
    if ctx.caller.is_root and ctx.caller.account == doc["Owner"]:
        return None, doc["Owner"]
    return policy_of(doc), doc["Owner"]


def resource_account(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = existing_bucket(ctx, params)["Owner"]
    return {"aws:ResourceAccount": owner, "s3:ResourceAccount": owner}


def list_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = resource_account(ctx, params)
    keys["s3:prefix"] = params.get("Prefix")
    keys["s3:delimiter"] = params.get("Delimiter")
    keys["s3:max-keys"] = str(params["MaxKeys"]) if params.get("MaxKeys") is not None else None
    return keys


def write_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = resource_account(ctx, params)
    keys["s3:x-amz-acl"] = params.get("ACL")
    keys["s3:x-amz-storage-class"] = params.get("StorageClass")
    keys["s3:x-amz-server-side-encryption"] = params.get("ServerSideEncryption")
    keys["s3:x-amz-metadata-directive"] = params.get("MetadataDirective")
    keys["s3:x-amz-copy-source"] = params.get("CopySource")
    return keys


def create_bucket_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("CreateBucketConfiguration") or {}
    return {
        "s3:LocationConstraint": config.get("LocationConstraint"),
        "s3:x-amz-acl": params.get("ACL"),
        "s3:x-amz-object-ownership": params.get("ObjectOwnership"),
    }


def parse_copy_source(value: str) -> tuple[str, str]:
    """(bucket, key) of an x-amz-copy-source header: "bucket/key" or "/bucket/key", URL-encoded."""
    raw = value.split("?versionId=", 1)[0]
    bucket, slash, key = unquote(raw).lstrip("/").partition("/")
    if not bucket or not slash or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=value,
        )
    return bucket, key


def source_bucket_params(bucket: str, params: dict[str, Any]) -> dict[str, Any]:
    """What existing_bucket needs for CopyObject's source: its name and ExpectedSourceBucketOwner."""
    return {"Bucket": bucket, "ExpectedBucketOwner": params.get("ExpectedSourceBucketOwner")}


def copy_source_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """CopyObject also reads its source: s3:GetObject there, under the source bucket's own policy."""
    bucket, key = parse_copy_source(params["CopySource"])
    doc = existing_bucket(ctx, source_bucket_params(bucket, params))
    return [("s3:GetObject", object_arn(bucket, key), {}, (policy_of(doc), doc["Owner"]))]
