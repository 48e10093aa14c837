"""S3 multipart uploads in progress, on disk beside their bucket's objects.

Layout, inside a bucket's directory (rolecall.services.s3.storage.objects; dot-names are invisible to object listings
and to the bucket-empty check, and go when the bucket does):

    .uploads/<upload id>/upload        the upload's description (key, initiator, content type, metadata, ...)
    .uploads/<upload id>/<part number> one file per part: a header line (size, ETag, checksums) then the bytes
    .uploads/.gone-<random>            an upload being removed (completed or aborted)

Every file is written with s3_objects.write_atomically, so a part is either the old bytes or the new ones. An
upload disappears in one rename (to a .gone- name) before its files are deleted, so a crash while removing it
never leaves half an upload visible. Completing assembles the object from the part files in chunks (memory
stays bounded whatever the object's size) into a temporary file that replaces the object atomically; the upload
is removed only after that, so a crash mid-complete leaves the old object and the upload intact (and a retried
CompleteMultipartUpload finishes the job).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolecall.services.s3.storage.objects import key_order, write_atomically

UPLOADS_DIR = ".uploads"
UPLOAD_FILE = "upload"
PART_MAGIC = b"rolecall-s3-part/1 "
CHUNK = 1024 * 1024
_MAX_HEADER = 64 * 1024


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

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> UploadInfo:
        return cls(**json.loads(raw))


@dataclass
class PartInfo:
    number: int
    size: int
    etag: str  # quoted
    last_modified: float
    checksums: dict[str, str] = field(default_factory=dict)  # "ChecksumCRC32" -> base64
    body_offset: int = 0  # where the bytes start in the part's file (not stored)

    def to_header(self) -> bytes:
        doc = {
            "PartNumber": self.number,
            "Size": self.size,
            "ETag": self.etag,
            "LastModified": self.last_modified,
            "Checksums": self.checksums,
        }
        return PART_MAGIC + json.dumps(doc, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_header(cls, line: bytes) -> PartInfo:
        doc = json.loads(line[len(PART_MAGIC) :])
        return cls(
            number=doc["PartNumber"],
            size=doc["Size"],
            etag=doc["ETag"],
            last_modified=doc["LastModified"],
            checksums=doc.get("Checksums") or {},
            body_offset=len(line),
        )


def new_upload_id() -> str:
    return secrets.token_hex(32)


def _read_part_header(f: Any) -> PartInfo | None:
    line = f.readline(_MAX_HEADER)
    if not line.startswith(PART_MAGIC) or not line.endswith(b"\n"):
        return None
    try:
        return PartInfo.from_header(line)
    except (ValueError, KeyError):
        return None


class UploadStore:
    """The multipart uploads of every bucket, under the same root as rolecall.services.s3.storage.objects.ObjectStore."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _uploads_dir(self, bucket_id: str) -> Path:
        if not bucket_id or not all(c in "0123456789abcdef" for c in bucket_id):
            raise ValueError(f"not a bucket id: {bucket_id!r}")
        return self.root / bucket_id / UPLOADS_DIR

    def _upload_dir(self, bucket_id: str, upload_id: str) -> Path | None:
        """The upload's directory, or None for an id that cannot be one of ours (never a path outside)."""
        if len(upload_id) != 64 or not all(c in "0123456789abcdef" for c in upload_id):
            return None
        return self._uploads_dir(bucket_id) / upload_id

    # -- uploads -----------------------------------------------------------------------------------------

    def create(self, bucket_id: str, upload: UploadInfo) -> None:
        path = self._upload_dir(bucket_id, upload.upload_id)
        assert path is not None
        path.mkdir(parents=True, mode=0o700)
        write_atomically(path / UPLOAD_FILE, (upload.to_json(),))

    def load(self, bucket_id: str, upload_id: str) -> UploadInfo | None:
        path = self._upload_dir(bucket_id, upload_id)
        if path is None:
            return None
        try:
            return UploadInfo.from_json((path / UPLOAD_FILE).read_bytes())
        except (FileNotFoundError, NotADirectoryError, ValueError, TypeError):
            return None

    def uploads(self, bucket_id: str) -> list[UploadInfo]:
        """Every upload in progress in a bucket, by key (S3's order) then by time initiated."""
        found = []
        try:
            entries = list(os.scandir(self._uploads_dir(bucket_id)))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            upload = self.load(bucket_id, entry.name)
            if upload is not None:
                found.append(upload)
        found.sort(key=lambda u: (key_order(u.key), u.initiated, u.upload_id))
        return found

    def discard(self, bucket_id: str, upload_id: str) -> bool:
        """Remove an upload and its parts; False when there was none. One rename makes it vanish at once."""
        path = self._upload_dir(bucket_id, upload_id)
        if path is None:
            return False
        gone = path.parent / f".gone-{secrets.token_hex(8)}"
        try:
            os.rename(path, gone)
        except (FileNotFoundError, NotADirectoryError):
            return False
        shutil.rmtree(gone, ignore_errors=True)
        return True

    # -- parts -------------------------------------------------------------------------------------------

    def put_part(self, bucket_id: str, upload_id: str, part: PartInfo, body: bytes) -> bool:
        """Store a part (replacing one of the same number); False when the upload is gone."""
        path = self._upload_dir(bucket_id, upload_id)
        if path is None:
            return False
        try:
            write_atomically(path / str(part.number), (part.to_header(), body))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def parts(self, bucket_id: str, upload_id: str) -> dict[int, PartInfo]:
        """The parts uploaded so far, by part number."""
        path = self._upload_dir(bucket_id, upload_id)
        found: dict[int, PartInfo] = {}
        if path is None:
            return found
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            return found
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(entry.path, "rb") as f:
                    part = _read_part_header(f)
            except FileNotFoundError:
                continue
            if part is not None:
                found[part.number] = part
        return found

    def part_bytes(self, bucket_id: str, upload_id: str, number: int, etag: str) -> Iterator[bytes]:
        """A part's bytes in chunks, from the file holding ETag `etag` (KeyError when it no longer does --
        a part replaced after the caller looked at it)."""
        path = self._upload_dir(bucket_id, upload_id)
        if path is None:
            raise KeyError(number)
        try:
            f = open(path / str(number), "rb")  # noqa: SIM115
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(number) from None
        with f:
            part = _read_part_header(f)
            if part is None or part.etag != etag:
                raise KeyError(number)
            left = part.size
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise KeyError(number)  # truncated: never build an object from it
                left -= len(chunk)
                yield chunk
