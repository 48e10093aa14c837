"""Multipart uploads: parts stored in the store as they come, taken over whole as the object on completion
(rolecall.services.s3.storage.uploads)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any
from urllib.parse import quote

from rolecall.core.context import OpContext
from rolecall.core.operations import operation
from rolecall.services.s3 import unsupported
from rolecall.services.s3.arns import (
    bucket_policy,
    bucket_resource,
    canonical_user_id,
    existing_bucket,
    object_resource,
    resource_account,
    write_context,
)
from rolecall.services.s3.checksums import CHECKSUMS, b64, md5_etag, verified_checksums
from rolecall.services.s3.conditions import check_object_acl, check_write_conditions, write_condition
from rolecall.services.s3.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidArgument,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    invalid_part,
    no_such_upload,
)
from rolecall.services.s3.family import S3Family
from rolecall.services.s3.limits import (
    COMPOSITE_ALGORITHMS,
    FULL_OBJECT_ALGORITHMS,
    MAX_LIST_PARTS,
    MAX_LIST_UPLOADS,
    MAX_PARTS,
    MIN_PART_SIZE,
)
from rolecall.services.s3.listing import url_encoded
from rolecall.services.s3.objects import check_key, stored_headers
from rolecall.services.s3.storage.objects import ObjectInfo, key_order
from rolecall.services.s3.storage.uploads import PartInfo, UploadInfo, new_upload_id
from rolecall.store import BlobMissing
from rolecall.store.base import BlobLock


class MultipartOperations(S3Family):
    def _upload(
        self, ctx: OpContext, doc: dict[str, Any], params: dict[str, Any], lock: BlobLock | None = None
    ) -> UploadInfo:
        """The upload UploadId names, for this key; NoSuchUpload otherwise (also for a completed one)."""
        upload = self.uploads(ctx).load(doc["Id"], params["UploadId"], lock=lock)
        if upload is None or upload.key != params["Key"]:
            raise no_such_upload(params["UploadId"])
        return upload

    @staticmethod
    def _initiator(upload: UploadInfo) -> dict[str, Any]:
        return {"ID": upload.initiator_arn, "DisplayName": upload.initiator_arn.rsplit("/", 1)[-1]}

    @operation(
        "s3:PutObject",
        object_resource,
        write_context,
        resource_policy=bucket_policy,
        unsupported=unsupported.WRITE_REFUSED,
    )
    def CreateMultipartUpload(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        key = params["Key"]
        check_key(key)
        check_object_acl(params)
        algorithm = params.get("ChecksumAlgorithm")
        checksum_type = params.get("ChecksumType")
        if algorithm is None and checksum_type is not None:
            raise InvalidRequest(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            )
        if algorithm is not None:
            checksum_type = checksum_type or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
            allowed = FULL_OBJECT_ALGORITHMS if checksum_type == "FULL_OBJECT" else COMPOSITE_ALGORITHMS
            if algorithm not in allowed:
                raise InvalidRequest(
                    f"The {checksum_type} checksum type cannot be used with the {algorithm.lower()} checksum algorithm."
                )
        upload = UploadInfo(
            upload_id=new_upload_id(),
            key=key,
            initiated=ctx.clock.time(),
            initiator_arn=canonical_user_id(ctx.account) if ctx.caller.is_root else ctx.caller.arn,
            owner_account=ctx.account,
            content_type=params.get("ContentType") or "binary/octet-stream",
            metadata=dict(params.get("Metadata") or {}),
            headers=stored_headers(params),
            storage_class=params.get("StorageClass") or "STANDARD",
            checksum_algorithm=algorithm,
            checksum_type=checksum_type,
        )
        self.hold_bucket(ctx, doc)
        self.uploads(ctx).create(doc["Id"], upload)
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
        object_resource,
        write_context,
        resource_policy=bucket_policy,
        unsupported=unsupported.refused(*unsupported.SSE_C, *unsupported.UNKEPT_CHECKSUMS),
    )
    def UploadPart(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        number = params["PartNumber"]
        if not 1 <= number <= MAX_PARTS:
            raise InvalidArgument(
                f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=number,
            )
        upload = self._upload(ctx, doc, params, lock="share")  # until the part is in: no completion meanwhile
        body = params.get("Body") or b""
        checksums = verified_checksums(params, body)
        wanted = upload.checksum_algorithm
        if wanted is not None and f"Checksum{wanted}" not in checksums and wanted in CHECKSUMS:
            checksums[f"Checksum{wanted}"] = CHECKSUMS[wanted](body)
        part = PartInfo(
            number=number,
            size=len(body),
            etag=md5_etag(body),
            last_modified=int(ctx.clock.time()),
            checksums=checksums,
        )
        self.uploads(ctx).put_part(doc["Id"], upload.upload_id, part, body)
        self._touch(ctx, doc, upload.key)
        return {"ETag": part.etag, "ServerSideEncryption": "AES256", **checksums}

    @operation(
        "s3:PutObject",
        object_resource,
        write_context,
        resource_policy=bucket_policy,
        unsupported=unsupported.refused(*unsupported.SSE_C, *unsupported.UNKEPT_CHECKSUMS),
    )
    def CompleteMultipartUpload(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = existing_bucket(ctx, params)
        # Alone with the upload: parts being uploaded finish first, and none starts until this commits.
        upload = self._upload(ctx, doc, params, lock="update")
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        sent_type = params.get("ChecksumType")
        if sent_type is not None and sent_type != upload.checksum_type:
            raise InvalidRequest(
                f"The upload was created with the {upload.checksum_type or 'no'} checksum type; the complete request names {sent_type}."
            )
        check_write_conditions(self.objects(ctx), doc["Id"], upload.key, params)
        self.hold_bucket(ctx, doc)
        store = self.uploads(ctx)
        uploaded = store.parts(doc["Id"], upload.upload_id)
        chosen = self._chosen_parts(upload, requested, uploaded)
        total = sum(p.size for p in chosen)
        expected_size = params.get("MpuObjectSize")
        if expected_size is not None and expected_size != total:
            raise InvalidRequest(
                f"The provided 'x-amz-mp-object-size' header value {expected_size} does not match what was computed: {total}"
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

        # The parts' chunks become the object's, inside the store: no byte is copied, whatever the size.
        sources = [part.stored for part in chosen]
        try:
            self.objects(ctx).compose(
                doc["Id"], info, sources, move=True, condition=write_condition(upload.key, params)
            )
        except BlobMissing as exc:  # a part no longer whole: the object is left as it was
            part = next(p for p in chosen if exc.blob is None or p.stored == exc.blob)
            raise invalid_part(upload.upload_id, part.number, part.etag) from None
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
                raise InvalidPartOrder(
                    "The list of parts was not in ascending order. Parts must be ordered by part number.",
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
                raise EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed size",
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
            if algorithm not in CHECKSUMS or any(member not in p.checksums for p in chosen):
                return {}
            joined = b"".join(base64.b64decode(p.checksums[member]) for p in chosen)
            return {member: f"{CHECKSUMS[algorithm](joined)}-{len(chosen)}"}
        sent = params.get(member)
        if algorithm == "CRC32":
            crc = 0
            for part in chosen:
                try:
                    for chunk in self.uploads(ctx).part_bytes(part):
                        crc = zlib.crc32(chunk, crc)
                except BlobMissing:
                    raise invalid_part(upload.upload_id, part.number, part.etag) from None
            computed = b64(crc.to_bytes(4, "big"))
            if sent is not None and sent != computed:
                raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
            return {member: computed}
        return {member: sent} if sent is not None else {}

    @operation(
        "s3:AbortMultipartUpload",
        object_resource,
        resource_account,
        resource_policy=bucket_policy,
        unsupported=unsupported.refused("IfMatchInitiatedTime"),  # directory buckets,
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
        object_resource,
        resource_account,
        resource_policy=bucket_policy,
        unsupported=unsupported.refused(*unsupported.SSE_C),
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
        "s3:ListBucketMultipartUploads", bucket_resource, resource_account, resource_policy=bucket_policy
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
            "KeyMarker": url_encoded(key_marker, encode),
            "UploadIdMarker": id_marker or "",
            "NextKeyMarker": url_encoded(last.key, encode) if last is not None else None,
            "NextUploadIdMarker": last.upload_id if last is not None else None,
            "Prefix": url_encoded(prefix, encode),
            "Delimiter": url_encoded(params.get("Delimiter"), encode),
            "MaxUploads": max_uploads,
            "IsTruncated": truncated,
            "Uploads": [
                {
                    "UploadId": u.upload_id,
                    "Key": url_encoded(u.key, encode),
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
            "CommonPrefixes": [{"Prefix": url_encoded(p, encode)} for p in prefixes] or None,
            "EncodingType": params.get("EncodingType"),
        }
