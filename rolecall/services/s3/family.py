"""The base of S3's operation families: storage (in the store, rolecall.services.s3.storage), and permission
checks made inside a handler.

Where S3's answer depends on a permission the operation itself does not need, the handler asks the same
engine (permitted()): a missing key is NoSuchKey only to a caller allowed s3:ListBucket (AccessDenied
otherwise), and DeleteObjects reports each key it may not delete as an AccessDenied entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rolecall.core.context import Check, OpContext
from rolecall.core.operations import Family
from rolecall.errors import AwsError
from rolecall.services.s3.arns import bucket_arn, object_arn, policy_of
from rolecall.services.s3.errors import no_such_bucket, no_such_key
from rolecall.services.s3.limits import BUCKET_KIND
from rolecall.services.s3.storage.objects import ObjectStore
from rolecall.services.s3.storage.uploads import UploadStore
from rolecall.store import GLOBAL

if TYPE_CHECKING:
    from rolecall.services.s3 import S3

    pass


class S3Family(Family):
    """What every S3 family shares: the object storage, and the checks S3 makes beyond an operation's own."""

    service: S3

    def objects(self, ctx: OpContext) -> ObjectStore:
        return ObjectStore(ctx.tx, ctx.store)

    def uploads(self, ctx: OpContext) -> UploadStore:
        return UploadStore(ctx.tx)

    @staticmethod
    def hold_bucket(ctx: OpContext, doc: dict[str, Any]) -> None:
        """Keep the bucket from being deleted (by another node, say) until this request's write commits, so
        that what it writes cannot outlive the bucket; NoSuchBucket if it went since it was read."""
        if not ctx.tx.hold(GLOBAL, BUCKET_KIND, doc["Name"]):
            raise no_such_bucket(doc["Name"])

    def permitted(
        self,
        ctx: OpContext,
        doc: dict[str, Any],
        action: str,
        resource: str,
        context: dict[str, Any] | None = None,
    ) -> Check | None:
        """None when the caller may do `action` on `resource` of bucket `doc`, else the refused check."""
        more = {"aws:ResourceAccount": doc["Owner"], "s3:ResourceAccount": doc["Owner"], **(context or {})}
        return ctx.authorize(action, resource, context=more, resource_policy=(policy_of(doc), doc["Owner"]))

    def _missing_key(self, ctx: OpContext, doc: dict[str, Any], key: str) -> AwsError:
        """NoSuchKey to a caller who may list the bucket; to anyone else, the ListBucket denial."""
        refused = self.permitted(ctx, doc, "s3:ListBucket", bucket_arn(doc["Name"]))
        if refused is None:
            return no_such_key(key)
        return self.service.refuse(ctx, refused)

    @staticmethod
    def _touch(ctx: OpContext, doc: dict[str, Any], key: str | None = None) -> None:
        """The trail's resources, as CloudTrail lists them for S3 data events (the bucket names its owner)."""
        out = []
        if key is not None:
            out.append({"ARN": object_arn(doc["Name"], key), "accountId": "", "type": "AWS::S3::Object"})
        out.append({"ARN": bucket_arn(doc["Name"]), "accountId": doc["Owner"], "type": "AWS::S3::Bucket"})
        ctx.trail_resources = out
