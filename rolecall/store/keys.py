"""The master key that seals secrets at rest: from the environment, or generated once and kept.

ROLECALL_MASTER_KEY accepts, in this order:
  * 64 hexadecimal digits (32 bytes);
  * base64 (standard or URL-safe alphabet) of exactly 32 bytes;
  * anything else, taken as a passphrase: the key is its SHA-256 digest. That keeps "any string works
    the same on every node" simple; a low-entropy passphrase gives a weak key, which is the operator's
    choice to make for a local tool.
An empty value counts as unset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets

ENV_VAR = "ROLECALL_MASTER_KEY"
KEY_BYTES = 32
KEY_FILE = "master.key"


def key_from_env() -> bytes | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return parse_key(value) if value else None


def parse_key(value: str) -> bytes:
    if len(value) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    for altchars in (None, b"-_"):
        try:
            raw = base64.b64decode(value.encode("ascii"), altchars=altchars, validate=True)
        except (UnicodeError, binascii.Error, ValueError):
            continue
        if len(raw) == KEY_BYTES:
            return raw
    return hashlib.sha256(value.encode("utf-8")).digest()


def new_key_text() -> str:
    """A fresh key in its stored form: base64, one line."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def decode_stored(text: str, where: str) -> bytes:
    """A stored key; refuses anything malformed rather than replacing it, since a new key would make
    every sealed secret unreadable."""
    try:
        raw = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (UnicodeError, binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise RuntimeError(
            f"the master key in {where} is not base64 of {KEY_BYTES} bytes; refusing to replace it"
        )
    return raw


def file_key(data_dir: str) -> bytes:
    """The key in DATA_DIR/master.key, created (mode 0600) when missing.

    The new key is written and fsynced under a private temporary name, then hard-linked into place:
    link() fails if the name exists, so when several processes race exactly one key wins, and nobody
    can ever read a half-written file. The losers read the winner's key.
    """
    path = os.path.join(data_dir, KEY_FILE)
    if not os.path.exists(path):
        temp = os.path.join(data_dir, f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (new_key_text() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
            _fsync_dir(data_dir)
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
    with open(path, encoding="ascii") as f:
        return decode_stored(f.read(), path)


def _fsync_dir(path: str) -> None:
    """Make the new directory entry durable (POSIX only; Windows has no directory handles)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
