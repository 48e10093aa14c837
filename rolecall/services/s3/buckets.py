"""Buckets: one namespace shared by all accounts (a store record under the global account, naming its
owner).
"""

from __future__ import annotations

import secrets
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import operation
from rolecall.services.s3 import unsupported
from rolecall.services.s3.arns import (
    bucket_arn,
    bucket_policy,
    bucket_record,
    bucket_resource,
    canonical_user_id,
    create_bucket_context,
    existing_bucket,
    iso,
    resource_account,
    valid_bucket_name,
)
from rolecall.services.s3.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraintException,
    InvalidBucketAclWithObjectOwnership,
    InvalidBucketName,
    InvalidLocationConstraint,
    OperationAborted,
)
from rolecall.services.s3.family import S3Family
from rolecall.services.s3.limits import BUCKET_KIND
from rolecall.services.s3.listing import decode_token, encode_token
from rolecall.store import GLOBAL, Conflict


class BucketOperations(S3Family):
    @operation(
        "s3:CreateBucket",
        lambda ctx, p: bucket_arn(p["Bucket"]),
        create_bucket_context,
        unsupported=unsupported.CREATE_BUCKET,
    )
    def CreateBucket(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        if not valid_bucket_name(name):
            raise InvalidBucketName("The specified bucket is not valid.", BucketName=name)
        acl = params.get("ACL")
        if acl is not None and acl != "private":  # any other canned ACL grants someone else access
            raise InvalidBucketAclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )
        region = self._bucket_region(ctx, params)
        existing = bucket_record(ctx, name)
        if existing is not None:
            if existing["Owner"] != ctx.account:
                raise BucketAlreadyExists(
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                    BucketName=name,
                )
            if not (existing["Region"] == region == "us-east-1"):
                raise BucketAlreadyOwnedByYou(
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    BucketName=name,
                )
            # North Virginia keeps its legacy answer: re-creating your own bucket there succeeds.
            return {"Location": "/" + name, "BucketArn": bucket_arn(name)}
        bucket_id = secrets.token_hex(16)
        doc = {
            "Name": name,
            "Owner": ctx.account,
            "Region": region,
            "CreationDate": ctx.clock.time(),
            "Id": bucket_id,
            "Policy": None,
        }
        try:
            ctx.tx.insert(GLOBAL, BUCKET_KIND, name, doc)
        except Conflict:
            raise OperationAborted(
                "A conflicting conditional operation is currently in progress against this resource. Please try again."
            ) from None
        self._touch(ctx, doc)
        location = "/" + name if region == "us-east-1" else f"http://{name}.s3.amazonaws.com/"
        return {"Location": location, "BucketArn": bucket_arn(name)}

    @staticmethod
    def _bucket_region(ctx: OpContext, params: dict[str, Any]) -> str:
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        if constraint == "EU":
            constraint = "eu-west-1"
        if constraint == "us-east-1":
            raise InvalidLocationConstraint(
                "The specified location-constraint is not valid", LocationConstraint=constraint
            )
        if ctx.region == "us-east-1":
            return constraint or "us-east-1"
        if constraint != ctx.region:
            shown = constraint or "unspecified"
            raise IllegalLocationConstraintException(
                f"The {shown} location constraint is incompatible for the region specific endpoint this request was sent to."
            )
        return constraint

    @operation("s3:DeleteBucket", bucket_resource, resource_account, resource_policy=bucket_policy)
    def DeleteBucket(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        # The record first: deleting it waits for the writes that hold it (S3Family.hold_bucket), and keeps
        # new ones out, so the emptiness seen next stays true until this commits.
        ctx.tx.delete(GLOBAL, BUCKET_KIND, doc["Name"])
        objects = self.objects(ctx)
        if not objects.is_empty(doc["Id"]):
            raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=doc["Name"])
        objects.drop_bucket(doc["Id"])
        self.uploads(ctx).drop_bucket(doc["Id"])
        self._touch(ctx, doc)
        return {}

    @operation("s3:ListAllMyBuckets", "*")
    def ListBuckets(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        after = decode_token(params["ContinuationToken"]) if params.get("ContinuationToken") else None
        limit = params.get("MaxBuckets") or 10000
        mine = [
            d
            for d in ctx.tx.list(GLOBAL, BUCKET_KIND)
            if d["Owner"] == ctx.account
            and d["Name"].startswith(prefix)
            and (region is None or d["Region"] == region)
            and (after is None or d["Name"] > after)
        ]
        page = mine[:limit]
        out: dict[str, Any] = {
            "Buckets": [
                {"Name": d["Name"], "CreationDate": iso(d["CreationDate"]), "BucketRegion": d["Region"]}
                for d in page
            ],
            "Owner": {"ID": canonical_user_id(ctx.account)},
        }
        if params.get("Prefix") is not None:
            out["Prefix"] = prefix
        if len(mine) > limit:
            out["ContinuationToken"] = encode_token(page[-1]["Name"])
        return out

    @operation("s3:ListBucket", bucket_resource, resource_account, resource_policy=bucket_policy)
    def HeadBucket(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._touch(ctx, doc)
        return {
            "BucketRegion": doc["Region"],
            "AccessPointAlias": False,
            "BucketArn": bucket_arn(doc["Name"]),
        }

    @operation("s3:GetBucketLocation", bucket_resource, resource_account, resource_policy=bucket_policy)
    def GetBucketLocation(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._touch(ctx, doc)
        return {"LocationConstraint": None if doc["Region"] == "us-east-1" else doc["Region"]}
