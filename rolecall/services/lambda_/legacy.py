"""Function packages that rolecall before schema version 4 kept under the data dir, moved into the store when the
server starts.

The old layout: DATA_DIR/lambda/ACCOUNT/REGION/FUNCTION/<sha256 hex>.zip (the package), beside its unpacked
tree <sha256 hex>/. The package a function's record names (CodeSha256Hex) is imported, streamed from its file
and checked against its sha256, unless the store holds it already (another process imported it first); the
rest -- packages of deleted functions or of earlier code, unpacked trees -- was unreachable through the API
already and goes with the directory. The unpacked code now lives in the node's cache
(rolecall.services.lambda_.code.CodeCache), refilled from the store on first use.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rolecall.services.lambda_.code import package_space, remove_tree
from rolecall.services.lambda_.functions import KIND
from rolecall.store import Store

log = logging.getLogger("rolecall.lambda")

_READ = 1024 * 1024


class _Skip(Exception):
    """This package is not to be imported (see import_legacy_packages)."""


def import_legacy_packages(store: Store, root: Path) -> int:
    """Move the packages under `root` (DATA_DIR/lambda) into `store`; returns how many went in."""
    if not root.is_dir():
        return 0
    imported = 0
    for package in sorted(root.glob("*/*/*/*.zip")):
        account, region, name = package.parts[-4:-1]
        try:
            imported += _import(store, account, region, name, package)
        except FileNotFoundError:  # another process imported it and removed the directory
            continue
    try:
        remove_tree(root)
    except OSError:  # gone already (another process starting on this data dir), or not ours to remove:
        pass  # the next start tries again, importing nothing twice
    if imported:
        log.warning("moved %d Lambda function packages from %s into the store", imported, root)
    return imported


def _import(store: Store, account: str, region: str, name: str, package: Path) -> int:
    sha256_hex = package.name.removesuffix(".zip")
    where = package_space(account, region, name)
    digest = hashlib.sha256()

    def chunks(f: BinaryIO) -> Iterator[bytes]:
        while piece := f.read(_READ):
            digest.update(piece)
            yield piece

    try:
        with store.transaction() as tx, open(package, "rb") as f:
            doc = tx.get(account, KIND, f"{region}/{name}")
            if doc is None or doc["Configuration"]["FunctionName"] != name:
                raise _Skip  # the function is gone
            if doc.get("CodeSha256Hex") != sha256_hex or tx.blob(where, sha256_hex) is not None:
                raise _Skip  # earlier code, or imported already
            tx.put_blob(where, sha256_hex, {}, chunks(f))
            if digest.hexdigest() != sha256_hex:
                log.warning("left out %s: its content does not match its sha256", package)
                raise _Skip
    except _Skip:
        return 0
    return 1
