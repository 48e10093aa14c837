"""Bucket policies: S3's resource-based policies, validated as AWS validates them."""

from __future__ import annotations

from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import operation
from rolecall.services.s3.arns import bucket_resource, existing_bucket, policy_admin_policy, resource_account
from rolecall.services.s3.checksums import verified_checksums
from rolecall.services.s3.errors import MethodNotAllowed, NoSuchBucketPolicy
from rolecall.services.s3.family import S3Family
from rolecall.services.s3.limits import BUCKET_KIND
from rolecall.services.s3.policy import validate_bucket_policy
from rolecall.store import GLOBAL


class BucketPolicyOperations(S3Family):
    @staticmethod
    def _owner_only(ctx: OpContext, doc: dict[str, Any]) -> None:
        """Bucket policies are managed from the owner's account only, whatever another account is granted."""
        if ctx.account != doc["Owner"]:
            raise MethodNotAllowed(
                "The specified method is not allowed against this resource.",
                Method=ctx.operation.replace("BucketPolicy", "").upper(),
                ResourceType="BUCKETPOLICY",
            )

    @operation("s3:PutBucketPolicy", bucket_resource, resource_account, resource_policy=policy_admin_policy)
    def PutBucketPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._owner_only(ctx, doc)
        text = params.get("Policy") or ""
        verified_checksums({"ContentMD5": params.get("ContentMD5")}, text.encode("utf-8"))
        validate_bucket_policy(text, doc["Name"], ctx.tx)
        doc["Policy"] = text
        ctx.tx.update(GLOBAL, BUCKET_KIND, doc["Name"], doc)
        self._touch(ctx, doc)
        return {}

    @operation("s3:GetBucketPolicy", bucket_resource, resource_account, resource_policy=policy_admin_policy)
    def GetBucketPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._owner_only(ctx, doc)
        self._touch(ctx, doc)
        if not doc.get("Policy"):
            raise NoSuchBucketPolicy("The bucket policy does not exist", BucketName=doc["Name"])
        return {"Policy": doc["Policy"]}

    @operation(
        "s3:DeleteBucketPolicy", bucket_resource, resource_account, resource_policy=policy_admin_policy
    )
    def DeleteBucketPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._owner_only(ctx, doc)
        if doc.get("Policy"):
            doc["Policy"] = None
            ctx.tx.update(GLOBAL, BUCKET_KIND, doc["Name"], doc)
        self._touch(ctx, doc)
        return {}
