"""Amazon S3 (rest-xml): buckets, objects and bucket policies, with IAM deciding every request.

Families: buckets, bucket_policies, objects, multipart, listing (each on the S3Family base in family).
Every operation is authorized by the pipeline from its @operation declaration (arns): the action and the
bucket or object ARN (arn:aws:s3:::bucket, arn:aws:s3:::bucket/key), S3's condition keys (s3:prefix,
s3:delimiter, s3:max-keys, s3:x-amz-acl, ...) and the bucket policy as the resource-based policy, owned by
the bucket's account -- so same-account grants to a user or role session need no identity policy, and
cross-account access needs both the bucket policy and the caller's own policies. Objects live in the store
(storage/: blobs written in the request's transaction), so nodes sharing a database share them; objects an
older rolecall kept as files under the data dir are moved into the store at start (storage/legacy).
"""

from __future__ import annotations

from pathlib import Path

from rolecall.core.context import Check, OpContext
from rolecall.core.host import Host
from rolecall.core.operations import Service
from rolecall.errors import (
    AccessDenied,
    AwsError,
    ExpiredToken,
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
)
from rolecall.services.s3.arns import bucket_record
from rolecall.services.s3.bucket_policies import BucketPolicyOperations
from rolecall.services.s3.buckets import BucketOperations
from rolecall.services.s3.errors import AuthorizationHeaderMalformed, InvalidAccessKeyId, TokenExpired
from rolecall.services.s3.listing import ListingOperations
from rolecall.services.s3.multipart import MultipartOperations
from rolecall.services.s3.objects import ObjectOperations
from rolecall.services.s3.policy import denial_message
from rolecall.services.s3.storage.legacy import import_legacy_files


class S3(Service):
    name = "s3"
    model = "s3"
    families = (
        BucketOperations,
        BucketPolicyOperations,
        ObjectOperations,
        MultipartOperations,
        ListingOperations,
    )

    def start(self, host: Host) -> None:
        super().start(host)
        if host.config.data_dir:
            import_legacy_files(host.store, Path(host.config.data_dir) / "s3")

    def authentication_error(self, err: AwsError) -> AwsError:
        """S3's words for the failures IAM names InvalidClientTokenId, ExpiredToken, IncompleteSignature
        and MissingAuthenticationToken (an anonymous request S3 does not allow is plain AccessDenied)."""
        if isinstance(err, InvalidClientTokenId):
            return InvalidAccessKeyId()
        if isinstance(err, ExpiredToken):
            return TokenExpired()
        if isinstance(err, IncompleteSignature):
            return AuthorizationHeaderMalformed(err.message)
        if isinstance(err, MissingAuthenticationToken):
            return AccessDenied("Access Denied")
        return err

    def denial(self, ctx: OpContext, check: Check) -> AwsError:
        """S3's AccessDenied: detailed within the bucket owner's account, bare across accounts."""
        owner = None
        if check.resource.startswith("arn:aws:s3:::"):
            name = check.resource[len("arn:aws:s3:::") :].split("/", 1)[0]
            doc = bucket_record(ctx, name)
            owner = doc["Owner"] if doc is not None else None
        return denial_message(
            ctx.caller.arn, ctx.caller.account, owner, check.action, check.resource, check.decision
        )


__all__ = ["S3"]
