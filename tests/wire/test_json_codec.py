"""The AWS JSON codec (CloudTrail) against botocore's serializer and parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from rolecall.errors import AccessDenied, AwsError, MissingAuthenticationToken, SignatureDoesNotMatch
from rolecall.wire import HttpRequest, codec_for
from tests.wire.botocore_io import parse_response, request_for
from tests.wire.samples import without_metadata

TRAIL = codec_for("cloudtrail")


def json_request(target: str | None, body: bytes) -> HttpRequest:
    headers = {"Content-Type": "application/x-amz-json-1.1", "Host": "localhost"}
    if target is not None:
        headers["X-Amz-Target"] = target
    return HttpRequest("POST", "/", "", headers, body)


def decode_error(request: HttpRequest) -> AwsError:
    with pytest.raises(AwsError) as caught:
        TRAIL.decode(request)
    return caught.value


def test_lookup_events_from_botocore() -> None:
    params = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}],
        "StartTime": datetime(2024, 1, 1, tzinfo=UTC),
        "EndTime": datetime(2024, 1, 2, 12, 0, 0, tzinfo=UTC),
        "MaxResults": 50,
        "NextToken": "tok",
    }
    request = request_for("cloudtrail", "LookupEvents", params)
    assert request.headers["x-amz-target"].endswith("CloudTrail_20131101.LookupEvents")
    assert TRAIL.decode(request) == ("LookupEvents", params)


def test_short_target_prefix_of_older_sdks() -> None:
    request = json_request("CloudTrail_20131101.LookupEvents", b'{"MaxResults": 5, "StartTime": 1704067200}')
    assert TRAIL.decode(request) == (
        "LookupEvents",
        {"MaxResults": 5, "StartTime": datetime(2024, 1, 1, tzinfo=UTC)},
    )


def test_empty_body_is_no_members() -> None:
    assert TRAIL.decode(json_request("CloudTrail_20131101.LookupEvents", b"")) == ("LookupEvents", {})


def test_unknown_and_missing_targets() -> None:
    err = decode_error(json_request("CloudTrail_20131101.LookupEverything", b"{}"))
    assert (err.code, err.status) == ("UnknownOperationException", 400)
    err = decode_error(json_request("Logs_20140328.LookupEvents", b"{}"))
    assert err.code == "UnknownOperationException"
    err = decode_error(json_request(None, b"{}"))
    assert (err.code, err.status) == ("UnknownOperationException", 404)


def test_malformed_json_and_wrong_types() -> None:
    err = decode_error(json_request("CloudTrail_20131101.LookupEvents", b"{not json"))
    assert (err.code, err.status) == ("SerializationException", 400)
    err = decode_error(json_request("CloudTrail_20131101.LookupEvents", b'{"MaxResults": "five"}'))
    assert err.code == "SerializationException"
    assert err.message == "STRING_VALUE can not be converted to an Integer"
    err = decode_error(json_request("CloudTrail_20131101.LookupEvents", b'{"LookupAttributes": {"a": 1}}'))
    assert err.message == "Start of structure or map found where not expected."


def test_validation_exception() -> None:
    body = json.dumps(
        {"MaxResults": 51, "LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "x"}]}
    )
    err = decode_error(json_request("CloudTrail_20131101.LookupEvents", body.encode()))
    assert (err.code, err.status) == ("ValidationException", 400)
    assert err.message == (
        "2 validation errors detected: "
        "Value 'Nope' at 'lookupAttributes.1.member.attributeKey' failed to satisfy constraint: Member must "
        "satisfy enum value set: [EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, "
        "EventSource, AccessKeyId]; "
        "Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50"
    )


def test_output_timestamps_are_epoch_seconds() -> None:
    output = {
        "Events": [
            {
                "EventId": "e1",
                "EventName": "AssumeRole",
                "EventTime": datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC),
                "Resources": [{"ResourceType": "AWS::IAM::Role", "ResourceName": "r"}],
                "CloudTrailEvent": '{"eventVersion":"1.08"}',
            }
        ]
    }
    response = TRAIL.encode("LookupEvents", output, "req-1")
    document = json.loads(response.body)
    assert document["Events"][0]["EventTime"] == 1704067201
    assert response.header("Content-Type") == "application/x-amz-json-1.1"
    assert response.header("x-amzn-RequestId") == "req-1"
    assert without_metadata(parse_response("cloudtrail", "LookupEvents", response)) == output


def test_errors_use_json_names() -> None:
    cases = [
        (AccessDenied("User: x is not authorized"), "AccessDeniedException", "User: x is not authorized"),
        (SignatureDoesNotMatch("bad sig"), "InvalidSignatureException", "bad sig"),
        (
            MissingAuthenticationToken("Request is missing Authentication Token"),
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
        (
            AwsError("Bad key", code="InvalidLookupAttributesException", status=400),
            "InvalidLookupAttributesException",
            "Bad key",
        ),
    ]
    for err, code, message in cases:
        response = TRAIL.encode_error(err, "req-2", "LookupEvents")
        assert response.status == err.status
        assert response.header("x-amzn-ErrorType") == code
        parsed = parse_response("cloudtrail", "LookupEvents", response)
        assert parsed["Error"]["Code"] == code
        assert parsed["Error"]["Message"] == message
        assert parsed["ResponseMetadata"]["RequestId"] == "req-2"
