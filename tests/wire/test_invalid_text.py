"""Every codec refuses text that is not valid Unicode, and JSON nested deeper than it can parse, with a 400
in the protocol's own terms -- never a 500, never a value stored that nothing can read back."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AwsError
from rolecall.wire import HttpRequest, codec_for


def refusal(service: str, request: HttpRequest) -> AwsError:
    with pytest.raises(AwsError) as caught:
        codec_for(service).decode(request)
    assert caught.value.status == 400, caught.value
    return caught.value


def logs_request(body: bytes) -> HttpRequest:
    return HttpRequest(
        "POST",
        "/",
        headers={
            "X-Amz-Target": "Logs_20140328.CreateLogGroup",
            "Content-Type": "application/x-amz-json-1.1",
        },
        body=body,
    )


def test_json_with_a_lone_surrogate_escape_is_refused() -> None:
    err = refusal("logs", logs_request(b'{"logGroupName": "a\\ud800b"}'))
    assert err.code == "SerializationException"
    # A proper surrogate pair is one character (an emoji) and reads fine.
    ok = codec_for("logs").decode(logs_request(b'{"logGroupName": "a\\ud83d\\ude00b"}'), validate=False)
    assert ok[1]["logGroupName"] == "a\U0001f600b"


def test_json_with_raw_invalid_utf8_is_refused() -> None:
    assert (
        refusal("logs", logs_request(b'{"logGroupName": "a\xed\xa0\x80b"}')).code == "SerializationException"
    )
    assert refusal("logs", logs_request(b'{"logGroupName": "a\xffb"}')).code == "SerializationException"


def test_deeply_nested_json_is_a_serialization_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert refusal("logs", logs_request(deep)).code == "SerializationException"


def test_rest_json_body_and_uri_refuse_invalid_text() -> None:
    body = json.dumps({"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r"}).replace(
        '"f"', '"f\\udfff"'
    )
    create = HttpRequest(
        "POST", "/2015-03-31/functions", headers={"Content-Type": "application/json"}, body=body.encode()
    )
    refusal("lambda", create)
    get = HttpRequest("GET", "/2015-03-31/functions/f%ED%A0%80")
    refusal("lambda", get)


def test_query_protocol_refuses_encoded_surrogates_and_bad_utf8() -> None:
    for raw in ("%ED%A0%80", "%FF"):
        body = f"Action=CreateUser&Version=2010-05-08&UserName=u{raw}".encode()
        err = refusal(
            "iam",
            HttpRequest(
                "POST", "/", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
            ),
        )
        assert err.code == "ValidationError"
    err = refusal(
        "ec2", HttpRequest("GET", "/", "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=%FF")
    )
    assert err.status == 400


def test_rest_xml_refuses_a_key_that_is_not_utf8() -> None:
    err = refusal("s3", HttpRequest("GET", "/bucket/key%ED%A0%80", headers={"Host": "localhost"}))
    assert err.code == "InvalidArgument"
