"""S3 multipart uploads in progress, in the store's blob storage beside their bucket's objects.

Layout (rolecall.store.blobs):

    space "s3-uploads:<bucket id>", name <upload id>              the upload's description (no body)
    space "s3-parts:<bucket id>",   name <upload id>/<part number>  a part: its bytes, size, ETag, checksums

Every write happens in the request's transaction, so a part is either the old bytes or the new ones and an
upload disappears at once with all its parts. Parts and completion lock the upload's record: UploadPart shares
it (parts of one upload go up in parallel), CompleteMultipartUpload takes it alone, so a completion sees a
fixed set of parts and a part cannot be added to an upload that completed or was aborted meanwhile (on
another node too). Completing takes the chosen parts' chunks over as the object's (no byte is copied), in the
same transaction that removes the upload; a failed completion leaves the old object and the upload as they
were.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rolecall.services.s3.storage.objects import key_order
from rolecall.store import Blob, Tx
from rolecall.store.base import BlobLock

UPLOADS_PREFIX = "s3-uploads:"
PARTS_PREFIX = "s3-parts:"


@dataclass
class UploadInfo:
    """A multipart upload's description, fixed when it is created."""

    upload_id: str
    key: str
    initiated: float
    initiator_arn: str
    owner_account: str
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None
    checksum_type: str | None = None

    def to_meta(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_meta(cls, doc: dict[str, Any]) -> UploadInfo:
        return cls(**doc)


@dataclass
class PartInfo:
    number: int
    size: int
    etag: str  # quoted
    last_modified: float
    checksums: dict[str, str] = field(default_factory=dict)  # "ChecksumCRC32" -> base64
    blob: Blob | None = field(default=None, compare=False, repr=False)  # where its bytes are (once stored)

    @property
    def stored(self) -> Blob:
        """Where its bytes are in the store (known for every part read from there)."""
        assert self.blob is not None
        return self.blob

    def to_meta(self) -> dict[str, Any]:
        return {"ETag": self.etag, "LastModified": self.last_modified, "Checksums": self.checksums}

    @classmethod
    def from_blob(cls, blob: Blob) -> PartInfo:
        return cls(
            number=int(blob.name.rsplit("/", 1)[1]),
            size=blob.size,
            etag=blob.meta["ETag"],
            last_modified=blob.meta["LastModified"],
            checksums=blob.meta.get("Checksums") or {},
            blob=blob,
        )


def new_upload_id() -> str:
    return secrets.token_hex(32)


def uploads_space(bucket_id: str) -> str:
    return UPLOADS_PREFIX + bucket_id


def parts_space(bucket_id: str) -> str:
    return PARTS_PREFIX + bucket_id


def part_name(upload_id: str, number: int) -> str:
    return f"{upload_id}/{number:05d}"  # zero-padded: the store lists a part's names in number order


class UploadStore:
    """The multipart uploads of every bucket, read and written in one request's transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # -- uploads -----------------------------------------------------------------------------------------

    def create(self, bucket_id: str, upload: UploadInfo) -> None:
        self.tx.put_blob(uploads_space(bucket_id), upload.upload_id, upload.to_meta(), ())

    def load(self, bucket_id: str, upload_id: str, lock: BlobLock | None = None) -> UploadInfo | None:
        """The upload, or None. lock="share" keeps it from completing or going away until the transaction ends
        (UploadPart); lock="update" also waits out, and then keeps out, every UploadPart (completion)."""
        blob = self.tx.blob(uploads_space(bucket_id), upload_id, lock=lock)
        return None if blob is None else UploadInfo.from_meta(blob.meta)

    def uploads(self, bucket_id: str) -> list[UploadInfo]:
        """Every upload in progress in a bucket, by key (S3's order) then by time initiated."""
        found = [UploadInfo.from_meta(blob.meta) for blob in self.tx.blobs(uploads_space(bucket_id))]
        found.sort(key=lambda u: (key_order(u.key), u.initiated, u.upload_id))
        return found

    def discard(self, bucket_id: str, upload_id: str) -> bool:
        """Remove an upload and its parts; False when there was none."""
        if not self.tx.delete_blob(uploads_space(bucket_id), upload_id):
            return False
        self.tx.delete_blobs(parts_space(bucket_id), prefix=f"{upload_id}/")
        return True

    def drop_bucket(self, bucket_id: str) -> None:
        """Every upload of a bucket and its parts. The records first: deleting one waits for the UploadParts
        that hold it, whose parts the second statement then sees."""
        self.tx.delete_blobs(uploads_space(bucket_id))
        self.tx.delete_blobs(parts_space(bucket_id))

    # -- parts -------------------------------------------------------------------------------------------

    def put_part(self, bucket_id: str, upload_id: str, part: PartInfo, body: bytes) -> PartInfo:
        """Store a part (replacing one of the same number). The caller holds the upload (load, lock="share")."""
        name = part_name(upload_id, part.number)
        part.blob = self.tx.put_blob(parts_space(bucket_id), name, part.to_meta(), (body,))
        return part

    def parts(self, bucket_id: str, upload_id: str) -> dict[int, PartInfo]:
        """The parts uploaded so far, by part number."""
        found = self.tx.blobs(parts_space(bucket_id), prefix=f"{upload_id}/")
        return {part.number: part for part in map(PartInfo.from_blob, found)}

    def part_bytes(self, part: PartInfo) -> Iterator[bytes]:
        """A part's bytes, a chunk at a time (BlobMissing if they are no longer all there)."""
        return self.tx.read_blob(part.stored)
