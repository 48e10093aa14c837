"""Object checksums and ETags: what S3 computes, verifies and keeps."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Any

from rolecall.services.s3.errors import BadDigest, InvalidDigest


def md5_etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


# Checksums S3 verifies and keeps, by algorithm; CRC32C and CRC64NVME are kept as sent (no local implementation).
CHECKSUMS = {
    "CRC32": lambda body: b64(zlib.crc32(body).to_bytes(4, "big")),
    "SHA1": lambda body: b64(hashlib.sha1(body, usedforsecurity=False).digest()),
    "SHA256": lambda body: b64(hashlib.sha256(body).digest()),
    "SHA512": lambda body: b64(hashlib.sha512(body).digest()),
}
_KEPT_CHECKSUMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512")


def verified_checksums(params: dict[str, Any], body: bytes) -> dict[str, str]:
    """The x-amz-checksum-* values sent with a body, each checked (BadDigest), as output members."""
    kept: dict[str, str] = {}
    content_md5 = params.get("ContentMD5")
    if content_md5 is not None:
        try:
            digest = base64.b64decode(content_md5, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != 16:
            raise InvalidDigest("The Content-MD5 you specified was invalid.")
        if digest != hashlib.md5(body, usedforsecurity=False).digest():
            raise BadDigest(
                "The Content-MD5 you specified did not match what we received.",
                ExpectedDigest=content_md5,
                CalculatedDigest=b64(hashlib.md5(body, usedforsecurity=False).digest()),
            )
    for algorithm in _KEPT_CHECKSUMS:
        sent = params.get(f"Checksum{algorithm}")
        if sent is None:
            continue
        compute = CHECKSUMS.get(algorithm)
        if compute is not None and compute(body) != sent:
            raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
        kept[f"Checksum{algorithm}"] = sent
    return kept
