"""S3 objects, kept in the store's blob storage (rolecall.store.blobs): each object's bytes and description
are written in the request's transaction, together with its trail record, so nodes sharing a database share
every object, and no reader ever sees a torn one.

Layout: the objects of a bucket are the blobs of space "s3:<bucket id>", named by key; a blob's meta is the
object's description (ETag, last-modified time, content type, user metadata, stored headers, checksums). A
bucket's space is named by an id kept in the bucket's record, not by its name, so a bucket deleted and
created again never sees the old one's objects.

A GET reads the bytes it sends in its own (snapshot) transaction when they are few (INLINE_BODY); a larger
body is streamed to the client from the store after the transaction, a chunk at a time, so memory stays
bounded whatever the object's size (a concurrent overwrite then ends that response early, never mixes two
objects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rolecall.http import BodyStream
from rolecall.store import Blob, Store, Tx

SPACE_PREFIX = "s3:"
INLINE_BODY = 8 * 1024 * 1024  # a read of at most this many bytes is answered from its transaction

# A conditional write's check (rolecall.services.s3.conditions), made against the object it would replace.
WriteCondition = Callable[["ObjectInfo | None"], None]


@dataclass
class ObjectInfo:
    """An object's description."""

    key: str
    size: int
    etag: str  # quoted, as S3 returns it: "\"<md5 hex>\""
    last_modified: float  # epoch seconds
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-* (names lower-cased)
    headers: dict[str, str] = field(default_factory=dict)  # CacheControl, ContentDisposition, ... as members
    checksums: dict[str, str] = field(default_factory=dict)  # "ChecksumCRC32" -> base64, ...
    storage_class: str = "STANDARD"
    checksum_type: str = "FULL_OBJECT"  # COMPOSITE for a multipart object's checksum of part checksums
    blob: Blob | None = field(default=None, compare=False, repr=False)  # where its bytes are (once stored)

    def to_meta(self) -> dict[str, Any]:
        return {
            "ETag": self.etag,
            "LastModified": self.last_modified,
            "ContentType": self.content_type,
            "Metadata": self.metadata,
            "Headers": self.headers,
            "Checksums": self.checksums,
            "StorageClass": self.storage_class,
            "ChecksumType": self.checksum_type,
        }

    @classmethod
    def from_meta(cls, key: str, size: int, doc: dict[str, Any], blob: Blob | None = None) -> ObjectInfo:
        return cls(
            key=key,
            size=size,
            etag=doc["ETag"],
            last_modified=doc["LastModified"],
            content_type=doc.get("ContentType") or "binary/octet-stream",
            metadata=doc.get("Metadata") or {},
            headers=doc.get("Headers") or {},
            checksums=doc.get("Checksums") or {},
            storage_class=doc.get("StorageClass") or "STANDARD",
            checksum_type=doc.get("ChecksumType") or "FULL_OBJECT",
            blob=blob,
        )

    @classmethod
    def from_blob(cls, blob: Blob) -> ObjectInfo:
        return cls.from_meta(blob.name, blob.size, blob.meta, blob)


def key_order(key: str) -> bytes:
    """S3 lists keys in the order of their UTF-8 bytes (the store orders names the same way)."""
    return key.encode("utf-8", "surrogatepass")


def space(bucket_id: str) -> str:
    return SPACE_PREFIX + bucket_id


class ObjectStore:
    """The objects of every bucket, read and written in one request's transaction."""

    def __init__(self, tx: Tx, store: Store) -> None:
        self.tx = tx
        self.store = store

    # -- buckets -----------------------------------------------------------------------------------------

    def drop_bucket(self, bucket_id: str) -> None:
        self.tx.delete_blobs(space(bucket_id))

    def is_empty(self, bucket_id: str) -> bool:
        return next(self.tx.blobs(space(bucket_id)), None) is None

    # -- objects -----------------------------------------------------------------------------------------

    def put(
        self, bucket_id: str, info: ObjectInfo, body: bytes, condition: WriteCondition | None = None
    ) -> ObjectInfo:
        """Store `body` as the object info.key describes (replacing any object of that key)."""
        return self.put_chunks(bucket_id, info, (body,), condition)

    def put_chunks(
        self,
        bucket_id: str,
        info: ObjectInfo,
        chunks: Iterable[bytes],
        condition: WriteCondition | None = None,
    ) -> ObjectInfo:
        """Store the object of info.key from `chunks`, written as they come; `condition` is checked against the
        object it replaces under that object's lock, and refuses the write by raising."""
        blob = self.tx.put_blob(
            space(bucket_id), info.key, info.to_meta(), chunks, check=_blob_check(condition)
        )
        info.blob = blob
        return info

    def compose(
        self,
        bucket_id: str,
        info: ObjectInfo,
        sources: Sequence[Blob],
        *,
        move: bool,
        condition: WriteCondition | None = None,
    ) -> ObjectInfo:
        """Store the object of info.key as the concatenation of `sources` (objects or parts), copied or taken
        over inside the store (rolecall.store.base.Tx.compose_blob); BlobMissing if a source is not whole."""
        blob = self.tx.compose_blob(
            space(bucket_id), info.key, info.to_meta(), sources, move=move, check=_blob_check(condition)
        )
        info.blob = blob
        return info

    def head(self, bucket_id: str, key: str) -> ObjectInfo | None:
        blob = self.tx.blob(space(bucket_id), key)
        return None if blob is None else ObjectInfo.from_blob(blob)

    def get(
        self, bucket_id: str, key: str, span: Callable[[ObjectInfo], tuple[int, int] | None]
    ) -> tuple[ObjectInfo, bytes | BodyStream] | None:
        """(description, bytes [start, end) chosen by `span` from the description), or None when there is no
        such object. The bytes are those of the body described, whatever is written meanwhile."""
        info = self.head(bucket_id, key)
        if info is None:
            return None
        assert info.blob is not None
        wanted = span(info)
        if wanted is None:
            return info, b""
        start, end = wanted
        if end - start <= INLINE_BODY:
            return info, b"".join(self.tx.read_blob(info.blob, start, end))
        return info, BodyStream(end - start, self.store.blob_stream(info.blob.id, start, end))

    def delete(self, bucket_id: str, key: str) -> bool:
        return self.tx.delete_blob(space(bucket_id), key)

    def list(self, bucket_id: str, prefix: str = "", after: str | None = None) -> Iterator[ObjectInfo]:
        """The objects of a bucket whose keys start with `prefix` and come after `after`, in S3's key order,
        read from the store a page at a time as the iterator is consumed."""
        for blob in self.tx.blobs(space(bucket_id), prefix=prefix, after=after):
            yield ObjectInfo.from_blob(blob)


def _blob_check(condition: WriteCondition | None) -> Callable[[Blob | None], None] | None:
    if condition is None:
        return None
    return lambda current: condition(None if current is None else ObjectInfo.from_blob(current))
