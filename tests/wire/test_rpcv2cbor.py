"""The Smithy RPC v2 CBOR protocol (CloudWatch), checked against botocore's own CBOR serializer and parser:
requests botocore writes decode to the members it was given, and responses and errors rolecall writes
parse back to what the handler returned. A JSON request to the same model gets the JSON codec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore import parsers, serialize

from rolecall.errors import AwsError
from rolecall.http import Headers, HttpRequest
from rolecall.wire import cbor, codec_for
from rolecall.wire.models import service_model
from rolecall.wire.rpcv2cbor import QueryCompatibleJsonCodec, RpcV2CborCodec

MODEL = service_model("cloudwatch")
CODEC = codec_for("cloudwatch")


def botocore_request(operation: str, params: dict) -> HttpRequest:
    serializer = serialize.create_serializer("smithy-rpc-v2-cbor")
    req = serializer.serialize_to_request(params, MODEL.operation_model(operation))
    return HttpRequest("POST", req["url_path"], headers=Headers(dict(req["headers"])), body=req["body"])


def botocore_parse(operation: str, response) -> dict:
    parser = parsers.create_parser("smithy-rpc-v2-cbor")
    return parser.parse(
        {"status_code": response.status, "headers": dict(response.headers), "body": response.body},
        MODEL.operation_model(operation).output_shape,
    )


def test_botocore_requests_decode_and_responses_parse():
    when = datetime(2027, 1, 15, 8, 0, 30, tzinfo=UTC)
    req = botocore_request(
        "PutMetricData",
        {
            "Namespace": "App",
            "MetricData": [
                {
                    "MetricName": "Errors",
                    "Value": 2.5,
                    "Timestamp": when,
                    "Dimensions": [{"Name": "a", "Value": "b"}],
                }
            ],
        },
    )
    codec = CODEC.for_request(req)
    assert isinstance(codec, RpcV2CborCodec)
    operation, params = codec.decode(req)
    assert operation == "PutMetricData"
    datum = params["MetricData"][0]
    assert (datum["MetricName"], datum["Value"], datum["Timestamp"]) == ("Errors", 2.5, when)
    response = codec.encode(
        "GetMetricData",
        {
            "MetricDataResults": [
                {"Id": "m", "Timestamps": [when.timestamp()], "Values": [1.5], "StatusCode": "Complete"}
            ]
        },
        "req-1",
    )
    parsed = botocore_parse("GetMetricData", response)
    (result,) = parsed["MetricDataResults"]
    assert result["Timestamps"][0].timestamp() == when.timestamp() and result["Values"] == [1.5]


def test_errors_carry_the_query_code():
    response = CODEC.encode_error(AwsError("bad", code="InvalidParameterValue"), "req-2")
    parsed = botocore_parse("PutMetricData", response)
    assert parsed["Error"]["Code"] == "InvalidParameterValue" and parsed["Error"]["Message"] == "bad"
    assert dict(response.headers)["smithy-protocol"] == "rpc-v2-cbor"


def test_a_json_request_gets_the_json_codec():
    req = HttpRequest(
        "POST",
        "/",
        headers=Headers({"X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"}),
        body=b"{}",
    )
    assert isinstance(CODEC.for_request(req), QueryCompatibleJsonCodec)


def test_malformed_cbor_is_refused():
    with pytest.raises(cbor.CborError):
        cbor.decode(b"\xa1\x61")
    with pytest.raises(cbor.CborError):
        cbor.decode(b"\x01\x02")
    assert cbor.decode(cbor.encode({"a": [1, -2, 1.5, b"x", None, True, "é"]})) == {
        "a": [1, -2, 1.5, b"x", None, True, "é"]
    }
