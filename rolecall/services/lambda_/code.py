"""Lambda function code on disk: each uploaded .zip kept under the data dir, and unpacked on first use.

Layout: DATA_DIR/lambda/ACCOUNT/REGION/FUNCTION/<sha256 hex>.zip, and beside it the unpacked tree
<sha256 hex>/ that an invocation runs in (LAMBDA_TASK_ROOT). Both are written to a temporary name and
renamed into place, so a crash never leaves a torn zip or a half-unpacked tree, and two invocations
unpacking the same code at once both end up with one complete copy. The unpacked tree is made read-only,
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
from typing import Any

MAX_UNZIPPED_BYTES = 262_144_000  # Lambda's limit on a function's unpacked deployment package


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


class CodeStore:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir) / "lambda"

    def function_dir(self, account: str, region: str, name: str) -> Path:
        return self.root / account / region / name

    def save(self, account: str, region: str, name: str, data: bytes, info: CodeInfo) -> None:
        """Keep the package (atomically; a second save of the same bytes is a no-op)."""
        folder = self.function_dir(account, region, name)
        target = folder / f"{info.sha256_hex}.zip"
        if target.exists():
            return
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            _unlink(temp)
            raise

    def task_root(self, account: str, region: str, name: str, sha256_hex: str) -> Path:
        """The unpacked code of one package version, unpacking it first if needed."""
        folder = self.function_dir(account, region, name)
        target = folder / sha256_hex
        if target.is_dir():
            return target
        package = folder / f"{sha256_hex}.zip"
        temp = Path(tempfile.mkdtemp(dir=folder, prefix=".unpack-"))
        try:
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
            if temp.exists():
                remove_tree(temp)
            raise
        return target

    def prune(self, account: str, region: str, name: str, keep_sha256_hex: str) -> None:
        """Drop packages and trees of earlier code versions (after UpdateFunctionCode)."""
        folder = self.function_dir(account, region, name)
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            if entry.name.startswith(keep_sha256_hex) or entry.name.startswith("."):
                continue
            if entry.is_dir():
                remove_tree(entry)
            else:
                _unlink(entry)

    def delete(self, account: str, region: str, name: str) -> None:
        folder = self.function_dir(account, region, name)
        if folder.exists():
            remove_tree(folder)


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
