"""Lambda function code: each uploaded .zip kept in the store, and unpacked on a node's disk on first use.

Packages (CodeStore) are blobs of the store (rolecall.store.blobs) in space "lambda:ACCOUNT/REGION/FUNCTION",
named by their sha256 hex, written in the transaction that creates or updates the function: nodes sharing a
database share every function's code, and a failed CreateFunction leaves none behind.

A function runs from its unpacked code on local disk (CodeCache): CACHE/ACCOUNT/REGION/FUNCTION/<sha256 hex>/,
the tree an invocation runs in (LAMBDA_TASK_ROOT). A node that lacks it (it never saw the upload, or its
cache was cleared) fetches the package from the store, checks its sha256, and unpacks it. The tree is
unpacked under a temporary name and renamed into place, so a crash never leaves a half-unpacked tree, and
two invocations unpacking the same code at once both end up with one complete copy. It is made read-only,
as /var/task is in Lambda: a function cannot change its own code between invocations.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from rolecall.store import BlobMissing, Store, Tx

MAX_UNZIPPED_BYTES = 262_144_000  # Lambda's limit on a function's unpacked deployment package
PACKAGE_SPACE_PREFIX = "lambda:"


class BadZip(ValueError):
    """The upload is not a usable .zip (Lambda's "Could not unzip uploaded file")."""


@dataclass(frozen=True)
class CodeInfo:
    sha256_hex: str
    sha256_b64: str  # CodeSha256 as Lambda reports it
    size: int  # CodeSize: bytes of the .zip


def inspect_zip(data: bytes) -> CodeInfo:
    """Check an uploaded package the way Lambda does before accepting it; BadZip if it is unusable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = 0
            for entry in archive.infolist():
                _safe_member_path(entry.filename)
                total += entry.file_size
            if archive.testzip() is not None:
                raise BadZip("corrupt member")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise BadZip(str(exc)) from None
    if total > MAX_UNZIPPED_BYTES:
        raise BadZip(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
    digest = hashlib.sha256(data)
    return CodeInfo(digest.hexdigest(), base64.b64encode(digest.digest()).decode(), len(data))


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise BadZip(f"unsafe path in archive: {name!r}")
    return path


def package_space(account: str, region: str, name: str) -> str:
    return f"{PACKAGE_SPACE_PREFIX}{account}/{region}/{name}"


class PackageMissing(LookupError):
    """The store no longer holds the package (the function's code was updated or deleted meanwhile)."""


class CodeStore:
    """Function packages in the store, read and written in one request's transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def save(self, account: str, region: str, name: str, data: bytes, info: CodeInfo) -> None:
        """Keep the package (a second save of the same bytes is a no-op)."""
        where = package_space(account, region, name)
        if self.tx.blob(where, info.sha256_hex) is None:
            self.tx.put_blob(where, info.sha256_hex, {}, (data,))

    def prune(self, account: str, region: str, name: str, keep_sha256_hex: str) -> None:
        """Drop packages of earlier code versions (UpdateFunctionCode)."""
        where = package_space(account, region, name)
        for blob in list(self.tx.blobs(where)):
            if blob.name != keep_sha256_hex:
                self.tx.delete_blob(where, blob.name)

    def delete(self, account: str, region: str, name: str) -> None:
        self.tx.delete_blobs(package_space(account, region, name))


class CodeCache:
    """This node's unpacked code, under `root`, filled from the store on demand."""

    def __init__(self, root: str | os.PathLike[str], store: Store) -> None:
        self.root = Path(root)
        self.store = store

    def function_dir(self, account: str, region: str, name: str) -> Path:
        return self.root / account / region / name

    def task_root(self, account: str, region: str, name: str, sha256_hex: str) -> Path:
        """The unpacked code of one package version, fetched from the store and unpacked first if this node
        does not have it yet; PackageMissing if the store no longer holds it."""
        folder = self.function_dir(account, region, name)
        target = folder / sha256_hex
        if target.is_dir():
            return target
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, package = tempfile.mkstemp(dir=folder, prefix=".fetch-", suffix=".zip")
        temp: Path | None = None
        try:
            with os.fdopen(fd, "wb") as out:
                self._fetch(package_space(account, region, name), sha256_hex, out)
            temp = Path(tempfile.mkdtemp(dir=folder, prefix=".unpack-"))
            with zipfile.ZipFile(package) as archive:
                for entry in archive.infolist():
                    _safe_member_path(entry.filename)
                archive.extractall(temp)
            _make_read_only(temp)
            try:
                os.rename(temp, target)
            except OSError:  # another invocation finished first: use its copy
                if not target.is_dir():
                    raise
                remove_tree(temp)
        except BaseException:
            if temp is not None and temp.exists():
                remove_tree(temp)
            raise
        finally:
            _unlink(package)
        self.forget(account, region, name, keep=sha256_hex)  # earlier versions of this function's code
        return target

    def _fetch(self, where: str, sha256_hex: str, out: BinaryIO) -> None:
        """Copy a package from the store into `out` a chunk at a time, checking it is the one named."""
        with self.store.read_transaction() as tx:
            blob = tx.blob(where, sha256_hex)
        if blob is None:
            raise PackageMissing(f"no package {sha256_hex} in {where}")
        digest = hashlib.sha256()
        try:
            for chunk in self.store.blob_stream(blob.id, 0, blob.size):
                digest.update(chunk)
                out.write(chunk)
        except BlobMissing:
            raise PackageMissing(f"package {sha256_hex} of {where} was removed while it was read") from None
        if digest.hexdigest() != sha256_hex:
            raise PackageMissing(f"the package stored as {sha256_hex} in {where} has another sha256")

    def forget(self, account: str, region: str, name: str, keep: str | None = None) -> None:
        """Drop this node's unpacked trees of a function (all of them, or all but version `keep`)."""
        folder = self.function_dir(account, region, name)
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            if entry.name == keep or entry.name.startswith("."):
                continue
            if entry.is_dir():
                remove_tree(entry)
            else:
                _unlink(entry)
        if keep is None:
            try:
                folder.rmdir()
            except OSError:  # an unpacking in progress
                pass


def _make_read_only(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            mode = os.stat(path).st_mode
            os.chmod(path, (mode | stat.S_IRUSR) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        for dirname in dirnames:
            os.chmod(os.path.join(dirpath, dirname), 0o555)
    os.chmod(root, 0o555)


def remove_tree(root: Path) -> None:
    """rmtree for the read-only trees above: give write permission back where a removal needs it."""

    def retry(func: Any, path: str, _exc_info: Any) -> None:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)

    if root.is_dir():
        os.chmod(root, 0o700)
    shutil.rmtree(root, onerror=retry)


def _unlink(path: str | os.PathLike[str]) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
