"""Only the canonical form AWS's signers produce verifies: a re-cased signature or SignedHeaders list is not a
signature of the request, and an S3 presigned URL dated ahead of the clock is not valid yet (else the 7-day
cap on X-Amz-Expires would not hold)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.credentials import Credentials

from rolecall.errors import AwsError
from rolecall.wire import HttpRequest, parse_signature, verify
from tests.wire.botocore_io import ACCESS_KEY, SECRET_KEY, botocore_request, sign, to_http_request
from tests.wire.test_sigv4 import check, failure, iam_request


def with_authorization(request: HttpRequest, change) -> HttpRequest:
    header = request.headers["authorization"]
    request.headers["authorization"] = change(header)
    return request


def test_an_upper_case_signature_is_not_the_signature() -> None:
    request = iam_request()
    check(request)  # the request as botocore signed it verifies
    signature = request.headers["authorization"].rsplit("Signature=", 1)[1]
    assert signature == signature.lower() and any(c in "abcdef" for c in signature)
    upper = with_authorization(iam_request(), lambda h: h.replace(signature, signature.upper()))
    assert failure(upper).code == "SignatureDoesNotMatch"


def test_a_re_cased_signed_headers_list_is_not_the_signed_one() -> None:
    request = with_authorization(
        iam_request(), lambda h: h.replace("SignedHeaders=", "SignedHeaders=").replace("host;", "Host;")
    )
    assert (
        "SignedHeaders=content-type;Host;" in request.headers["authorization"]
        or "Host;" in request.headers["authorization"]
    )
    assert failure(request).code == "SignatureDoesNotMatch"


def presigned_s3(signed_at: float, expires: int, monkeypatch: pytest.MonkeyPatch) -> HttpRequest:
    """An S3 GetObject URL presigned by botocore as if its clock read `signed_at`."""
    aws_request = botocore_request("s3", "GetObject", {"Bucket": "b", "Key": "k"})
    when = datetime.fromtimestamp(signed_at, UTC).replace(tzinfo=None)
    with monkeypatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda: when)
        S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1", expires=expires).add_auth(
            aws_request
        )
    return to_http_request(aws_request)


def test_an_s3_url_dated_in_the_future_is_not_valid_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    # Signed a year ahead with the longest expiry: it would otherwise live a year and a week.
    request = presigned_s3(now + 365 * 86400, 604800, monkeypatch)
    with pytest.raises(AwsError) as caught:
        verify(request, parse_signature(request), SECRET_KEY, now)
    assert (caught.value.code, caught.value.message, caught.value.status) == (
        "AccessDenied",
        "Request is not valid yet",
        403,
    )
    # Within the clock skew S3 allows (15 minutes), a URL signed a little ahead works.
    slightly_ahead = presigned_s3(now + 600, 60, monkeypatch)
    verify(slightly_ahead, parse_signature(slightly_ahead), SECRET_KEY, now)


def test_botocore_signs_lower_case_throughout() -> None:
    request = to_http_request(sign(botocore_request("sts", "GetCallerIdentity", {}), "sts"))
    info = parse_signature(request)
    assert info is not None
    assert all(name == name.lower() for name in info.signed_headers)
    check(request)
