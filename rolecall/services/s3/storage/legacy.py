"""Objects and multipart uploads that rolecall before schema version 4 kept as files under the data dir, moved
into the store when the server starts (so an upgraded data dir serves them as before, and nothing reads the
old files afterwards).

The old layout, under DATA_DIR/s3/<bucket id>/ (the id kept in the bucket's record):

    <sha256 of the key>                  an object: a header line (LEGACY_MAGIC, then its description as JSON:
                                         Key, Size, ETag, ...) followed by its bytes
    .tmp-*                               a write that never finished (ignored)
    .uploads/<upload id>/upload          a multipart upload's description (JSON)
    .uploads/<upload id>/<part number>   a part: a header line (PART_MAGIC, then JSON) followed by its bytes

Each object is imported in a transaction of its own, streamed from its file, and only where its key holds
nothing yet (what is already in the store is newer: a node that imported it first, or a write since); then
its file is removed. A bucket's directory goes once everything in it is imported, and the directory of a
bucket that no longer exists goes whole (nothing could reach its files). Several processes starting at
once on one data dir (`--workers N`) each import what they find first; the others skip it. A file that cannot
be read as an object or part stays where it is, with a warning naming it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from rolecall.services.s3.limits import BUCKET_KIND
from rolecall.services.s3.storage.objects import ObjectInfo, space
from rolecall.services.s3.storage.uploads import PartInfo, UploadInfo, part_name, parts_space, uploads_space
from rolecall.store import GLOBAL, Blob, Store

log = logging.getLogger("rolecall.s3")

LEGACY_MAGIC = b"rolecall-s3-object/1 "
PART_MAGIC = b"rolecall-s3-part/1 "
UPLOADS_DIR = ".uploads"
_MAX_HEADER = 64 * 1024
_READ = 1024 * 1024


class _Present(Exception):
    """The store already holds the name being imported."""


def _absent(current: Blob | None) -> None:
    if current is not None:
        raise _Present


def _header(f: BinaryIO, magic: bytes) -> dict[str, Any] | None:
    line = f.readline(_MAX_HEADER)
    if not line.startswith(magic) or not line.endswith(b"\n"):
        return None
    try:
        doc = json.loads(line[len(magic) :])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _body(f: BinaryIO, size: int, path: Path) -> Iterator[bytes]:
    """The `size` bytes after the header, in pieces; ValueError if the file holds fewer."""
    left = size
    while left > 0:
        piece = f.read(min(_READ, left))
        if not piece:
            raise ValueError(f"{path} ends {left} bytes short")
        left -= len(piece)
        yield piece


def import_legacy_files(store: Store, root: Path) -> int:
    """Move the objects and uploads under `root` (DATA_DIR/s3) into `store`; returns how many objects went in."""
    if not root.is_dir():
        return 0
    with store.read_transaction() as tx:
        live = {doc["Id"] for doc in tx.list(GLOBAL, BUCKET_KIND)}
    imported = 0
    try:
        bucket_dirs = sorted(root.iterdir())
    except FileNotFoundError:  # another process starting on this data dir (--workers) was quicker
        return 0
    for bucket_dir in bucket_dirs:
        if not bucket_dir.is_dir():
            continue
        if bucket_dir.name not in live:
            log.info("removing %s: the files of a deleted bucket", bucket_dir)
            shutil.rmtree(bucket_dir, ignore_errors=True)
            continue
        try:
            imported += _import_bucket(store, bucket_dir)
        except FileNotFoundError:  # as above
            continue
    try:
        root.rmdir()
    except OSError:  # something could not be imported (and was named in a warning), or another process's
        pass
    if imported:
        log.warning("moved %d S3 objects from %s into the store", imported, root)
    return imported


def _import_bucket(store: Store, bucket_dir: Path) -> int:
    imported = 0
    kept = False  # something could not be imported: the directory stays, with it
    for entry in sorted(bucket_dir.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        try:
            imported += _import_object(store, bucket_dir.name, entry)
        except FileNotFoundError:  # another process imported it first
            continue
        except ValueError as exc:
            log.warning("left %s in place: not a readable S3 object (%s)", entry, exc)
            kept = True
            continue
        entry.unlink(missing_ok=True)
    uploads = bucket_dir / UPLOADS_DIR
    if uploads.is_dir():
        for upload_dir in sorted(uploads.iterdir()):
            if upload_dir.name.startswith(".") or not upload_dir.is_dir():
                continue
            try:
                _import_upload(store, bucket_dir.name, upload_dir)
            except FileNotFoundError:
                continue
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("left %s in place: not a readable multipart upload (%s)", upload_dir, exc)
                kept = True
                continue
            shutil.rmtree(upload_dir, ignore_errors=True)
    if not kept:
        shutil.rmtree(bucket_dir, ignore_errors=True)
        return imported
    # What no reader ever saw goes even so: unfinished writes (.tmp-*), uploads being removed (.gone-*).
    for leftover in [*bucket_dir.glob(".tmp-*"), *uploads.glob(".gone-*")]:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    try:
        uploads.rmdir()
    except OSError:  # missing, or holding an upload that could not be imported
        pass
    return imported


def _import_object(store: Store, bucket_id: str, path: Path) -> int:
    with open(path, "rb") as f:
        doc = _header(f, LEGACY_MAGIC)
        if doc is None or not isinstance(doc.get("Key"), str) or not isinstance(doc.get("Size"), int):
            raise ValueError("no object header")
        info = ObjectInfo.from_meta(doc["Key"], doc["Size"], doc)
        try:
            with store.transaction() as tx:
                tx.put_blob(
                    space(bucket_id), info.key, info.to_meta(), _body(f, info.size, path), check=_absent
                )
        except _Present:
            return 0
    return 1


def _import_upload(store: Store, bucket_id: str, upload_dir: Path) -> None:
    upload = UploadInfo.from_meta(json.loads((upload_dir / "upload").read_bytes()))
    try:
        with store.transaction() as tx:
            tx.put_blob(uploads_space(bucket_id), upload.upload_id, upload.to_meta(), (), check=_absent)
            for entry in sorted(upload_dir.iterdir()):
                if not entry.name.isdigit():
                    continue
                with open(entry, "rb") as f:
                    doc = _header(f, PART_MAGIC)
                    if doc is None:
                        raise ValueError(f"{entry}: no part header")
                    part = PartInfo(
                        number=doc["PartNumber"],
                        size=doc["Size"],
                        etag=doc["ETag"],
                        last_modified=doc["LastModified"],
                        checksums=doc.get("Checksums") or {},
                    )
                    name = part_name(upload.upload_id, part.number)
                    tx.put_blob(parts_space(bucket_id), name, part.to_meta(), _body(f, part.size, entry))
    except _Present:
        return
