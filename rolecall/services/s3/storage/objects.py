"""S3 object bodies on disk, each written atomically: no reader, and no restart after a crash, sees a torn object.

Layout, under the server's --data-dir (also when the store is PostgreSQL: nodes sharing a database must then
share this directory too):

    <data dir>/s3/<bucket id>/<sha256 of the key>      one file per object
    <data dir>/s3/<bucket id>/.tmp-<random>            an upload in progress (or left by a crash)

An object file is a header line -- MAGIC, then the object's description as one line of JSON (key, size, ETag,
last-modified time, content type, user metadata, checksums) -- followed by the body, so the description and the
bytes are replaced together. A write goes to a temporary file in the same directory, is flushed and fsynced,
renamed over the object's name with os.replace (atomic), and the directory is fsynced so the rename itself
survives a power cut. After a crash a name holds the old object or the new one, never a mix; a leftover
temporary file is invisible to reads and listings and goes when its bucket does.

A bucket's directory is named by an id kept in the bucket's record, not by its name, so a bucket deleted and
created again never sees the old one's files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAGIC = b"rolecall-s3-object/1 "
TEMP_PREFIX = ".tmp-"
_MAX_HEADER = 64 * 1024  # a key is at most 1024 bytes and user metadata 2 KB; this is generous


@dataclass
class ObjectInfo:
    """An object's description, as stored in its file's header."""

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
    body_offset: int = 0  # where the body starts in the file (not stored)

    def to_header(self) -> bytes:
        doc = {
            "Key": self.key,
            "Size": self.size,
            "ETag": self.etag,
            "LastModified": self.last_modified,
            "ContentType": self.content_type,
            "Metadata": self.metadata,
            "Headers": self.headers,
            "Checksums": self.checksums,
            "StorageClass": self.storage_class,
            "ChecksumType": self.checksum_type,
        }
        # ensure_ascii keeps the line free of raw newlines whatever the key holds.
        return MAGIC + json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"

    @classmethod
    def from_header(cls, line: bytes) -> ObjectInfo:
        doc = json.loads(line[len(MAGIC) :])
        return cls(
            key=doc["Key"],
            size=doc["Size"],
            etag=doc["ETag"],
            last_modified=doc["LastModified"],
            content_type=doc.get("ContentType") or "binary/octet-stream",
            metadata=doc.get("Metadata") or {},
            headers=doc.get("Headers") or {},
            checksums=doc.get("Checksums") or {},
            storage_class=doc.get("StorageClass") or "STANDARD",
            checksum_type=doc.get("ChecksumType") or "FULL_OBJECT",
            body_offset=len(line),
        )


def key_order(key: str) -> bytes:
    """S3 lists keys in the order of their UTF-8 bytes."""
    return key.encode("utf-8", "surrogatepass")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows); the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` as the whole new content of `path`: readers see the old file or the complete new one.

    If writing fails part-way (an exception from `chunks`, a full disk) the temporary file is removed and
    `path` is untouched; if the process dies part-way, only a temporary file (".tmp-*") is left.
    """
    temp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            temp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


class ObjectStore:
    """The object files of every bucket, under one root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _bucket_dir(self, bucket_id: str) -> Path:
        if not bucket_id or not all(c in "0123456789abcdef" for c in bucket_id):
            raise ValueError(f"not a bucket id: {bucket_id!r}")
        return self.root / bucket_id

    def _path(self, bucket_id: str, key: str) -> Path:
        return self._bucket_dir(bucket_id) / hashlib.sha256(key_order(key)).hexdigest()

    # -- buckets -----------------------------------------------------------------------------------------

    def create_bucket(self, bucket_id: str) -> None:
        path = self._bucket_dir(bucket_id)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        _fsync_dir(path.parent)

    def drop_bucket(self, bucket_id: str) -> None:
        shutil.rmtree(self._bucket_dir(bucket_id), ignore_errors=True)

    def is_empty(self, bucket_id: str) -> bool:
        path = self._bucket_dir(bucket_id)
        try:
            with os.scandir(path) as entries:
                return not any(not e.name.startswith(".") for e in entries)
        except FileNotFoundError:
            return True

    # -- objects -----------------------------------------------------------------------------------------

    def put(self, bucket_id: str, info: ObjectInfo, body: bytes) -> None:
        """Store `body` as the object info.key describes (replacing any object of that key)."""
        self.put_chunks(bucket_id, info, (body,))

    def put_chunks(self, bucket_id: str, info: ObjectInfo, chunks: Iterable[bytes]) -> None:
        """Store the object of info.key from `chunks` (info.size bytes in all), written as they come; an
        exception from `chunks` leaves the previous object in place."""
        path = self._path(bucket_id, info.key)
        if not path.parent.is_dir():  # a bucket whose directory went missing is an empty bucket
            self.create_bucket(bucket_id)
        write_atomically(path, itertools.chain((info.to_header(),), chunks))

    def head(self, bucket_id: str, key: str) -> ObjectInfo | None:
        found = self.get(bucket_id, key, lambda info: None)
        return None if found is None else found[0]

    def get(
        self, bucket_id: str, key: str, span: Callable[[ObjectInfo], tuple[int, int] | None]
    ) -> tuple[ObjectInfo, bytes] | None:
        """(description, bytes [start, end) chosen by `span` from the description), or None when there is no
        such object. Description and bytes come from one open file, so a concurrent replace cannot mix them."""
        try:
            f = open(self._path(bucket_id, key), "rb")  # noqa: SIM115
        except (FileNotFoundError, NotADirectoryError):
            return None
        with f:
            info = self._read_header(f)
            if info is None or info.key != key:
                return None
            wanted = span(info)
            if wanted is None:
                return info, b""
            start, end = wanted
            f.seek(info.body_offset + start)
            return info, f.read(max(0, end - start))

    def delete(self, bucket_id: str, key: str) -> bool:
        path = self._path(bucket_id, key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return False
        _fsync_dir(path.parent)
        return True

    def list(self, bucket_id: str) -> list[ObjectInfo]:
        """Every object of a bucket, in S3's key order."""
        found: list[ObjectInfo] = []
        try:
            entries = list(os.scandir(self._bucket_dir(bucket_id)))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                with open(entry.path, "rb") as f:
                    info = self._read_header(f)
            except FileNotFoundError:  # deleted while we listed
                continue
            if info is not None:
                found.append(info)
        found.sort(key=lambda info: key_order(info.key))
        return found

    @staticmethod
    def _read_header(f: Any) -> ObjectInfo | None:
        line = f.readline(_MAX_HEADER)
        if not line.startswith(MAGIC) or not line.endswith(b"\n"):
            return None
        try:
            return ObjectInfo.from_header(line)
        except (ValueError, KeyError):
            return None
