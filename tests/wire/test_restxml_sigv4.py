"""SigV4 as S3 checks it: payload hashes, aws-chunked streaming bodies, the path encoded once, skew and expiry.

The signed streaming upload is AWS's own published example ("Signature Calculations for the Authorization
Header: Transferring Payload in Multiple Chunks"): its seed and chunk signatures were computed by AWS, so
passing it means the chunk chain matches the real service and not merely our own idea of it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
import zlib
from base64 import b64encode

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from rolecall.errors import AwsError
from rolecall.wire import HttpRequest, codec_for, parse_signature, verify
from rolecall.wire.sigv4 import signing_key
from tests.wire.botocore_io import ACCESS_KEY, SECRET_KEY, botocore_request, to_http_request

S3 = codec_for("s3")
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_TIME = calendar.timegm((2013, 5, 24, 0, 0, 0))
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGNATURES = (
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
)


def aws_example(tamper: bool = False, decoded_length: int = 66560) -> HttpRequest:
    body = b""
    for size, signature in CHUNK_SIGNATURES:
        data = bytearray(b"a" * size)
        if tamper and size == 1024:
            data[10] = ord("b")
        body += f"{size:x};chunk-signature={signature}\r\n".encode() + bytes(data) + b"\r\n"
    assert len(body) == 66824  # as the documentation says
    return HttpRequest(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        {
            "Host": "s3.amazonaws.com",
            "x-amz-date": "20130524T000000Z",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(decoded_length),
            "Content-Length": str(len(body)),
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}",
        },
        body,
    )


def verified(req: HttpRequest, secret: str = EXAMPLE_SECRET, now: float = EXAMPLE_TIME) -> HttpRequest:
    verify(req, parse_signature(req), secret, now)
    return req


def error_of(req: HttpRequest, secret: str = EXAMPLE_SECRET, now: float = EXAMPLE_TIME) -> AwsError:
    with pytest.raises(AwsError) as exc:
        verify(req, parse_signature(req), secret, now)
    return exc.value


def test_aws_signed_chunk_example_verifies_and_decodes():
    req = verified(aws_example())
    assert req.body == b"a" * 66560
    assert req.headers["content-length"] == "66560"
    assert "content-encoding" not in req.headers
    operation, params = S3.decode(req)
    assert operation == "PutObject"
    assert params["Body"] == b"a" * 66560 and params["StorageClass"] == "REDUCED_REDUNDANCY"


def test_a_changed_chunk_breaks_its_signature():
    err = error_of(aws_example(tamper=True))
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)


def test_decoded_length_must_match():
    req = aws_example(
        decoded_length=66561
    )  # not verifiable any more (the length is signed): read as --auth off
    with pytest.raises(AwsError) as exc:
        S3.decode(req)
    assert exc.value.code == "IncompleteBody"


def test_wrong_secret_fails_on_the_seed():
    err = error_of(aws_example(), secret="not-the-secret")
    assert err.code == "SignatureDoesNotMatch"
    assert err.message.endswith("Check your key and signing method.")


def test_unsigned_chunks_with_trailing_checksum():
    """What the SDKs send over HTTPS: STREAMING-UNSIGNED-PAYLOAD-TRAILER with x-amz-checksum-crc32 after the
    last chunk. Decoded here by the codec itself, as it is with --auth off."""
    checksum = b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode()
    body = f"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()
    req = HttpRequest(
        "PUT",
        "/b/k",
        "",
        {
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "content-encoding": "aws-chunked,gzip",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": "11",
        },
        body,
    )
    operation, params = S3.decode(req)
    assert operation == "PutObject"
    assert params["Body"] == b"hello world"
    assert params["ChecksumCRC32"] == checksum == "DUoRhQ=="
    assert params["ContentEncoding"] == "gzip"
    for broken in (b"zz\r\nhello\r\n", b"5\r\nhel", b"5\r\nhelloXX0\r\n\r\n", b"1" * 5000):
        req = HttpRequest(
            "PUT", "/b/k", "", {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}, broken
        )
        with pytest.raises(AwsError) as exc:
            S3.decode(req)
        assert exc.value.code == "IncompleteBody"


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def test_signed_chunks_with_signed_trailer():
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, its chain computed here from the published algorithm."""
    amz_date, scope = "20130524T000000Z", "20130524/us-east-1/s3/aws4_request"
    key = signing_key(EXAMPLE_SECRET, "20130524", "us-east-1", "s3")
    empty = hashlib.sha256(b"").hexdigest()
    req = HttpRequest(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        {
            "Host": "s3.amazonaws.com",
            "x-amz-date": amz_date,
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "x-amz-trailer": "x-amz-checksum-crc32",
        },
    )
    canonical = (
        "PUT\n/examplebucket/chunkObject.txt\n\nhost:s3.amazonaws.com\n"
        f"x-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER\nx-amz-date:{amz_date}\n"
        "x-amz-trailer:x-amz-checksum-crc32\n\nhost;x-amz-content-sha256;x-amz-date;x-amz-trailer\n"
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    )
    seed = _hmac(
        key, f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    req.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{scope},"
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-trailer,Signature={seed}"
    )
    previous, body = seed, b""
    for data in (b"hello ", b"world", b""):
        digest = hashlib.sha256(data).hexdigest()
        previous = _hmac(key, f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{empty}\n{digest}")
        body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data
        body += b"\r\n" if data else b""
    trailer = "x-amz-checksum-crc32:DUoRhQ==\n"
    trailer_hash = hashlib.sha256(trailer.encode()).hexdigest()
    trailer_signature = _hmac(
        key, f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n{trailer_hash}"
    )
    good = (
        body
        + f"x-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
    )
    req.body = good
    verified(req)
    assert req.body == b"hello world" and req.headers["x-amz-checksum-crc32"] == "DUoRhQ=="
    req.headers["x-amz-content-sha256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    req.body = good.replace(b"DUoRhQ==", b"AAAAAA==")
    assert error_of(req).code == "SignatureDoesNotMatch"


def sign(aws_request: AWSRequest, presign_expires: int | None = None) -> AWSRequest:
    """As botocore's S3 client signs: S3SigV4Auth (x-amz-content-sha256, the path as sent)."""
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    if presign_expires is None:
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(aws_request)
    else:
        S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=presign_expires).add_auth(aws_request)
    return aws_request


def signed_put(key: str = "k", body: bytes = b"data", **params) -> HttpRequest:
    aws_request = botocore_request("s3", "PutObject", {"Bucket": "b", "Key": key, "Body": body, **params})
    return to_http_request(sign(aws_request))


def test_body_must_match_its_declared_hash():
    now = time.time()
    req = signed_put()
    verify(req, parse_signature(req), SECRET_KEY, now)
    req = signed_put()
    req.body = b"other"  # the signature covers the header, so it holds; the body does not match it
    with pytest.raises(AwsError) as exc:
        verify(req, parse_signature(req), SECRET_KEY, now)
    assert (exc.value.code, exc.value.status) == ("XAmzContentSHA256Mismatch", 400)


def test_payload_hash_header_is_required_and_checked():
    now = time.time()
    req = signed_put()
    del req.headers["x-amz-content-sha256"]
    with pytest.raises(AwsError) as exc:
        verify(req, parse_signature(req), SECRET_KEY, now)
    assert exc.value.code == "InvalidRequest"
    req = signed_put()
    req.headers["x-amz-content-sha256"] = "not-a-hash"
    with pytest.raises(AwsError) as exc:
        verify(req, parse_signature(req), SECRET_KEY, now)
    assert exc.value.code == "InvalidArgument"


def test_unsigned_payload():
    aws_request = botocore_request("s3", "PutObject", {"Bucket": "b", "Key": "k", "Body": b"anything"})
    aws_request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    req = to_http_request(sign(aws_request))
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    req.body = b"something else entirely"
    verify(req, parse_signature(req), SECRET_KEY, time.time())


@pytest.mark.parametrize("key", ["plain", "a b+c/d~!*'()=&$@.txt", "ünïcødé/ключ", "dir//double/", "%41"])
def test_keys_are_encoded_once_and_never_normalized(key):
    req = signed_put(key)
    verify(req, parse_signature(req), SECRET_KEY, time.time())
    assert S3.decode(req)[1]["Key"] == key


def test_path_escaped_differently_still_verifies():
    """A client may send "!" raw or as %21; S3 canonicalizes both to %21."""
    req = signed_put("wow!")
    assert req.path == "/b/wow%21"
    req.path = "/b/wow!"
    verify(req, parse_signature(req), SECRET_KEY, time.time())


def test_clock_skew_is_request_time_too_skewed():
    req = signed_put()
    with pytest.raises(AwsError) as exc:
        verify(req, parse_signature(req), SECRET_KEY, time.time() + 16 * 60)
    assert (exc.value.code, exc.value.status) == ("RequestTimeTooSkewed", 403)
    req = signed_put()
    verify(req, parse_signature(req), SECRET_KEY, time.time() + 14 * 60)


def test_presigned_url_lives_for_its_expiry():
    aws_request = sign(botocore_request("s3", "GetObject", {"Bucket": "b", "Key": "k"}), presign_expires=60)
    req = to_http_request(aws_request)
    info = parse_signature(req)
    assert info.presigned
    now = time.time()
    verify(req, info, SECRET_KEY, now + 59)
    with pytest.raises(AwsError) as exc:
        verify(req, info, SECRET_KEY, now + 120)
    assert (exc.value.code, exc.value.message, exc.value.status) == (
        "AccessDenied",
        "Request has expired",
        403,
    )
