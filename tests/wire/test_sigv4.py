"""SigV4 verification against requests signed by botocore's own signers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSRequest

from rolecall.errors import AwsError
from rolecall.wire import HttpRequest, parse_signature, service_from_request, sigv4, verify
from rolecall.wire.sigv4 import SIGNATURE_MISMATCH, missing_authentication_token
from tests.wire.botocore_io import (
    ACCESS_KEY,
    SECRET_KEY,
    botocore_request,
    request_for,
    sign,
    to_http_request,
)


def signed_at(request: HttpRequest) -> float:
    info = parse_signature(request)
    assert info is not None
    return datetime.strptime(info.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def check(request: HttpRequest, *, secret: str = SECRET_KEY, offset: float = 0, **kwargs) -> None:
    info = parse_signature(request)
    assert info is not None
    verify(request, info, secret, signed_at(request) + offset, **kwargs)


def failure(request: HttpRequest, **kwargs) -> AwsError:
    with pytest.raises(AwsError) as caught:
        check(request, **kwargs)
    assert SECRET_KEY not in caught.value.message
    return caught.value


def iam_request(**params) -> HttpRequest:
    return to_http_request(sign(botocore_request("iam", "ListRoles", params), "iam"))


def test_header_signed_requests_verify() -> None:
    check(iam_request(PathPrefix="/a/"))
    sts = to_http_request(
        sign(botocore_request("sts", "GetCallerIdentity", {}), "sts", token="FQoG/+token==")
    )
    info = parse_signature(sts)
    assert info is not None
    assert (info.access_key_id, info.region, info.service, info.security_token) == (
        ACCESS_KEY,
        "us-east-1",
        "sts",
        "FQoG/+token==",
    )
    check(sts)
    trail = to_http_request(
        sign(botocore_request("cloudtrail", "LookupEvents", {"MaxResults": 3}), "cloudtrail")
    )
    check(trail)


def test_presigned_url_verifies() -> None:
    request = to_http_request(
        sign(botocore_request("sts", "GetCallerIdentity", {}), "sts", token="tok/en+", presign_expires=60)
    )
    info = parse_signature(request)
    assert info is not None and info.presigned
    assert (info.security_token, info.expires, info.signed_headers) == ("tok/en+", "60", ("host",))
    check(request)
    # Like STS, a query service lets a presigned request live for its skew window, whatever X-Amz-Expires says.
    check(request, offset=600)
    err = failure(request, offset=901)
    assert err.code == "SignatureDoesNotMatch"
    assert err.message.startswith("Signature expired: ")
    assert err.message.endswith(" - 15 min.)")


def test_get_with_awkward_query_string() -> None:
    aws = AWSRequest(
        method="GET",
        url="http://localhost:4566/",
        params={"Action": "ListRoles", "Version": "2010-05-08", "PathPrefix": "/a b/*~é+&=", "Marker": ""},
    )
    request = to_http_request(sign(aws, "iam"))
    assert "%2A" in request.query_string or "*" in request.query_string
    check(request)


def test_path_is_normalized_for_non_s3_services() -> None:
    aws = AWSRequest(method="GET", url="http://localhost:4566/a/./b/../c//d%20e/", data=b"")
    request = to_http_request(sign(aws, "iam"))
    check(request)


def test_date_header_instead_of_x_amz_date() -> None:
    aws = botocore_request("iam", "ListRoles", {})
    aws.headers["Date"] = "Thu, 01 Jan 2026 00:00:00 GMT"
    request = to_http_request(sign(aws, "iam"))
    assert "x-amz-date" not in request.headers
    check(request)


def test_tampered_body() -> None:
    request = iam_request(PathPrefix="/a/")
    request.body = request.body.replace(b"%2Fa%2F", b"%2Fb%2F")
    err = failure(request)
    assert (err.code, err.status, err.message) == ("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH)


def test_tampered_signed_header() -> None:
    request = to_http_request(sign(botocore_request("cloudtrail", "LookupEvents", {}), "cloudtrail"))
    request.headers["X-Amz-Target"] = "CloudTrail_20131101.GetTrail"
    assert failure(request).code == "SignatureDoesNotMatch"


def test_unsigned_header_may_change() -> None:
    request = iam_request()
    request.headers["User-Agent"] = "something else"
    check(request)


def test_wrong_secret() -> None:
    err = failure(iam_request(), secret="not-the-secret")
    assert err.message == SIGNATURE_MISMATCH


def test_tampered_signature_date() -> None:
    request = iam_request()
    info = parse_signature(request)
    assert info is not None
    request.headers["X-Amz-Date"] = (
        info.amz_date[:-3] + "59Z" if not info.amz_date.endswith("59Z") else info.amz_date[:-3] + "58Z"
    )
    assert failure(request).code == "SignatureDoesNotMatch"


def test_skew_past_and_future() -> None:
    request = iam_request()
    info = parse_signature(request)
    assert info is not None
    check(request, offset=300)
    check(request, offset=-300)
    now = signed_at(request) + 600
    err = failure(request, offset=600)
    assert err.code == "SignatureDoesNotMatch"
    assert err.message == (
        f"Signature expired: {info.amz_date} is now earlier than {basic(now - 300)} ({basic(now)} - 5 min.)"
    )
    now = signed_at(request) - 600
    err = failure(request, offset=-600)
    assert err.message == (
        f"Signature not yet current: {info.amz_date} is still later than {basic(now + 300)} ({basic(now)} + 5 min.)"
    )


def basic(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y%m%dT%H%M%SZ")


def test_sts_allows_fifteen_minutes() -> None:
    request = to_http_request(sign(botocore_request("sts", "GetCallerIdentity", {}), "sts"))
    check(request, offset=899)
    assert failure(request, offset=901).message.endswith(" - 15 min.)")


def test_scope_must_name_the_service_and_a_valid_region() -> None:
    request = to_http_request(
        sign(botocore_request("sts", "GetCallerIdentity", {}), "sts", region="ap-southeast-2")
    )
    check(request, service="sts")
    err = failure(request, regions={"us-east-1"})
    assert (err.code, err.message) == (
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region, not 'ap-southeast-2'. ",
    )
    err = failure(request, service="iam")
    assert err.message == "Credential should be scoped to correct service: 'iam'. "


def test_scope_date_must_match_request_date() -> None:
    request = iam_request()
    info = parse_signature(request)
    assert info is not None
    other = "20200101" if info.date != "20200101" else "20200102"
    request.headers["Authorization"] = request.headers["Authorization"].replace(
        f"/{info.date}/", f"/{other}/"
    )
    err = failure(request)
    assert err.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'{other}' != '{info.amz_date[:8]}', from '{info.amz_date}'."
    )


def test_bad_terminator() -> None:
    request = iam_request()
    request.headers["Authorization"] = request.headers["Authorization"].replace(
        "/aws4_request", "/aws5_request"
    )
    assert (
        failure(request).message
        == "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    )


def test_host_must_be_signed() -> None:
    request = iam_request()
    request.headers["Authorization"] = request.headers["Authorization"].replace(";host;", ";")
    err = failure(request)
    assert (err.code, err.status) == ("IncompleteSignature", 400)


def test_declared_payload_hash_must_match_the_body() -> None:
    aws = botocore_request("iam", "ListRoles", {})
    aws.headers["X-Amz-Content-SHA256"] = "0" * 64
    request = to_http_request(sign(aws, "iam"))
    assert failure(request).message == SIGNATURE_MISMATCH


def test_unsigned_payload_is_accepted() -> None:
    aws = botocore_request("iam", "ListRoles", {})
    aws.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    request = to_http_request(sign(aws, "iam"))
    check(request)


def unsigned(headers: dict[str, str], query: str = "") -> HttpRequest:
    return HttpRequest("POST", "/", query, headers, b"Action=ListRoles&Version=2010-05-08")


def incomplete(request: HttpRequest) -> AwsError:
    with pytest.raises(AwsError) as caught:
        parse_signature(request)
    assert (caught.value.code, caught.value.status) == ("IncompleteSignature", 400)
    return caught.value


def test_unsigned_request() -> None:
    assert parse_signature(unsigned({"Host": "localhost"})) is None
    err = missing_authentication_token()
    assert (err.code, err.status, err.message) == (
        "MissingAuthenticationToken",
        403,
        "Request is missing Authentication Token",
    )


def test_authorization_header_missing_everything() -> None:
    err = incomplete(unsigned({"Authorization": "Bearer abc"}))
    assert err.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=Bearer abc"
    )


def test_authorization_header_missing_signature() -> None:
    header = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host"
    )
    err = incomplete(unsigned({"Authorization": header, "X-Amz-Date": "20260101T000000Z"}))
    assert err.message == f"Authorization header requires 'Signature' parameter. Authorization={header}"


def test_authorization_component_without_equals() -> None:
    header = (
        f"AWS4-HMAC-SHA256 {ACCESS_KEY}/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=ab"
    )
    err = incomplete(unsigned({"Authorization": header, "X-Amz-Date": "20260101T000000Z"}))
    assert err.message == (
        f"'{ACCESS_KEY}/20260101/us-east-1/sts/aws4_request' not a valid key=value pair (missing equal-sign) "
        f"in Authorization header: '{header}'."
    )


def test_credential_with_too_few_parts() -> None:
    header = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/aws4_request, SignedHeaders=host, Signature=ab"
    err = incomplete(unsigned({"Authorization": header, "X-Amz-Date": "20260101T000000Z"}))
    assert err.message.startswith("Credential must have exactly 5 slash-delimited elements")


def test_badly_formatted_date() -> None:
    header = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab"
    request = unsigned({"Authorization": header, "X-Amz-Date": "2026-01-01", "Host": "localhost"})
    info = parse_signature(request)
    assert info is not None
    with pytest.raises(AwsError) as caught:
        verify(request, info, SECRET_KEY, 0)
    assert caught.value.code == "IncompleteSignature"
    assert caught.value.message.startswith("Date must be in ISO-8601 'basic format'. Got '2026-01-01'.")


def test_presigned_missing_parameters() -> None:
    query = f"Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={ACCESS_KEY}%2F20260101%2Fus-east-1%2Fsts%2Faws4_request"
    err = incomplete(unsigned({}, query))
    assert err.message == (
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-Date'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "Re-examine the query-string parameters."
    )


def test_service_from_request() -> None:
    assert service_from_request(iam_request()) == "iam"
    presigned = to_http_request(
        sign(botocore_request("sts", "GetCallerIdentity", {}), "sts", presign_expires=60)
    )
    assert service_from_request(presigned) == "sts"
    for target, service in [
        ("CloudTrail_20131101.LookupEvents", "cloudtrail"),
        ("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "cloudtrail"),
        ("Logs_20140328.GetLogEvents", "logs"),
        ("Unknown_2020.Op", None),
    ]:
        assert service_from_request(HttpRequest("POST", "/", "", {"X-Amz-Target": target})) == service
    # Unsigned query calls (sts:AssumeRoleWithWebIdentity) are recognized by their Version.
    web_identity = request_for(
        "sts",
        "AssumeRoleWithWebIdentity",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "RoleSessionName": "session",
            "WebIdentityToken": "t" * 8,
        },
    )
    assert "authorization" not in web_identity.headers
    assert service_from_request(web_identity) == "sts"
    assert service_from_request(unsigned({})) == "iam"
    assert (
        service_from_request(HttpRequest("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15")) == "sts"
    )
    assert service_from_request(HttpRequest("POST", "/", "", {}, b"Action=X&Version=1999-01-01")) is None
    assert service_from_request(HttpRequest("GET", "/latest/meta-data/")) is None


def test_signing_key_cache_is_bounded() -> None:
    for i in range(sigv4._SIGNING_KEY_LIMIT + 10):
        sigv4.signing_key(f"secret-{i}", "20260101", "us-east-1", "iam")
    assert len(sigv4._SIGNING_KEYS) <= sigv4._SIGNING_KEY_LIMIT
    check(iam_request())
