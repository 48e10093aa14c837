"""The rest-xml codec against botocore's own S3 serializer and parser.

Round trips: every S3 operation serialized by botocore from example values decodes back to those values
(members from the path, query, headers, x-amz-meta-* and XML payloads); every example output encoded by the
codec parses back, through botocore, to what was encoded. Then the parts a round trip cannot show: which
operation a shared route means, virtual-hosted addressing, S3's error document, 206 and HEAD responses.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore import handlers, parsers
from botocore.response import StreamingBody
from urllib3 import HTTPHeaderDict

from rolecall.errors import AwsError, InvalidClientTokenId
from rolecall.services.s3.errors import NoSuchKey
from rolecall.wire import HttpRequest, HttpResponse, codec_for
from rolecall.wire.dispatch import virtual_host_bucket
from rolecall.wire.models import service_model
from rolecall.wire.restxml import UNROUTED
from tests.wire.botocore_io import botocore_request, request_for, to_http_request
from tests.wire.samples import sample

S3 = codec_for("s3")
MODEL = service_model("s3")
# Left out: operations whose generated example botocore's own validation refuses.
UNSAMPLED = {"PutBucketReplication", "RestoreObject", "WriteGetObjectResponse"}
INPUT_CASES = [op for op in MODEL.operation_names if op not in UNROUTED["s3"] and op not in UNSAMPLED]
# GetBucketLocation is parsed by a botocore handler (tested below); the deprecated GetBucketNotification's
# model gives two members one element name.
OUTPUT_CASES = [
    op
    for op in MODEL.operation_names
    if MODEL.operation_model(op).output_shape is not None
    and not MODEL.operation_model(op).has_event_stream_output
    and op not in ("GetBucketLocation", "GetBucketNotification")
]


def pruned(value: Any) -> Any:
    """Empty lists and maps dropped: XML cannot tell an empty list from an absent one (nor can botocore)."""
    if isinstance(value, dict):
        out = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ([], {}, None)}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def parse(operation: str, response: HttpResponse) -> dict[str, Any]:
    op_model = MODEL.operation_model(operation)
    body: Any = response.body
    if op_model.has_streaming_output:
        body = StreamingBody(io.BytesIO(response.body), len(response.body))
    raw = {"status_code": response.status, "headers": HTTPHeaderDict(response.headers), "body": body}
    parsed = parsers.create_parser("rest-xml").parse(raw, op_model.output_shape)
    parsed.pop("ResponseMetadata", None)
    return {k: v.read() if isinstance(v, StreamingBody) else v for k, v in parsed.items()}


@pytest.mark.parametrize("operation", INPUT_CASES)
def test_every_operation_decodes_what_botocore_sends(operation):
    shape = MODEL.operation_model(operation).input_shape
    params = sample(shape) if shape is not None else {}
    req = request_for("s3", operation, params)
    decoded_operation, decoded = S3.decode(req, validate=False)
    assert decoded_operation == operation
    assert pruned(decoded) == pruned(params)


@pytest.mark.parametrize("operation", OUTPUT_CASES)
def test_every_output_parses_in_botocore(operation):
    output = sample(MODEL.operation_model(operation).output_shape)
    assert pruned(parse(operation, S3.encode(operation, output, "req-1"))) == pruned(output)


def test_bucket_location_root_is_the_constraint():
    for value, expected in (("eu-west-1", "eu-west-1"), (None, None)):
        response = S3.encode("GetBucketLocation", {"LocationConstraint": value}, "r")
        assert b"<LocationConstraint xmlns=" in response.body
        parsed: dict[str, Any] = {}
        raw = type("Raw", (), {"content": response.body, "raw": object()})()
        handlers.parse_get_bucket_location(parsed, raw)
        assert parsed.get("LocationConstraint") == expected


def test_listing_root_and_millisecond_timestamps():
    response = S3.encode(
        "ListObjectsV2",
        {"Name": "b", "Contents": [{"Key": "k", "LastModified": 1714566600, "Size": 1}], "KeyCount": 1},
        "r",
    )
    assert b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' in response.body
    assert b"<LastModified>2024-05-01T12:30:00.000Z</LastModified>" in response.body
    assert response.header("Content-Type") == "application/xml"


@pytest.mark.parametrize(
    "method, params, headers, expected",
    [
        ("PUT", "", {}, "PutObject"),
        ("PUT", "", {"x-amz-copy-source": "src/k"}, "CopyObject"),
        ("PUT", "partNumber=1&uploadId=u", {}, "UploadPart"),
        ("PUT", "partNumber=1&uploadId=u", {"x-amz-copy-source": "src/k"}, "UploadPartCopy"),
        ("DELETE", "", {}, "DeleteObject"),
        ("DELETE", "uploadId=u", {}, "AbortMultipartUpload"),
        ("GET", "", {}, "GetObject"),
        ("GET", "uploadId=u", {}, "ListParts"),
        ("GET", "tagging", {}, "GetObjectTagging"),
        ("HEAD", "", {}, "HeadObject"),
        ("GET", "x-id=GetObject", {}, "GetObject"),
    ],
)
def test_shared_object_routes(method, params, headers, expected):
    req = HttpRequest(method, "/bkt/a/b", params, headers)
    assert S3.decode(req, validate=False)[0] == expected


@pytest.mark.parametrize(
    "method, path, query, expected",
    [
        ("GET", "/", "", "ListBuckets"),
        ("GET", "/bkt", "", "ListObjects"),
        ("GET", "/bkt", "list-type=2", "ListObjectsV2"),
        ("GET", "/bkt", "policy", "GetBucketPolicy"),
        ("GET", "/bkt", "location", "GetBucketLocation"),
        ("GET", "/bkt", "lifecycle", "GetBucketLifecycleConfiguration"),
        ("PUT", "/bkt", "", "CreateBucket"),
        ("PUT", "/bkt/", "", "CreateBucket"),
        ("PUT", "/bkt", "policy", "PutBucketPolicy"),
        ("DELETE", "/bkt", "", "DeleteBucket"),
        ("DELETE", "/bkt", "policy", "DeleteBucketPolicy"),
        ("HEAD", "/bkt", "", "HeadBucket"),
        ("POST", "/bkt", "delete", "DeleteObjects"),
    ],
)
def test_bucket_routes(method, path, query, expected):
    assert S3.decode(HttpRequest(method, path, query), validate=False)[0] == expected


def test_unknown_route_is_method_not_allowed():
    with pytest.raises(AwsError) as exc:
        S3.decode(HttpRequest("PATCH", "/bkt/k"))
    assert (exc.value.code, exc.value.status) == ("MethodNotAllowed", 405)


@pytest.mark.parametrize(
    "host, bucket",
    [
        ("photos.localhost:4566", "photos"),
        ("photos.localhost", "photos"),
        ("photos.s3.localhost:4577", "photos"),
        ("photos.s3.us-west-2.localhost", "photos"),
        ("my.s3.bucket.localhost:4566", "my.s3.bucket"),
        ("photos.s3.localhost.localstack.cloud:4566", "photos"),
        ("localhost:4566", None),
        ("s3.localhost:4566", None),
        ("127.0.0.1:4566", None),
        ("[::1]:4566", None),
        ("example.com", None),
        (None, None),
    ],
)
def test_virtual_hosted_bucket(host, bucket):
    assert virtual_host_bucket(host) == bucket


def test_virtual_hosted_request_decodes_like_path_style():
    path_style = S3.decode(HttpRequest("GET", "/photos/2024/a%20b.jpg", "", {"host": "localhost:4566"}))
    virtual = S3.decode(HttpRequest("GET", "/2024/a%20b.jpg", "", {"host": "photos.localhost:4566"}))
    assert virtual == path_style == ("GetObject", {"Bucket": "photos", "Key": "2024/a b.jpg"})
    listing = S3.decode(HttpRequest("GET", "/", "list-type=2&prefix=a%2Fb", {"host": "photos.s3.localhost"}))
    assert listing == ("ListObjectsV2", {"Bucket": "photos", "Prefix": "a/b"})


def test_members_from_headers_query_and_body():
    req = request_for(
        "s3",
        "PutObject",
        {
            "Bucket": "b",
            "Key": "dir/ä b+c.txt",
            "Body": b"\x00data",
            "ContentType": "text/plain",
            "Metadata": {"owner": "alice", "mixed": "Value With Spaces"},
            "ContentLength": 5,
        },
    )
    operation, params = S3.decode(req)
    assert operation == "PutObject"
    assert params["Key"] == "dir/ä b+c.txt" and params["Body"] == b"\x00data"
    assert params["Metadata"] == {"owner": "alice", "mixed": "Value With Spaces"}
    assert params["ContentLength"] == 5
    _, listed = S3.decode(
        request_for("s3", "ListObjectsV2", {"Bucket": "b", "MaxKeys": 7, "FetchOwner": True})
    )
    assert listed["MaxKeys"] == 7 and listed["FetchOwner"] is True
    with pytest.raises(AwsError) as exc:
        S3.decode(HttpRequest("GET", "/b", "list-type=2&max-keys=seven"))
    assert exc.value.code == "InvalidArgument"


def test_xml_payload_and_malformed_xml():
    _, params = S3.decode(
        request_for(
            "s3",
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}},
        )
    )
    assert params["Delete"] == {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}
    for body in (b"", b"<Delete><Object>", b'<!DOCTYPE x [<!ENTITY a "b">]><Delete/>'):
        with pytest.raises(AwsError) as exc:
            S3.decode(HttpRequest("POST", "/b", "delete", {}, body))
        assert exc.value.code == "MalformedXML"


def test_error_document_carries_fields_and_parses_in_botocore():
    err = NoSuchKey("The specified key does not exist.", Key="a/b")
    response = S3.encode_error(err, "req-9", "GetObject")
    assert response.status == 404
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>')
    assert b"<Key>a/b</Key><RequestId>req-9</RequestId><HostId>" in response.body
    error = parsers.create_parser("rest-xml").parse(
        {"status_code": 404, "headers": HTTPHeaderDict(response.headers), "body": response.body},
        MODEL.operation_model("GetObject").output_shape,
    )["Error"]
    assert error == {"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": "a/b"}


def test_authentication_errors_are_renamed_and_head_errors_have_no_body():
    from rolecall.services.s3 import S3 as S3Service

    # The S3 service words authentication failures its own way (the pipeline asks it before encoding).
    renamed = S3Service().authentication_error(
        InvalidClientTokenId("The security token included in the request is invalid.")
    )
    response = S3.encode_error(renamed, "r")
    assert response.status == 403
    assert b"<Code>InvalidAccessKeyId</Code>" in response.body
    assert b"does not exist in our records" in response.body
    head = S3.encode_error(NoSuchKey("Not Found"), "r", "HeadObject")
    assert head.status == 404 and head.body == b""
    not_modified = S3.encode_error(AwsError("Not Modified", code="NotModified", status=304), "r", "GetObject")
    assert not_modified.status == 304 and not_modified.body == b""


def test_ranged_get_is_206_and_head_keeps_length_without_body():
    output = {"Body": b"llo", "ContentLength": 3, "ContentRange": "bytes 2-4/11", "ContentType": "text/plain"}
    response = S3.encode("GetObject", output, "r")
    assert response.status == 206 and response.body == b"llo"
    assert response.header("Content-Range") == "bytes 2-4/11"
    assert response.header("Content-Type") == "text/plain"
    head = S3.encode("HeadObject", {"ContentLength": 11, "ETag": '"x"'}, "r")
    assert head.status == 200 and head.body == b"" and head.header("Content-Length") == "11"
    assert S3.encode("DeleteObject", {}, "r").status == 204
    assert S3.encode("PutBucketPolicy", {}, "r").status == 204


def test_botocore_virtual_hosted_request_round_trip():
    aws_request = botocore_request("s3", "HeadObject", {"Bucket": "photos", "Key": "k"})
    aws_request.url = aws_request.url.replace("localhost:4566/photos", "photos.localhost:4566")
    assert S3.decode(to_http_request(aws_request)) == ("HeadObject", {"Bucket": "photos", "Key": "k"})
