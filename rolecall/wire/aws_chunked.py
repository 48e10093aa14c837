"""aws-chunked request bodies: S3's streaming uploads, decoded and (when signed) verified chunk by chunk.

The x-amz-content-sha256 header names the form (the SigV4 signature covers that name, not the body):

  STREAMING-AWS4-HMAC-SHA256-PAYLOAD           <hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n ... 0;chunk-signature=<sig>\\r\\n\\r\\n
  STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER   the same, then trailing headers and x-amz-trailer-signature:<sig>
  STREAMING-UNSIGNED-PAYLOAD-TRAILER           <hex size>\\r\\n<data>\\r\\n ... 0\\r\\n, then trailing headers
                                               (what the SDKs send over HTTPS with a flexible checksum)

Each chunk signature is an HMAC with the request's signing key over
    AWS4-HMAC-SHA256-PAYLOAD \\n <x-amz-date> \\n <scope> \\n <previous signature> \\n sha256("") \\n sha256(chunk)
chained from the request's own (seed) signature; the trailer's over
    AWS4-HMAC-SHA256-TRAILER \\n <x-amz-date> \\n <scope> \\n <previous signature> \\n sha256(trailing headers)
where the trailing headers are "name:value\\n" each. A body that breaks any of this is refused whole.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from rolecall.errors import AwsError, SignatureDoesNotMatch

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
ECDSA = ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER")
FORMS = frozenset({SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER, *ECDSA})

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_MAX_LINE = 4096  # a chunk header or trailer line longer than this is not one any SDK writes

CHUNK_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def incomplete_body(message: str = "The request body terminated unexpectedly") -> AwsError:
    return AwsError(message, code="IncompleteBody", status=400)


@dataclass(frozen=True)
class ChunkSigner:
    """What chunk signatures are computed from: the request's signing key, time, scope and seed signature."""

    key: bytes
    amz_date: str
    scope: str
    seed: str

    def chunk(self, previous: str, data: bytes) -> str:
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                self.amz_date,
                self.scope,
                previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            )
        )
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def trailer(self, previous: str, canonical_trailers: bytes) -> str:
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                self.amz_date,
                self.scope,
                previous,
                hashlib.sha256(canonical_trailers).hexdigest(),
            )
        )
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def decode(body: bytes, form: str, signer: ChunkSigner | None = None) -> tuple[bytes, dict[str, str]]:
    """(payload, trailing headers) of an aws-chunked body.

    With a signer, the chunk (and trailer) signatures of the signed forms are verified; without one (the
    server runs with --auth off) they are read and ignored. Raises AwsError on any malformed body.
    """
    if form in ECDSA:
        raise AwsError(
            "SigV4a streaming uploads are not supported by rolecall.", code="NotImplemented", status=501
        )
    if form not in FORMS:
        raise AwsError(f"Unknown streaming payload form {form}", code="InvalidArgument", status=400)
    signed = form in (SIGNED, SIGNED_TRAILER)
    previous = signer.seed if signer else ""
    pieces: list[bytes] = []
    pos = 0
    while True:
        line, pos = _line(body, pos)
        size_text, _, extension = line.partition(b";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise incomplete_body("The chunk size is not a hexadecimal number") from None
        if size < 0 or pos + size > len(body):
            raise incomplete_body()
        data = body[pos : pos + size]
        pos += size
        if signed:
            name, _, signature = extension.partition(b"=")
            if name.strip() != b"chunk-signature" or not signature:
                raise incomplete_body("A chunk of a signed streaming upload carries no chunk-signature")
            if signer is not None:
                expected = signer.chunk(previous, data)
                if not hmac.compare_digest(expected.encode(), signature.strip().lower()):
                    raise SignatureDoesNotMatch(CHUNK_SIGNATURE_MISMATCH)
                previous = expected
        if size == 0:
            break
        pieces.append(data)
        if body[pos : pos + 2] != b"\r\n":
            raise incomplete_body()
        pos += 2
    trailers = _trailers(body, pos, form, signer, previous)
    return b"".join(pieces), trailers


def _line(body: bytes, pos: int) -> tuple[bytes, int]:
    end = body.find(b"\r\n", pos, pos + _MAX_LINE)
    if end < 0:
        raise incomplete_body()
    return body[pos:end], end + 2


def _trailers(body: bytes, pos: int, form: str, signer: ChunkSigner | None, previous: str) -> dict[str, str]:
    """The headers after the last chunk, up to the empty line that ends the body."""
    trailers: dict[str, str] = {}
    canonical: list[bytes] = []
    trailer_signature: bytes | None = None
    while pos < len(body):
        line, pos = _line(body, pos)
        if not line:
            break
        name, colon, value = line.partition(b":")
        if not colon:
            raise incomplete_body("A trailing header is not name:value")
        key = name.strip().lower()
        if key == b"x-amz-trailer-signature":
            trailer_signature = value.strip().lower()
            continue
        trailers[key.decode("latin-1")] = value.strip().decode("latin-1")
        canonical.append(key + b":" + value.strip() + b"\n")
    if form == SIGNED_TRAILER and signer is not None:
        if trailer_signature is None:
            raise incomplete_body("The trailing headers of a signed streaming upload carry no signature")
        expected = signer.trailer(previous, b"".join(canonical))
        if not hmac.compare_digest(expected.encode(), trailer_signature):
            raise SignatureDoesNotMatch(CHUNK_SIGNATURE_MISMATCH)
    return trailers
