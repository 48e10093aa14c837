"""Objects: written in the request's transaction (rolecall.services.s3.storage), read whole or by range,
copied inside the store, deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import operation
from rolecall.services.s3 import unsupported
from rolecall.services.s3.arns import (
    bucket_policy,
    copy_source_extra,
    existing_bucket,
    object_arn,
    object_resource,
    parse_copy_source,
    resource_account,
    source_bucket_params,
    write_context,
)
from rolecall.services.s3.checksums import md5_etag, verified_checksums
from rolecall.services.s3.conditions import (
    check_conditions,
    check_object_acl,
    check_write_conditions,
    resolve_range,
    write_condition,
)
from rolecall.services.s3.errors import (
    InternalError,
    InvalidRequest,
    KeyTooLongError,
    MalformedXML,
    no_such_key,
)
from rolecall.services.s3.family import S3Family
from rolecall.services.s3.limits import MAX_DELETE_KEYS, MAX_KEY_BYTES, RESPONSE_OVERRIDES, STORED_HEADERS
from rolecall.services.s3.storage.objects import ObjectInfo
from rolecall.store import BlobMissing


def check_key(key: str) -> None:
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError("Your key is too long", Size=size, MaxSizeAllowed=MAX_KEY_BYTES)


def stored_headers(params: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in STORED_HEADERS:
        value = params.get(name)
        if isinstance(value, datetime):
            value = value.strftime("%a, %d %b %Y %H:%M:%S GMT")
        if value is not None:
            out[name] = str(value)
    return out


class ObjectOperations(S3Family):
    @operation(
        "s3:PutObject",
        object_resource,
        write_context,
        resource_policy=bucket_policy,
        unsupported=unsupported.WRITE_REFUSED
        | unsupported.refused(*unsupported.UNKEPT_CHECKSUMS, "WriteOffsetBytes"),
    )
    def PutObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        check_key(key)
        check_object_acl(params)
        body = params.get("Body") or b""
        checksums = verified_checksums(params, body)
        objects = self.objects(ctx)
        check_write_conditions(objects, doc["Id"], key, params)
        self.hold_bucket(ctx, doc)
        info = ObjectInfo(
            key=key,
            size=len(body),
            etag=md5_etag(body),
            last_modified=int(ctx.clock.time()),
            content_type=params.get("ContentType") or "binary/octet-stream",
            metadata=dict(params.get("Metadata") or {}),
            headers=stored_headers(params),
            checksums=checksums,
            storage_class=params.get("StorageClass") or "STANDARD",
        )
        objects.put(doc["Id"], info, body, write_condition(key, params))
        self._touch(ctx, doc, key)
        out: dict[str, Any] = {"ETag": info.etag, "ServerSideEncryption": "AES256", **checksums}
        if checksums:
            out["ChecksumType"] = "FULL_OBJECT"
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
        check_conditions(params, info)
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
        object_resource,
        resource_account,
        resource_policy=bucket_policy,
        unsupported=unsupported.READ,
    )
    def GetObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(ctx, params, with_body=True)

    @operation(
        "s3:GetObject",
        object_resource,
        resource_account,
        resource_policy=bucket_policy,
        unsupported=unsupported.READ,
    )
    def HeadObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(ctx, params, with_body=False)

    @operation(
        "s3:DeleteObject",
        object_resource,
        resource_account,
        resource_policy=bucket_policy,
        unsupported=unsupported.DELETE,
    )
    def DeleteObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        objects = self.objects(ctx)
        check_write_conditions(objects, doc["Id"], params["Key"], {"IfMatch": params.get("IfMatch")})
        objects.delete(doc["Id"], params["Key"])
        self._touch(ctx, doc, params["Key"])
        return {}

    # Authorized key by key in the handler: S3 reports each key it may not delete instead of refusing all.
    @operation(public=True, read_only=False, unsupported=unsupported.DELETE_MANY)
    def DeleteObjects(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        request = params["Delete"]
        entries = request.get("Objects") or []
        if not entries or len(entries) > MAX_DELETE_KEYS:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
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
        object_resource,
        write_context,
        resource_policy=bucket_policy,
        extra=copy_source_extra,
        unsupported=unsupported.COPY,
    )
    def CopyObject(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        check_key(key)
        check_object_acl(params)
        source_bucket, source_key = parse_copy_source(params["CopySource"])
        source_doc = existing_bucket(ctx, source_bucket_params(source_bucket, params))
        objects = self.objects(ctx)
        check_write_conditions(objects, doc["Id"], key, params)
        self.hold_bucket(ctx, doc)
        source = objects.head(source_doc["Id"], source_key)
        if source is None:
            raise no_such_key(source_key)
        check_conditions(params, source, prefix="CopySource")
        replace = params.get("MetadataDirective") == "REPLACE"
        same = (source_doc["Id"], source_key) == (doc["Id"], key)
        if (
            same
            and not replace
            and not params.get("StorageClass")
            and not params.get("WebsiteRedirectLocation")
        ):
            raise InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
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
            headers=stored_headers(params) if replace else dict(source.headers),
            checksums=dict(source.checksums),
            storage_class=params.get("StorageClass") or "STANDARD",
        )
        assert source.blob is not None
        try:  # the bytes are copied inside the store, never read into this process
            objects.compose(doc["Id"], info, [source.blob], move=False, condition=write_condition(key, params))
        except BlobMissing:  # replaced (by another node) since it was read: the SDKs retry a 500
            raise InternalError("We encountered an internal error. Please try again.") from None
        self._touch(ctx, doc, key)
        return {
            "CopyObjectResult": {"ETag": info.etag, "LastModified": info.last_modified},
            "ServerSideEncryption": "AES256",
        }
