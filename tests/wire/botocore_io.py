"""Build requests the way botocore sends them, and read responses the way botocore parses them.

These helpers drive the codecs and the verifier with botocore's own serializers, signers and parsers, so
the tests check our side against the real client code rather than against our own idea of the protocol.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore import parsers, serialize
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials

from rolecall.wire import HttpRequest, HttpResponse
from rolecall.wire.models import service_model

ENDPOINT = "http://localhost:4566"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def botocore_request(
    service: str, operation: str, params: dict[str, Any], *, validate: bool = True
) -> AWSRequest:
    model = service_model(service)
    op_model = model.operation_model(operation)
    serializer = serialize.create_serializer(model.protocol, include_validation=validate)
    request_dict = serializer.serialize_to_request(params, op_model)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    return create_request_object(request_dict)


def sign(
    aws_request: AWSRequest,
    service: str,
    *,
    region: str = "us-east-1",
    secret: str = SECRET_KEY,
    token: str | None = None,
    presign_expires: int | None = None,
) -> AWSRequest:
    credentials = Credentials(ACCESS_KEY, secret, token)
    if presign_expires is None:
        SigV4Auth(credentials, service, region).add_auth(aws_request)
    else:
        SigV4QueryAuth(credentials, service, region, expires=presign_expires).add_auth(aws_request)
    return aws_request


def to_http_request(aws_request: AWSRequest) -> HttpRequest:
    prepared = aws_request.prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = [("Host", url.netloc)]
    headers += [
        (name, value if isinstance(value, str) else value.decode())
        for name, value in prepared.headers.items()
    ]
    return HttpRequest(
        method=prepared.method, path=url.path or "/", query_string=url.query, headers=headers, body=body
    )


def request_for(
    service: str, operation: str, params: dict[str, Any], *, validate: bool = True
) -> HttpRequest:
    return to_http_request(botocore_request(service, operation, params, validate=validate))


def parse_response(service: str, operation: str, response: HttpResponse) -> dict[str, Any]:
    model = service_model(service)
    op_model = model.operation_model(operation)
    parser = parsers.create_parser(model.protocol)
    raw = {
        "status_code": response.status,
        "headers": {name.lower(): value for name, value in response.headers},
        "body": response.body,
    }
    return parser.parse(raw, op_model.output_shape)
