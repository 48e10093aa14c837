"""Amazon S3: buckets, objects and bucket policies, with IAM deciding every request.

Buckets live in one namespace shared by all accounts (a store record under the global account, naming its
owner); object bodies live on disk under the data dir (rolecall.services.s3_objects: one file per object,
replaced atomically). Every operation is authorized by the pipeline from its @operation declaration: the
action and the bucket or object ARN (arn:aws:s3:::bucket, arn:aws:s3:::bucket/key), S3's condition keys
(s3:prefix, s3:delimiter, s3:max-keys, s3:x-amz-acl, ...) and the bucket policy as the resource-based policy,
owned by the bucket's account -- so same-account grants to a user or role session need no identity policy,
and cross-account access needs both the bucket policy and the caller's own policies.

Where S3's answer depends on a permission the operation itself does not need, the handler asks the same
engine (permitted()): a missing key is NoSuchKey only to a caller allowed s3:ListBucket (AccessDenied
otherwise), and DeleteObjects reports each key it may not delete as an AccessDenied entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from rolecall.authz import Check, decide, principal_policies
from rolecall.errors import AccessDenied, AwsError
from rolecall.policy import Policy
from rolecall.services.base import Authorization, OpContext, Service, operation
from rolecall.services.s3_objects import ObjectInfo, ObjectStore, key_order
from rolecall.services.s3_policy import denial_message, validate_bucket_policy
from rolecall.services.s3_uploads import PartInfo, UploadInfo, UploadStore, new_upload_id
from rolecall.store import GLOBAL, Conflict

log = logging.getLogger("rolecall.s3")

BUCKET_KIND = "s3-bucket"
MAX_KEY_BYTES = 1024
MAX_LIST_KEYS = 1000
MAX_DELETE_KEYS = 1000
MAX_PARTS = 10000
MAX_LIST_PARTS = 1000
MAX_LIST_UPLOADS = 1000
MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last
# Checksum algorithms by the multipart checksum types S3 allows them with.
FULL_OBJECT_ALGORITHMS = frozenset({"CRC32", "CRC32C", "CRC64NVME"})
COMPOSITE_ALGORITHMS = frozenset({"CRC32", "CRC32C", "SHA1", "SHA256"})

# Object headers kept with the object and returned on GET/HEAD, by member name.
STORED_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
)
# GetObject's response-* overrides: query member -> the response header member it replaces.
RESPONSE_OVERRIDES = {
    "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType",
    "ResponseExpires": "Expires",
}
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class S3Error(AwsError):
    """An S3 error; `fields` become extra elements of the <Error> document (BucketName, Key, ...)."""

    def __init__(self, message: str, *, code: str, status: int, **fields: Any) -> None:
        super().__init__(message, code=code, status=status)
        self.fields = fields


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("The specified bucket does not exist", code="NoSuchBucket", status=404, BucketName=bucket)


def no_such_key(key: str) -> S3Error:
    return S3Error("The specified key does not exist.", code="NoSuchKey", status=404, Key=key)


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted"
        " or completed.",
        code="NoSuchUpload",
        status=404,
        UploadId=upload_id,
    )


def invalid_part(upload_id: str, number: int, etag: str | None) -> S3Error:
    return S3Error(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the "
        "specified entity tag may not match the part's entity tag.",
        code="InvalidPart",
        status=400,
        UploadId=upload_id,
        PartNumber=number,
        ETag=etag,
    )


def precondition_failed(condition: str) -> S3Error:
    return S3Error(
        "At least one of the pre-conditions you specified did not hold",
        code="PreconditionFailed",
        status=412,
        Condition=condition,
    )


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def canonical_user_id(account: str) -> str:
    """The 64-hex-digit canonical user id S3 shows as an account's Owner ID (stable per account)."""
    return hashlib.sha256(f"rolecall canonical user {account}".encode()).hexdigest()


def valid_bucket_name(name: str) -> bool:
    return (
        _BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not _IP_ADDRESS.fullmatch(name)
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not name.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3"))
    )


def _iso(t: float) -> str:
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


def _bucket_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return bucket_arn(existing_bucket(ctx, params)["Name"])


def _object_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return object_arn(existing_bucket(ctx, params)["Name"], params["Key"])


def policy_of(doc: dict[str, Any]) -> Policy | None:
    from rolecall.services.principal_policies import compiled

    text = doc.get("Policy")
    return compiled(text, "resource", f"bucket policy of {doc['Name']}") if text else None


def _bucket_policy(ctx: OpContext, params: dict[str, Any]) -> tuple[Policy | None, str]:
    doc = existing_bucket(ctx, params)
    return policy_of(doc), doc["Owner"]


def _policy_admin_policy(ctx: OpContext, params: dict[str, Any]) -> tuple[Policy | None, str]:
    """The bucket policy, except for the owner's root user: S3 lets the root user of the bucket's account
    read, replace and delete the bucket policy even when that policy denies it (lockout protection)."""
    doc = existing_bucket(ctx, params)
    if ctx.caller.is_root and ctx.caller.account == doc["Owner"]:
        return None, doc["Owner"]
    return policy_of(doc), doc["Owner"]


def _resource_account(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = existing_bucket(ctx, params)["Owner"]
    return {"aws:ResourceAccount": owner, "s3:ResourceAccount": owner}


def _list_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = _resource_account(ctx, params)
    keys["s3:prefix"] = params.get("Prefix")
    keys["s3:delimiter"] = params.get("Delimiter")
    keys["s3:max-keys"] = str(params["MaxKeys"]) if params.get("MaxKeys") is not None else None
    return keys


def _write_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = _resource_account(ctx, params)
    keys["s3:x-amz-acl"] = params.get("ACL")
    keys["s3:x-amz-storage-class"] = params.get("StorageClass")
    keys["s3:x-amz-server-side-encryption"] = params.get("ServerSideEncryption")
    keys["s3:x-amz-metadata-directive"] = params.get("MetadataDirective")
    keys["s3:x-amz-copy-source"] = params.get("CopySource")
    return keys


def _create_bucket_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
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
        raise S3Error(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            code="InvalidArgument",
            status=400,
            ArgumentName="x-amz-copy-source",
            ArgumentValue=value,
        )
    return bucket, key


def _copy_source_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """CopyObject also reads its source: s3:GetObject there, under the source bucket's own policy."""
    bucket, key = parse_copy_source(params["CopySource"])
    doc = existing_bucket(ctx, _source_bucket_params(bucket, params))
    return [("s3:GetObject", object_arn(bucket, key), {}, (policy_of(doc), doc["Owner"]))]


def _source_bucket_params(bucket: str, params: dict[str, Any]) -> dict[str, Any]:
    """What existing_bucket needs for CopyObject's source: its name and ExpectedSourceBucketOwner."""
    return {"Bucket": bucket, "ExpectedBucketOwner": params.get("ExpectedSourceBucketOwner")}


# -- helpers ---------------------------------------------------------------------------------------------


def _md5_etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


# Checksums S3 verifies and keeps, by algorithm; CRC32C and CRC64NVME are kept as sent (no local implementation).
_CHECKSUMS = {
    "CRC32": lambda body: _b64(zlib.crc32(body).to_bytes(4, "big")),
    "SHA1": lambda body: _b64(hashlib.sha1(body, usedforsecurity=False).digest()),
    "SHA256": lambda body: _b64(hashlib.sha256(body).digest()),
    "SHA512": lambda body: _b64(hashlib.sha512(body).digest()),
}
_KEPT_CHECKSUMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512")


def verified_checksums(params: dict[str, Any], body: bytes) -> dict[str, str]:
    """The x-amz-checksum-* values sent with a body, each checked (BadDigest), as output members."""
    kept: dict[str, str] = {}
    content_md5 = params.get("ContentMD5")
    if content_md5 is not None:
        try:
            digest = base64.b64decode(content_md5, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != 16:
            raise S3Error("The Content-MD5 you specified was invalid.", code="InvalidDigest", status=400)
        if digest != hashlib.md5(body, usedforsecurity=False).digest():
            raise S3Error(
                "The Content-MD5 you specified did not match what we received.",
                code="BadDigest",
                status=400,
                ExpectedDigest=content_md5,
                CalculatedDigest=_b64(hashlib.md5(body, usedforsecurity=False).digest()),
            )
    for algorithm in _KEPT_CHECKSUMS:
        sent = params.get(f"Checksum{algorithm}")
        if sent is None:
            continue
        compute = _CHECKSUMS.get(algorithm)
        if compute is not None and compute(body) != sent:
            raise S3Error(
                f"The {algorithm} you specified did not match the calculated checksum.",
                code="BadDigest",
                status=400,
            )
        kept[f"Checksum{algorithm}"] = sent
    return kept


def resolve_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a Range header against an object of `size` bytes; None for the whole object.

    An unreadable (or multi-part) range is ignored, as S3 ignores it; one that starts past the end is
    InvalidRange (416).
    """
    if not header:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _invalid_range(header, size)
        return max(0, size - count), size
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        return None
    if start >= size:
        raise _invalid_range(header, size)
    return start, min(end, size)


def _invalid_range(header: str, size: int) -> S3Error:
    return S3Error(
        "The requested range is not satisfiable",
        code="InvalidRange",
        status=416,
        RangeRequested=header,
        ActualObjectSize=size,
    )


def _check_conditions(params: dict[str, Any], info: ObjectInfo, prefix: str = "") -> None:
    """If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304), in RFC 7232's order."""
    if_match = params.get(f"{prefix}IfMatch")
    if_unmodified = params.get(f"{prefix}IfUnmodifiedSince")
    if_none_match = params.get(f"{prefix}IfNoneMatch")
    if_modified = params.get(f"{prefix}IfModifiedSince")
    modified = int(info.last_modified)
    if if_match is not None and not _etag_matches(if_match, info.etag):
        raise precondition_failed("If-Match")
    if if_match is None and if_unmodified is not None and modified > if_unmodified.timestamp():
        raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None and _etag_matches(if_none_match, info.etag):
        if prefix:
            raise precondition_failed("x-amz-copy-source-If-None-Match")
        raise AwsError("Not Modified", code="NotModified", status=304)
    if if_none_match is None and if_modified is not None and modified <= if_modified.timestamp():
        if prefix:
            raise precondition_failed("x-amz-copy-source-If-Modified-Since")
        raise AwsError("Not Modified", code="NotModified", status=304)


def check_object_acl(params: dict[str, Any]) -> None:
    """Buckets here have Object Ownership's default, BucketOwnerEnforced: ACLs are disabled, and a write may
    carry no ACL or the bucket-owner-full-control one, which changes nothing (S3's rule)."""
    acl = params.get("ACL")
    if acl is not None and acl != "bucket-owner-full-control":
        raise S3Error("The bucket does not allow ACLs", code="AccessControlListNotSupported", status=400)


def check_write_conditions(objects: ObjectStore, bucket_id: str, key: str, params: dict[str, Any]) -> None:
    """A conditional write: If-None-Match (only "*") fails when the key exists, If-Match when its ETag differs
    (NoSuchKey when there is no object to match)."""
    if params.get("IfNoneMatch") is None and params.get("IfMatch") is None:
        return
    current = objects.head(bucket_id, key)
    if params.get("IfNoneMatch") is not None and current is not None:
        raise precondition_failed("If-None-Match")
    if params.get("IfMatch") is not None:
        if current is None:
            raise no_such_key(key)
        if not _etag_matches(params["IfMatch"], current.etag):
            raise precondition_failed("If-Match")


def _etag_matches(condition: str, etag: str) -> bool:
    wanted = {c.strip().strip('"') for c in condition.split(",")}
    return "*" in wanted or etag.strip('"') in wanted


def _url_encoded(value: str | None, encode: bool) -> str | None:
    return quote_plus(value, safe="/") if encode and value is not None else value


def _encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _decode_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        if isinstance(after, str):
            return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise S3Error(
        "The continuation token provided is incorrect",
        code="InvalidArgument",
        status=400,
        ArgumentName="continuation-token",
    )


def list_page(
    objects: list[ObjectInfo], prefix: str, delimiter: str, after: str | None, max_keys: int
) -> tuple[list[ObjectInfo], list[str], str | None]:
    """One page of a listing: (objects, common prefixes, the last entry when more follow, else None).

    Keys are taken in S3's order after `after` (a key, or a common prefix from a previous page, whose keys
    are then all skipped); keys under `prefix` whose remainder holds `delimiter` roll up into one common
    prefix. Objects and common prefixes together number at most `max_keys`.
    """
    contents: list[ObjectInfo] = []
    prefixes: list[str] = []
    after_order = key_order(after) if after is not None else None
    skip_under = after if (after is not None and delimiter and after.endswith(delimiter)) else None
    last: str | None = None
    for info in objects:
        key = info.key
        if not key.startswith(prefix):
            continue
        if after_order is not None and key_order(key) <= after_order:
            continue
        if skip_under is not None and key.startswith(skip_under):
            continue
        entry: str = key
        rolled = None
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                rolled = key[: cut + len(delimiter)]
                if prefixes and prefixes[-1] == rolled:
                    continue
                entry = rolled
        if len(contents) + len(prefixes) >= max_keys:
            return contents, prefixes, last
        if rolled is not None:
            prefixes.append(rolled)
        else:
            contents.append(info)
        last = entry
    return contents, prefixes, None


# -- members not implemented, declared per operation (rolecall.member_guard refuses a request setting one) ----
# RequestPayer is honoured as S3 honours it for a bucket that is not Requester Pays (none is here): accepted.
# ACLs follow Object Ownership's BucketOwnerEnforced default (check_object_acl); explicit grants are not kept.


def _refused(*names: str, **accepted: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """Member path -> the values accepted because they mean what rolecall does anyway (none for `names`)."""
    return {name: () for name in names} | accepted


_GRANTS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")
_SSE_C = ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")
_SSE_KMS = _refused("SSEKMSKeyId", "SSEKMSEncryptionContext", ServerSideEncryption=("AES256",)) | {
    "BucketKeyEnabled": (False,)
}
_OBJECT_LOCK = (
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "ObjectLockLegalHoldStatus",
    "ObjectLockEventHold",
    "ObjectLockEventHoldDurationDays",
    "ObjectLockEventHoldDurationYears",
)
# Checksums rolecall can neither verify nor keep (it keeps CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512).
_UNKEPT_CHECKSUMS = ("ChecksumMD5", "ChecksumXXHASH64", "ChecksumXXHASH3", "ChecksumXXHASH128")
# Object writes: tags, encryption other than S3's default, Object Lock, grants.
_WRITE_REFUSED = _refused(*_GRANTS, *_SSE_C, *_OBJECT_LOCK, "Tagging") | _SSE_KMS
# Versioning is not implemented: the only version of an object is "null", as in an unversioned bucket.
_VERSION = {"VersionId": ("null",)}


class S3(Service):
    name = "s3"
    model = "s3"

    def objects(self, ctx: OpContext) -> ObjectStore:
        data_dir = getattr(ctx.config, "data_dir", None) or getattr(ctx.store, "data_dir", None)
        if not data_dir:
            raise AwsError(
                "rolecall has no --data-dir to keep S3 objects in.", code="InternalError", status=500
            )
        return ObjectStore(Path(data_dir) / "s3")

    # -- authorization helpers -----------------------------------------------------------------------------

    def denial(self, ctx: OpContext, check: Check, context: dict[str, Any]) -> AwsError:
        """S3's AccessDenied: detailed within the bucket owner's account, bare across accounts."""
        owner = None
        if check.resource.startswith("arn:aws:s3:::"):
            name = check.resource[len("arn:aws:s3:::") :].split("/", 1)[0]
            doc = bucket_record(ctx, name)
            owner = doc["Owner"] if doc is not None else None
        return denial_message(
            ctx.caller.arn, ctx.caller.account, owner, check.action, check.resource, check.decision
        )

    def permitted(
        self,
        ctx: OpContext,
        doc: dict[str, Any],
        action: str,
        resource: str,
        context: dict[str, Any] | None = None,
    ) -> Check | None:
        """None when the caller may do `action` on `resource` of bucket `doc`, else the refused check."""
        pipeline = (ctx.config.extra or {}).get("pipeline") if ctx.config is not None else None
        if pipeline is None or ctx.config.auth_mode == "off":
            return None
        more = {"aws:ResourceAccount": doc["Owner"], "s3:ResourceAccount": doc["Owner"], **(context or {})}
        auth = Authorization(
            action,
            resource,
            context=lambda c, p: more,
            resource_policy=lambda c, p: (policy_of(doc), doc["Owner"]),
        )
        policies = principal_policies(ctx, pipeline.policies, ctx.store.generation())
        (check,) = decide(auth, ctx, {}, policies, [resource])
        if check.decision.allowed:
            return None
        if ctx.config.auth_mode == "soft":
            log.warning("soft auth: would deny %s on %s", action, resource)
            return None
        return check

    def _missing_key(self, ctx: OpContext, doc: dict[str, Any], key: str) -> AwsError:
        """NoSuchKey to a caller who may list the bucket; to anyone else, the ListBucket denial."""
        refused = self.permitted(ctx, doc, "s3:ListBucket", bucket_arn(doc["Name"]))
        if refused is None:
            return no_such_key(key)
        return self.denial(ctx, refused, {})

    @staticmethod
    def _touch(ctx: OpContext, doc: dict[str, Any], key: str | None = None) -> None:
        """The trail's resources, as CloudTrail lists them for S3 data events (the bucket names its owner)."""
        out = []
        if key is not None:
            out.append({"ARN": object_arn(doc["Name"], key), "accountId": "", "type": "AWS::S3::Object"})
        out.append({"ARN": bucket_arn(doc["Name"]), "accountId": doc["Owner"], "type": "AWS::S3::Bucket"})
        ctx.trail_resources = out

    # -- buckets -----------------------------------------------------------------------------------------

    @operation(
        "s3:CreateBucket",
        lambda ctx, p: bucket_arn(p["Bucket"]),
        _create_bucket_context,
        unsupported=_refused(
            *_GRANTS,
            "GrantWrite",
            "BucketNamespace",
            "CreateBucketConfiguration.Location",
            "CreateBucketConfiguration.Bucket",
            "CreateBucketConfiguration.Tags",
            ObjectLockEnabledForBucket=(False,),
            ObjectOwnership=("BucketOwnerEnforced",),
        ),
    )
    def CreateBucket(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        if not valid_bucket_name(name):
            raise S3Error(
                "The specified bucket is not valid.", code="InvalidBucketName", status=400, BucketName=name
            )
        acl = params.get("ACL")
        if acl is not None and acl != "private":  # any other canned ACL grants someone else access
            raise S3Error(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                code="InvalidBucketAclWithObjectOwnership",
                status=400,
            )
        region = self._bucket_region(ctx, params)
        existing = bucket_record(ctx, name)
        if existing is not None:
            if existing["Owner"] != ctx.account:
                raise S3Error(
                    "The requested bucket name is not available. The bucket namespace is shared by all users "
                    "of the system. Please select a different name and try again.",
                    code="BucketAlreadyExists",
                    status=409,
                    BucketName=name,
                )
            if not (existing["Region"] == region == "us-east-1"):
                raise S3Error(
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    code="BucketAlreadyOwnedByYou",
                    status=409,
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
            raise S3Error(
                "A conflicting conditional operation is currently in progress against this resource. "
                "Please try again.",
                code="OperationAborted",
                status=409,
            ) from None
        self.objects(ctx).create_bucket(bucket_id)
        self._touch(ctx, doc)
        location = "/" + name if region == "us-east-1" else f"http://{name}.s3.amazonaws.com/"
        return {"Location": location, "BucketArn": bucket_arn(name)}

    @staticmethod
    def _bucket_region(ctx: OpContext, params: dict[str, Any]) -> str:
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        if constraint == "EU":
            constraint = "eu-west-1"
        if constraint == "us-east-1":
            raise S3Error(
                "The specified location-constraint is not valid",
                code="InvalidLocationConstraint",
                status=400,
                LocationConstraint=constraint,
            )
        if ctx.region == "us-east-1":
            return constraint or "us-east-1"
        if constraint != ctx.region:
            shown = constraint or "unspecified"
            raise S3Error(
                f"The {shown} location constraint is incompatible for the region specific endpoint this "
                "request was sent to.",
                code="IllegalLocationConstraintException",
                status=400,
            )
        return constraint

    @operation("s3:DeleteBucket", _bucket_resource, _resource_account, resource_policy=_bucket_policy)
    def DeleteBucket(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        objects = self.objects(ctx)
        if not objects.is_empty(doc["Id"]):
            raise S3Error(
                "The bucket you tried to delete is not empty",
                code="BucketNotEmpty",
                status=409,
                BucketName=doc["Name"],
            )
        ctx.tx.delete(GLOBAL, BUCKET_KIND, doc["Name"])
        objects.drop_bucket(doc["Id"])
        self._touch(ctx, doc)
        return {}

    @operation("s3:ListAllMyBuckets", "*")
    def ListBuckets(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        after = _decode_token(params["ContinuationToken"]) if params.get("ContinuationToken") else None
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
                {"Name": d["Name"], "CreationDate": _iso(d["CreationDate"]), "BucketRegion": d["Region"]}
                for d in page
            ],
            "Owner": {"ID": canonical_user_id(ctx.account)},
        }
        if params.get("Prefix") is not None:
            out["Prefix"] = prefix
        if len(mine) > limit:
            out["ContinuationToken"] = _encode_token(page[-1]["Name"])
        return out

    @operation("s3:ListBucket", _bucket_resource, _resource_account, resource_policy=_bucket_policy)
    def HeadBucket(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._touch(ctx, doc)
        return {
            "BucketRegion": doc["Region"],
            "AccessPointAlias": False,
            "BucketArn": bucket_arn(doc["Name"]),
        }

    @operation("s3:GetBucketLocation", _bucket_resource, _resource_account, resource_policy=_bucket_policy)
    def GetBucketLocation(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._touch(ctx, doc)
        return {"LocationConstraint": None if doc["Region"] == "us-east-1" else doc["Region"]}

    # -- bucket policies ---------------------------------------------------------------------------------

    @staticmethod
    def _owner_only(ctx: OpContext, doc: dict[str, Any]) -> None:
        """Bucket policies are managed from the owner's account only, whatever another account is granted."""
        if ctx.account != doc["Owner"]:
            raise S3Error(
                "The specified method is not allowed against this resource.",
                code="MethodNotAllowed",
                status=405,
                Method=ctx.operation.replace("BucketPolicy", "").upper(),
                ResourceType="BUCKETPOLICY",
            )

    @operation(
        "s3:PutBucketPolicy", _bucket_resource, _resource_account, resource_policy=_policy_admin_policy
    )
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

    @operation(
        "s3:GetBucketPolicy", _bucket_resource, _resource_account, resource_policy=_policy_admin_policy
    )
    def GetBucketPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._owner_only(ctx, doc)
        self._touch(ctx, doc)
        if not doc.get("Policy"):
            raise S3Error(
                "The bucket policy does not exist",
                code="NoSuchBucketPolicy",
                status=404,
                BucketName=doc["Name"],
            )
        return {"Policy": doc["Policy"]}

    @operation(
        "s3:DeleteBucketPolicy", _bucket_resource, _resource_account, resource_policy=_policy_admin_policy
    )
    def DeleteBucketPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        self._owner_only(ctx, doc)
        if doc.get("Policy"):
            doc["Policy"] = None
            ctx.tx.update(GLOBAL, BUCKET_KIND, doc["Name"], doc)
        self._touch(ctx, doc)
        return {}

    # -- objects -----------------------------------------------------------------------------------------

    @staticmethod
    def _check_key(key: str) -> None:
        size = len(key.encode("utf-8", "surrogatepass"))
        if size > MAX_KEY_BYTES:
            raise S3Error(
                "Your key is too long",
                code="KeyTooLongError",
                status=400,
                Size=size,
                MaxSizeAllowed=MAX_KEY_BYTES,
            )

    @operation(
        "s3:PutObject",
        _object_resource,
        _write_context,
        resource_policy=_bucket_policy,
        unsupported=_WRITE_REFUSED | _refused(*_UNKEPT_CHECKSUMS, "WriteOffsetBytes"),
    )
    def PutObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        self._check_key(key)
        check_object_acl(params)
        body = params.get("Body") or b""
        checksums = verified_checksums(params, body)
        objects = self.objects(ctx)
        check_write_conditions(objects, doc["Id"], key, params)
        info = ObjectInfo(
            key=key,
            size=len(body),
            etag=_md5_etag(body),
            last_modified=int(ctx.clock.time()),
            content_type=params.get("ContentType") or "binary/octet-stream",
            metadata=dict(params.get("Metadata") or {}),
            headers=self._stored_headers(params),
            checksums=checksums,
            storage_class=params.get("StorageClass") or "STANDARD",
        )
        objects.put(doc["Id"], info, body)
        self._touch(ctx, doc, key)
        out: dict[str, Any] = {"ETag": info.etag, "ServerSideEncryption": "AES256", **checksums}
        if checksums:
            out["ChecksumType"] = "FULL_OBJECT"
        return out

    @staticmethod
    def _stored_headers(params: dict[str, Any]) -> dict[str, str]:
        out = {}
        for name in STORED_HEADERS:
            value = params.get(name)
            if isinstance(value, datetime):
                value = value.strftime("%a, %d %b %Y %H:%M:%S GMT")
            if value is not None:
                out[name] = str(value)
        return out

    def _read(self, ctx: OpContext, params: dict[str, Any], with_body: bool) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        chosen: dict[str, Any] = {}

        def span(info: ObjectInfo) -> tuple[int, int] | None:
            wanted = resolve_range(params.get("Range"), info.size)
            chosen["range"] = wanted
            start, end = wanted if wanted is not None else (0, info.size)
            return (start, end) if with_body else None

        found = self.objects(ctx).get(doc["Id"], key, span)
        if found is None:
            raise self._missing_key(ctx, doc, key)
        info, data = found
        _check_conditions(params, info)
        self._touch(ctx, doc, key)
        out: dict[str, Any] = {
            "AcceptRanges": "bytes",
            "LastModified": info.last_modified,
            "ContentLength": info.size,
            "ETag": info.etag,
            "ContentType": info.content_type,
            "Metadata": info.metadata or None,
            "ServerSideEncryption": "AES256",
            **info.headers,
        }
        if info.storage_class != "STANDARD":
            out["StorageClass"] = info.storage_class
        wanted = chosen.get("range")
        if wanted is not None:
            start, end = wanted
            out["ContentLength"] = end - start
            out["ContentRange"] = f"bytes {start}-{end - 1}/{info.size}"
        elif params.get("ChecksumMode") == "ENABLED" and info.checksums:
            out.update(info.checksums)
            out["ChecksumType"] = info.checksum_type
        for override, member in RESPONSE_OVERRIDES.items():
            if params.get(override) is not None:
                value = params[override]
                out[member] = (
                    value.strftime("%a, %d %b %Y %H:%M:%S GMT") if isinstance(value, datetime) else value
                )
        if with_body:
            out["Body"] = data
        return out

    @operation(
        "s3:GetObject",
        _object_resource,
        _resource_account,
        resource_policy=_bucket_policy,
        unsupported=_refused(*_SSE_C, "PartNumber") | _VERSION,
    )
    def GetObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(ctx, params, with_body=True)

    @operation(
        "s3:GetObject",
        _object_resource,
        _resource_account,
        resource_policy=_bucket_policy,
        unsupported=_refused(*_SSE_C, "PartNumber") | _VERSION,
    )
    def HeadObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(ctx, params, with_body=False)

    @operation(
        "s3:DeleteObject",
        _object_resource,
        _resource_account,
        resource_policy=_bucket_policy,
        # MFA delete and governance retention belong to versioning and Object Lock; the last two conditions
        # are for directory buckets.
        unsupported=_refused(
            "MFA", "IfMatchLastModifiedTime", "IfMatchSize", BypassGovernanceRetention=(False,)
        )
        | _VERSION,
    )
    def DeleteObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        objects = self.objects(ctx)
        check_write_conditions(objects, doc["Id"], params["Key"], {"IfMatch": params.get("IfMatch")})
        objects.delete(doc["Id"], params["Key"])
        self._touch(ctx, doc, params["Key"])
        return {}

    # Authorized key by key in the handler: S3 reports each key it may not delete instead of refusing all.
    @operation(
        public=True,
        read_only=False,
        unsupported=_refused(
            "MFA",
            "Delete.Objects.ETag",
            "Delete.Objects.LastModifiedTime",
            "Delete.Objects.Size",
            BypassGovernanceRetention=(False,),
        )
        | {"Delete.Objects.VersionId": ("null",)},
    )
    def DeleteObjects(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        request = params["Delete"]
        entries = request.get("Objects") or []
        if not entries or len(entries) > MAX_DELETE_KEYS:
            raise S3Error(
                "The XML you provided was not well-formed or did not validate against our published schema",
                code="MalformedXML",
                status=400,
            )
        quiet = bool(request.get("Quiet"))
        objects = self.objects(ctx)
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for entry in entries:
            key = entry["Key"]
            if self.permitted(ctx, doc, "s3:DeleteObject", object_arn(doc["Name"], key)) is not None:
                errors.append({"Key": key, "Code": "AccessDenied", "Message": "Access Denied"})
                continue
            objects.delete(doc["Id"], key)
            if not quiet:
                deleted.append({"Key": key})
        self._touch(ctx, doc)
        return {"Deleted": deleted or None, "Errors": errors or None}

    @operation(
        "s3:PutObject",
        _object_resource,
        _write_context,
        resource_policy=_bucket_policy,
        extra=_copy_source_extra,
        unsupported=_WRITE_REFUSED
        | _refused(
            *(f"CopySource{name}" for name in _SSE_C),
            "ChecksumAlgorithm",
            "AnnotationDirective",
            TaggingDirective=("COPY",),
        ),
    )
    def CopyObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        self._check_key(key)
        check_object_acl(params)
        source_bucket, source_key = parse_copy_source(params["CopySource"])
        source_doc = existing_bucket(ctx, _source_bucket_params(source_bucket, params))
        objects = self.objects(ctx)
        check_write_conditions(objects, doc["Id"], key, params)
        found = objects.get(source_doc["Id"], source_key, lambda info: (0, info.size))
        if found is None:
            raise no_such_key(source_key)
        source, body = found
        _check_conditions(params, source, prefix="CopySource")
        replace = params.get("MetadataDirective") == "REPLACE"
        same = (source_doc["Id"], source_key) == (doc["Id"], key)
        if (
            same
            and not replace
            and not params.get("StorageClass")
            and not params.get("WebsiteRedirectLocation")
        ):
            raise S3Error(
                "This copy request is illegal because it is trying to copy an object to itself without changing "
                "the object's metadata, storage class, website redirect location or encryption attributes.",
                code="InvalidRequest",
                status=400,
            )
        info = ObjectInfo(
            key=key,
            size=source.size,
            etag=source.etag,
            last_modified=int(ctx.clock.time()),
            content_type=(params.get("ContentType") or "binary/octet-stream")
            if replace
            else source.content_type,
            metadata=dict(params.get("Metadata") or {}) if replace else dict(source.metadata),
            headers=self._stored_headers(params) if replace else dict(source.headers),
            checksums=dict(source.checksums),
            storage_class=params.get("StorageClass") or "STANDARD",
        )
        objects.put(doc["Id"], info, body)
        self._touch(ctx, doc, key)
        return {
            "CopyObjectResult": {"ETag": info.etag, "LastModified": info.last_modified},
            "ServerSideEncryption": "AES256",
        }

    # -- multipart uploads -------------------------------------------------------------------------------

    def uploads(self, ctx: OpContext) -> UploadStore:
        return UploadStore(self.objects(ctx).root)

    def _upload(self, ctx: OpContext, doc: dict[str, Any], params: dict[str, Any]) -> UploadInfo:
        """The upload UploadId names, for this key; NoSuchUpload otherwise (also for a completed one)."""
        upload = self.uploads(ctx).load(doc["Id"], params["UploadId"])
        if upload is None or upload.key != params["Key"]:
            raise no_such_upload(params["UploadId"])
        return upload

    @staticmethod
    def _initiator(upload: UploadInfo) -> dict[str, Any]:
        return {"ID": upload.initiator_arn, "DisplayName": upload.initiator_arn.rsplit("/", 1)[-1]}

    @operation(
        "s3:PutObject",
        _object_resource,
        _write_context,
        resource_policy=_bucket_policy,
        unsupported=_WRITE_REFUSED,
    )
    def CreateMultipartUpload(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        self._check_key(key)
        check_object_acl(params)
        algorithm = params.get("ChecksumAlgorithm")
        checksum_type = params.get("ChecksumType")
        if algorithm is None and checksum_type is not None:
            raise S3Error(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
                code="InvalidRequest",
                status=400,
            )
        if algorithm is not None:
            checksum_type = checksum_type or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
            allowed = FULL_OBJECT_ALGORITHMS if checksum_type == "FULL_OBJECT" else COMPOSITE_ALGORITHMS
            if algorithm not in allowed:
                raise S3Error(
                    f"The {checksum_type} checksum type cannot be used with the {algorithm.lower()} checksum "
                    "algorithm.",
                    code="InvalidRequest",
                    status=400,
                )
        upload = UploadInfo(
            upload_id=new_upload_id(),
            key=key,
            initiated=ctx.clock.time(),
            initiator_arn=canonical_user_id(ctx.account) if ctx.caller.is_root else ctx.caller.arn,
            owner_account=ctx.account,
            content_type=params.get("ContentType") or "binary/octet-stream",
            metadata=dict(params.get("Metadata") or {}),
            headers=self._stored_headers(params),
            storage_class=params.get("StorageClass") or "STANDARD",
            checksum_algorithm=algorithm,
            checksum_type=checksum_type,
        )
        store = self.uploads(ctx)
        if not (store.root / doc["Id"]).is_dir():
            self.objects(ctx).create_bucket(doc["Id"])
        store.create(doc["Id"], upload)
        self._touch(ctx, doc, key)
        return {
            "Bucket": doc["Name"],
            "Key": key,
            "UploadId": upload.upload_id,
            "ServerSideEncryption": "AES256",
            "ChecksumAlgorithm": algorithm,
            "ChecksumType": checksum_type,
        }

    @operation(
        "s3:PutObject",
        _object_resource,
        _write_context,
        resource_policy=_bucket_policy,
        unsupported=_refused(*_SSE_C, *_UNKEPT_CHECKSUMS),
    )
    def UploadPart(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        number = params["PartNumber"]
        if not 1 <= number <= MAX_PARTS:
            raise S3Error(
                f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
                code="InvalidArgument",
                status=400,
                ArgumentName="partNumber",
                ArgumentValue=number,
            )
        upload = self._upload(ctx, doc, params)
        body = params.get("Body") or b""
        checksums = verified_checksums(params, body)
        wanted = upload.checksum_algorithm
        if wanted is not None and f"Checksum{wanted}" not in checksums and wanted in _CHECKSUMS:
            checksums[f"Checksum{wanted}"] = _CHECKSUMS[wanted](body)
        part = PartInfo(
            number=number,
            size=len(body),
            etag=_md5_etag(body),
            last_modified=int(ctx.clock.time()),
            checksums=checksums,
        )
        if not self.uploads(ctx).put_part(doc["Id"], upload.upload_id, part, body):
            raise no_such_upload(upload.upload_id)
        self._touch(ctx, doc, upload.key)
        return {"ETag": part.etag, "ServerSideEncryption": "AES256", **checksums}

    @operation(
        "s3:PutObject",
        _object_resource,
        _write_context,
        resource_policy=_bucket_policy,
        unsupported=_refused(*_SSE_C, *_UNKEPT_CHECKSUMS),
    )
    def CompleteMultipartUpload(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        upload = self._upload(ctx, doc, params)
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise S3Error(
                "The XML you provided was not well-formed or did not validate against our published schema",
                code="MalformedXML",
                status=400,
            )
        sent_type = params.get("ChecksumType")
        if sent_type is not None and sent_type != upload.checksum_type:
            raise S3Error(
                f"The upload was created with the {upload.checksum_type or 'no'} checksum type; "
                f"the complete request names {sent_type}.",
                code="InvalidRequest",
                status=400,
            )
        check_write_conditions(self.objects(ctx), doc["Id"], upload.key, params)
        store = self.uploads(ctx)
        uploaded = store.parts(doc["Id"], upload.upload_id)
        chosen = self._chosen_parts(upload, requested, uploaded)
        total = sum(p.size for p in chosen)
        expected_size = params.get("MpuObjectSize")
        if expected_size is not None and expected_size != total:
            raise S3Error(
                f"The provided 'x-amz-mp-object-size' header value {expected_size} does not match what was "
                f"computed: {total}",
                code="InvalidRequest",
                status=400,
            )
        md5s = b"".join(bytes.fromhex(p.etag.strip('"')) for p in chosen)
        etag = f'"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(chosen)}"'
        checksums = self._multipart_checksums(ctx, doc, upload, chosen, params)
        info = ObjectInfo(
            key=upload.key,
            size=total,
            etag=etag,
            last_modified=int(ctx.clock.time()),
            content_type=upload.content_type,
            metadata=upload.metadata,
            headers=upload.headers,
            checksums=checksums,
            storage_class=upload.storage_class,
            checksum_type=upload.checksum_type or "FULL_OBJECT",
        )

        def assembled() -> Iterator[bytes]:
            for part in chosen:
                try:
                    yield from store.part_bytes(doc["Id"], upload.upload_id, part.number, part.etag)
                except KeyError:  # replaced or removed meanwhile: the object is left as it was
                    raise invalid_part(upload.upload_id, part.number, part.etag) from None

        self.objects(ctx).put_chunks(doc["Id"], info, assembled())
        store.discard(doc["Id"], upload.upload_id)
        self._touch(ctx, doc, upload.key)
        out: dict[str, Any] = {
            "Location": f"https://{doc['Name']}.s3.amazonaws.com/{quote(upload.key)}",
            "Bucket": doc["Name"],
            "Key": upload.key,
            "ETag": etag,
            "ServerSideEncryption": "AES256",
            **checksums,
        }
        if checksums:
            out["ChecksumType"] = info.checksum_type
        return out

    @staticmethod
    def _chosen_parts(
        upload: UploadInfo, requested: list[dict[str, Any]], uploaded: dict[int, PartInfo]
    ) -> list[PartInfo]:
        """The parts a CompleteMultipartUpload names, checked as S3 checks them: ascending part numbers
        (InvalidPartOrder), each uploaded with the ETag (and any checksum) given (InvalidPart), and every one
        but the last at least 5 MiB (EntityTooSmall)."""
        chosen: list[PartInfo] = []
        previous = 0
        for entry in requested:
            number = entry.get("PartNumber") or 0
            if number <= previous:
                raise S3Error(
                    "The list of parts was not in ascending order. Parts must be ordered by part number.",
                    code="InvalidPartOrder",
                    status=400,
                    UploadId=upload.upload_id,
                )
            previous = number
            part = uploaded.get(number)
            etag = (entry.get("ETag") or "").strip('"')
            if part is None or part.etag.strip('"') != etag:
                raise invalid_part(upload.upload_id, number, entry.get("ETag"))
            for name, value in entry.items():
                if name.startswith("Checksum") and part.checksums.get(name, value) != value:
                    raise invalid_part(upload.upload_id, number, entry.get("ETag"))
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise S3Error(
                    "Your proposed upload is smaller than the minimum allowed size",
                    code="EntityTooSmall",
                    status=400,
                    ProposedSize=part.size,
                    MinSizeAllowed=MIN_PART_SIZE,
                    PartNumber=part.number,
                    ETag=part.etag.strip('"'),
                )
        return chosen

    def _multipart_checksums(
        self,
        ctx: OpContext,
        doc: dict[str, Any],
        upload: UploadInfo,
        chosen: list[PartInfo],
        params: dict[str, Any],
    ) -> dict[str, str]:
        """The completed object's checksum: for COMPOSITE, the checksum of the parts' binary checksums with a
        "-<parts>" suffix; for FULL_OBJECT, the whole object's (checked when rolecall can compute it, CRC32)."""
        algorithm = upload.checksum_algorithm
        if algorithm is None:
            return {}
        member = f"Checksum{algorithm}"
        if upload.checksum_type == "COMPOSITE":
            if algorithm not in _CHECKSUMS or any(member not in p.checksums for p in chosen):
                return {}
            joined = b"".join(base64.b64decode(p.checksums[member]) for p in chosen)
            return {member: f"{_CHECKSUMS[algorithm](joined)}-{len(chosen)}"}
        sent = params.get(member)
        if algorithm == "CRC32":
            crc = 0
            for part in chosen:
                for chunk in self.uploads(ctx).part_bytes(
                    doc["Id"], upload.upload_id, part.number, part.etag
                ):
                    crc = zlib.crc32(chunk, crc)
            computed = _b64(crc.to_bytes(4, "big"))
            if sent is not None and sent != computed:
                raise S3Error(
                    f"The {algorithm} you specified did not match the calculated checksum.",
                    code="BadDigest",
                    status=400,
                )
            return {member: computed}
        return {member: sent} if sent is not None else {}

    @operation(
        "s3:AbortMultipartUpload",
        _object_resource,
        _resource_account,
        resource_policy=_bucket_policy,
        unsupported=_refused("IfMatchInitiatedTime"),  # directory buckets
    )
    def AbortMultipartUpload(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        upload = self._upload(ctx, doc, params)
        if not self.uploads(ctx).discard(doc["Id"], upload.upload_id):
            raise no_such_upload(upload.upload_id)
        self._touch(ctx, doc, upload.key)
        return {}

    @operation(
        "s3:ListMultipartUploadParts",
        _object_resource,
        _resource_account,
        resource_policy=_bucket_policy,
        unsupported=_refused(*_SSE_C),
    )
    def ListParts(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        upload = self._upload(ctx, doc, params)
        marker = params.get("PartNumberMarker") or 0
        max_parts = params.get("MaxParts", MAX_LIST_PARTS)
        limit = max(0, min(max_parts, MAX_LIST_PARTS))
        parts = sorted(
            (p for p in self.uploads(ctx).parts(doc["Id"], upload.upload_id).values() if p.number > marker),
            key=lambda p: p.number,
        )
        page, truncated = parts[:limit], len(parts) > limit
        self._touch(ctx, doc, upload.key)
        return {
            "Bucket": doc["Name"],
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "NextPartNumberMarker": page[-1].number if page else marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Parts": [
                {
                    "PartNumber": p.number,
                    "LastModified": p.last_modified,
                    "ETag": p.etag,
                    "Size": p.size,
                    **p.checksums,
                }
                for p in page
            ]
            or None,
            "Initiator": self._initiator(upload),
            "Owner": {"ID": canonical_user_id(upload.owner_account)},
            "StorageClass": upload.storage_class,
            "ChecksumAlgorithm": upload.checksum_algorithm,
            "ChecksumType": upload.checksum_type,
        }

    @operation(
        "s3:ListBucketMultipartUploads", _bucket_resource, _resource_account, resource_policy=_bucket_policy
    )
    def ListMultipartUploads(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        key_marker = params.get("KeyMarker") or ""
        id_marker = params.get("UploadIdMarker") if key_marker else None
        max_uploads = params.get("MaxUploads", MAX_LIST_UPLOADS)
        limit = max(0, min(max_uploads, MAX_LIST_UPLOADS))
        encode = params.get("EncodingType") == "url"
        uploads: list[UploadInfo] = []
        prefixes: list[str] = []
        truncated = False
        passed_marker = id_marker is None
        last: UploadInfo | None = None
        for upload in self.uploads(ctx).uploads(doc["Id"]):
            if not upload.key.startswith(prefix):
                continue
            if key_marker and key_order(upload.key) < key_order(key_marker):
                continue
            if key_marker and upload.key == key_marker:
                # Past the marker key only with an upload-id-marker, and then after that upload.
                if not passed_marker:
                    passed_marker = upload.upload_id == id_marker
                    continue
                if id_marker is None:
                    continue
            rolled = None
            if delimiter:
                cut = upload.key.find(delimiter, len(prefix))
                if cut >= 0:
                    rolled = upload.key[: cut + len(delimiter)]
                    if (prefixes and prefixes[-1] == rolled) or (key_marker and rolled <= key_marker):
                        continue
            if len(uploads) + len(prefixes) >= limit:
                truncated = True
                break
            if rolled is not None:
                prefixes.append(rolled)
            else:
                uploads.append(upload)
                last = upload
        self._touch(ctx, doc)
        return {
            "Bucket": doc["Name"],
            "KeyMarker": _url_encoded(key_marker, encode),
            "UploadIdMarker": id_marker or "",
            "NextKeyMarker": _url_encoded(last.key, encode) if last is not None else None,
            "NextUploadIdMarker": last.upload_id if last is not None else None,
            "Prefix": _url_encoded(prefix, encode),
            "Delimiter": _url_encoded(params.get("Delimiter"), encode),
            "MaxUploads": max_uploads,
            "IsTruncated": truncated,
            "Uploads": [
                {
                    "UploadId": u.upload_id,
                    "Key": _url_encoded(u.key, encode),
                    "Initiated": u.initiated,
                    "StorageClass": u.storage_class,
                    "Owner": {"ID": canonical_user_id(u.owner_account)},
                    "Initiator": self._initiator(u),
                    "ChecksumAlgorithm": u.checksum_algorithm,
                    "ChecksumType": u.checksum_type,
                }
                for u in uploads
            ]
            or None,
            "CommonPrefixes": [{"Prefix": _url_encoded(p, encode)} for p in prefixes] or None,
            "EncodingType": params.get("EncodingType"),
        }

    # -- listing -----------------------------------------------------------------------------------------

    def _list(self, ctx: OpContext, params: dict[str, Any], after: str | None) -> tuple[Any, ...]:
        doc = existing_bucket(ctx, params)
        max_keys = params.get("MaxKeys", MAX_LIST_KEYS)
        if max_keys < 0:
            raise S3Error(
                "Argument maxKeys must be an integer between 0 and 2147483647",
                code="InvalidArgument",
                status=400,
                ArgumentName="maxKeys",
                ArgumentValue=max_keys,
            )
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        everything = self.objects(ctx).list(doc["Id"])
        contents, prefixes, last = list_page(
            everything, prefix, delimiter, after, min(max_keys, MAX_LIST_KEYS)
        )
        self._touch(ctx, doc)
        return doc, contents, prefixes, last, max_keys

    @staticmethod
    def _contents(doc: dict[str, Any], contents: list[ObjectInfo], encode: bool, owner: bool) -> list[dict]:
        out = []
        for info in contents:
            item: dict[str, Any] = {
                "Key": _url_encoded(info.key, encode),
                "LastModified": info.last_modified,
                "ETag": info.etag,
                "Size": info.size,
                "StorageClass": info.storage_class,
            }
            if info.checksums:
                item["ChecksumAlgorithm"] = [name.removeprefix("Checksum") for name in info.checksums]
                item["ChecksumType"] = info.checksum_type
            if owner:
                item["Owner"] = {"ID": canonical_user_id(doc["Owner"])}
            out.append(item)
        return out

    @operation(
        "s3:ListBucket",
        _bucket_resource,
        _list_context,
        resource_policy=_bucket_policy,
        unsupported=_refused("OptionalObjectAttributes"),
    )
    def ListObjectsV2(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ContinuationToken")
        after = _decode_token(token) if token else params.get("StartAfter")
        doc, contents, prefixes, last, max_keys = self._list(ctx, params, after)
        encode = params.get("EncodingType") == "url"
        out: dict[str, Any] = {
            "Name": doc["Name"],
            "Prefix": _url_encoded(params.get("Prefix") or "", encode),
            "Delimiter": _url_encoded(params.get("Delimiter"), encode),
            "MaxKeys": max_keys,
            "KeyCount": len(contents) + len(prefixes),
            "IsTruncated": last is not None,
            "Contents": self._contents(doc, contents, encode, bool(params.get("FetchOwner"))) or None,
            "CommonPrefixes": [{"Prefix": _url_encoded(p, encode)} for p in prefixes] or None,
            "EncodingType": params.get("EncodingType"),
            "ContinuationToken": token,
            "NextContinuationToken": _encode_token(last) if last is not None else None,
            "StartAfter": _url_encoded(params.get("StartAfter"), encode),
        }
        return out

    @operation(
        "s3:ListBucket",
        _bucket_resource,
        _list_context,
        resource_policy=_bucket_policy,
        unsupported=_refused("OptionalObjectAttributes"),
    )
    def ListObjects(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        marker = params.get("Marker")
        doc, contents, prefixes, last, max_keys = self._list(ctx, params, marker)
        encode = params.get("EncodingType") == "url"
        return {
            "Name": doc["Name"],
            "Prefix": _url_encoded(params.get("Prefix") or "", encode),
            "Delimiter": _url_encoded(params.get("Delimiter"), encode),
            "Marker": _url_encoded(marker or "", encode),
            "MaxKeys": max_keys,
            "IsTruncated": last is not None,
            "NextMarker": _url_encoded(last, encode)
            if last is not None and params.get("Delimiter")
            else None,
            "Contents": self._contents(doc, contents, encode, True) or None,
            "CommonPrefixes": [{"Prefix": _url_encoded(p, encode)} for p in prefixes] or None,
            "EncodingType": params.get("EncodingType"),
        }
