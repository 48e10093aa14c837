"""The REST-JSON codec against botocore's own serializer and parser (Lambda, plus services with other shapes).

Round trips: every operation of Lambda and of API Gateway (query-string maps, header maps), EFS and Glacier
(greedy labels, header members, blob payloads) is serialized by botocore from example values and must decode
back to exactly those values; example outputs are encoded and must parse back to what was encoded.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore import parsers
from botocore.response import StreamingBody
from urllib3 import HTTPHeaderDict

from rolecall.errors import AccessDenied, AwsError, MissingAuthenticationToken
from rolecall.wire import HttpRequest, HttpResponse, codec_for
from rolecall.wire.models import service_model
from rolecall.wire.routing import compile_route, parse_query
from tests.wire.botocore_io import request_for
from tests.wire.samples import sample, without_metadata

LAMBDA = codec_for("lambda")
SERVICES = ("lambda", "apigateway", "efs", "glacier")
CASES = [(service, op) for service in SERVICES for op in service_model(service).operation_names]
RESPONSE_CASES = [
    (service, op)
    for service, op in CASES
    if not service_model(service).operation_model(op).has_event_stream_output
]
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:f1"


def parse_response(service: str, operation: str, response: HttpResponse) -> dict[str, Any]:
    """As botocore parses a live response: case-insensitive headers, a stream for streaming payloads."""
    model = service_model(service)
    op_model = model.operation_model(operation)
    body: Any = response.body
    if op_model.has_streaming_output and response.status < 300:
        body = StreamingBody(io.BytesIO(response.body), len(response.body))
    raw = {"status_code": response.status, "headers": HTTPHeaderDict(response.headers), "body": body}
    parsed = parsers.create_parser(model.protocol).parse(raw, op_model.output_shape)
    for key, value in parsed.items():
        if isinstance(value, StreamingBody):
            parsed[key] = value.read()
    return parsed


@pytest.mark.parametrize(("service", "operation"), CASES)
def test_request_round_trip(service: str, operation: str) -> None:
    op_model = service_model(service).operation_model(operation)
    params = sample(op_model.input_shape) if op_model.input_shape is not None else {}
    request = request_for(service, operation, params, validate=False)
    decoded_operation, decoded = codec_for(service).decode(request, validate=False)
    assert decoded_operation == operation
    assert decoded == params


@pytest.mark.parametrize(("service", "operation"), RESPONSE_CASES)
def test_response_round_trip(service: str, operation: str) -> None:
    op_model = service_model(service).operation_model(operation)
    output = sample(op_model.output_shape) if op_model.output_shape is not None else {}
    response = codec_for(service).encode(operation, output, "0b5ad6d1-0000-4000-8000-000000000001")
    if response.status in (204, 304):  # no body: only the located members come back
        output = {
            k: v
            for k, v in output.items()
            if op_model.output_shape.members[k].serialization.get("location") is not None
        }
    parsed = parse_response(service, operation, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "0b5ad6d1-0000-4000-8000-000000000001"
    assert without_metadata(parsed) == output


def test_invoke_request_headers_and_raw_payload() -> None:
    params = {
        "FunctionName": FUNCTION_ARN,
        "InvocationType": "Event",
        "LogType": "Tail",
        "ClientContext": "eyJhIjoxfQ==",
        "Payload": b'{"key": "value"}',
        "Qualifier": "$LATEST",
    }
    request = request_for("lambda", "Invoke", params)
    assert (
        request.path
        == "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af1/invocations"
    )
    assert request.body == b'{"key": "value"}'
    assert LAMBDA.decode(request) == ("Invoke", params)


def test_invoke_response_status_headers_and_payload() -> None:
    output = {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "LogResult": "U1RBUlQ=",
        "ExecutedVersion": "$LATEST",
        "Payload": b'{"errorMessage": "boom"}',
    }
    response = LAMBDA.encode("Invoke", output, "rid")
    assert response.status == 200
    assert response.header("X-Amz-Function-Error") == "Unhandled"
    assert response.header("X-Amz-Log-Result") == "U1RBUlQ="
    assert response.body == b'{"errorMessage": "boom"}'
    parsed = parse_response("lambda", "Invoke", response)
    assert parsed["StatusCode"] == 200 and parsed["FunctionError"] == "Unhandled"


@pytest.mark.parametrize("status", [202, 204])
def test_invoke_accepted_and_dry_run_have_no_body(status: int) -> None:
    response = LAMBDA.encode("Invoke", {"StatusCode": status}, "rid")
    assert (response.status, response.body) == (status, b"")
    assert parse_response("lambda", "Invoke", response)["StatusCode"] == status


def test_create_function_json_body_with_base64_blob() -> None:
    params = {
        "FunctionName": "f1",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Handler": "app.handler",
        "Code": {"ZipFile": b"PK\x03\x04zip"},
        "Timeout": 10,
        "Environment": {"Variables": {"AB": "1"}},
        "Tags": {"team": "x"},
    }
    request = request_for("lambda", "CreateFunction", params)
    assert (request.method, request.path) == ("POST", "/2015-03-31/functions")
    assert LAMBDA.decode(request) == ("CreateFunction", params)


def test_create_function_answers_201_from_the_model() -> None:
    response = LAMBDA.encode("CreateFunction", {"FunctionName": "f1"}, "rid")
    assert response.status == 201
    assert json.loads(response.body) == {"FunctionName": "f1"}


def test_list_functions_query_members() -> None:
    request = request_for("lambda", "ListFunctions", {"MaxItems": 5, "Marker": "m/1"})
    assert LAMBDA.decode(request) == ("ListFunctions", {"MaxItems": 5, "Marker": "m/1"})


def test_validation_uses_lambda_wording() -> None:
    request = request_for(
        "lambda", "CreateFunction", {"FunctionName": "f1", "Role": "r", "Code": {}}, validate=False
    )
    with pytest.raises(AwsError) as caught:
        LAMBDA.decode(request)
    assert caught.value.code == "ValidationException"
    assert (
        "Value 'r' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern"
        in (caught.value.message)
    )


def test_unreadable_body_and_wrong_types() -> None:
    bad = HttpRequest("POST", "/2015-03-31/functions", "", {"Host": "h"}, b"{not json")
    with pytest.raises(AwsError) as caught:
        LAMBDA.decode(bad)
    assert (caught.value.code, caught.value.status) == ("InvalidRequestContentException", 400)
    assert caught.value.message.startswith("Could not parse request body into json: ")
    wrong = HttpRequest("POST", "/2015-03-31/functions", "", {"Host": "h"}, b'{"Timeout": "ten"}')
    with pytest.raises(AwsError) as caught:
        LAMBDA.decode(wrong)
    assert caught.value.code == "InvalidRequestContentException"
    header = HttpRequest("GET", "/2015-03-31/functions", "MaxItems=many", {"Host": "h"}, b"")
    with pytest.raises(AwsError) as caught:
        LAMBDA.decode(header)
    assert caught.value.code == "InvalidRequestContentException"


def test_unknown_route() -> None:
    with pytest.raises(AwsError) as caught:
        LAMBDA.decode(HttpRequest("PATCH", "/2015-03-31/functions", "", {"Host": "h"}, b""))
    assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 404)


def test_fixed_query_routes_win_over_the_bare_path() -> None:
    find = HttpRequest("GET", "/2018-10-31/layers", "find=LayerVersion&Arn=arn%3Ax", {"Host": "h"}, b"")
    assert LAMBDA.decode(find, validate=False)[0] == "GetLayerVersionByArn"
    plain = HttpRequest("GET", "/2018-10-31/layers", "", {"Host": "h"}, b"")
    assert LAMBDA.decode(plain, validate=False)[0] == "ListLayers"


def test_route_labels_are_decoded_and_greedy_labels_span_segments() -> None:
    route = compile_route("GetObject", "GET", "/{Bucket}/{Key+}")
    assert route.match("/b/a%20b/c/d", {}) == {"Bucket": "b", "Key": "a b/c/d"}
    assert route.match("/b", {}) is None
    assert parse_query("a=1&a=2&b=") == {"a": ["1", "2"], "b": [""]}


def parse_error(err: AwsError, operation: str = "GetFunction") -> tuple[dict, dict]:
    response = LAMBDA.encode_error(err, "rid", operation)
    parsed = parse_response("lambda", operation, response)
    return parsed, json.loads(response.body)


def test_modeled_errors_spell_their_message_key_as_the_model_does() -> None:
    parsed, body = parse_error(
        AwsError(f"Function not found: {FUNCTION_ARN}", code="ResourceNotFoundException", status=404)
    )
    assert body == {"Type": "User", "Message": f"Function not found: {FUNCTION_ARN}"}
    assert parsed["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": f"Function not found: {FUNCTION_ARN}",
    }
    message = "The role defined for the function cannot be assumed by Lambda."
    parsed, body = parse_error(
        AwsError(message, code="InvalidParameterValueException", status=400), "CreateFunction"
    )
    assert body == {"Type": "User", "message": message}
    assert parsed["Error"]["Code"] == "InvalidParameterValueException"
    assert parsed["Error"]["Message"] == message


def test_query_protocol_errors_take_their_json_names() -> None:
    parsed, body = parse_error(AccessDenied("User: arn:aws:iam::123456789012:user/u is not authorized"))
    assert parsed["Error"]["Code"] == "AccessDeniedException"
    assert body == {"Message": "User: arn:aws:iam::123456789012:user/u is not authorized"}
    parsed, _ = parse_error(MissingAuthenticationToken("Request is missing Authentication Token"))
    assert parsed["Error"] == {
        "Code": "MissingAuthenticationTokenException",
        "Message": "Missing Authentication Token",
    }
    response = LAMBDA.encode_error(AwsError("x", code="ServiceException", status=500), "rid")
    assert json.loads(response.body)["Type"] == "Service"
