"""Tagged unions in every protocol, both directions, against botocore's serializers and parsers.

The models rolecall serves have few unions (IAM's PolicyIdentifier in a request, CloudWatch Logs' one-member
unions), and none in a query, ec2, rest-json or rest-xml response. So one small model, the same shapes under
each protocol, carries a union of every kind of member -- a string, a number, a structure, a list -- alone and
in a list: each member set alone must decode to exactly what botocore sent, and encode to a response botocore
parses back unchanged (botocore refuses a response union with no member or several set).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore import parsers, serialize
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.model import ServiceModel
from urllib3 import HTTPHeaderDict

from rolecall.errors import AwsError
from rolecall.http import HttpRequest
from rolecall.wire.codec import Codec
from rolecall.wire.protocols import CODECS
from tests.wire.botocore_io import ENDPOINT, to_http_request

CHOICES: dict[str, Any] = {
    "Text": "v&<>\"' é/+=%",
    "Number": 42,
    "Nested": {"Name": "inner <name>"},
    "Items": ["a&b", "c"],
}

SHAPES: dict[str, Any] = {
    "PickRequest": {
        "type": "structure",
        "members": {"Choice": {"shape": "Choice"}, "Choices": {"shape": "ChoiceList"}},
    },
    "PickResponse": {
        "type": "structure",
        "members": {"Choice": {"shape": "Choice"}, "Choices": {"shape": "ChoiceList"}},
    },
    "Choice": {
        "type": "structure",
        "union": True,
        "members": {
            "Text": {"shape": "Text"},
            "Number": {"shape": "Number"},
            "Nested": {"shape": "Nested"},
            "Items": {"shape": "TextList"},
        },
    },
    "ChoiceList": {"type": "list", "member": {"shape": "Choice"}},
    "Nested": {"type": "structure", "members": {"Name": {"shape": "Text"}}},
    "TextList": {"type": "list", "member": {"shape": "Text"}},
    "Text": {"type": "string"},
    "Number": {"type": "integer"},
}

METADATA: dict[str, dict[str, Any]] = {
    "json": {"jsonVersion": "1.1", "targetPrefix": "Unions_20240501"},
    "rest-json": {},
    "rest-xml": {"xmlNamespace": "https://unions.example.com/doc/2024-05-01/"},
    "query": {"xmlNamespace": "https://unions.example.com/doc/2024-05-01/"},
    "ec2": {},
}


def model_for(protocol: str) -> ServiceModel:
    shapes = copy.deepcopy(SHAPES)
    output: dict[str, Any] = {"shape": "PickResponse"}
    request: dict[str, Any] = {"shape": "PickRequest"}
    if protocol == "rest-xml":  # a body of members (no payload member) is an element of this name
        request["locationName"] = "PickRequest"
    if protocol == "query":
        output["resultWrapper"] = "PickResult"
    if protocol == "ec2":  # EC2 names members with lower-camel locationNames
        for shape in shapes.values():
            for name, member in shape.get("members", {}).items():
                member["locationName"] = name[:1].lower() + name[1:]
    return ServiceModel(
        {
            "version": "2.0",
            "metadata": {
                "apiVersion": "2024-05-01",
                "endpointPrefix": "unions",
                "protocol": protocol,
                "serviceId": "Unions",
                "signatureVersion": "v4",
                "uid": "unions-2024-05-01",
                **METADATA[protocol],
            },
            "operations": {
                "Pick": {
                    "name": "Pick",
                    "http": {"method": "POST", "requestUri": "/pick" if protocol.startswith("rest") else "/"},
                    "input": request,
                    "output": output,
                }
            },
            "shapes": shapes,
        },
        service_name="unions",
    )


def codec_and_model(protocol: str) -> tuple[Codec, ServiceModel]:
    model = model_for(protocol)
    return CODECS[protocol](model), model


def values(member: str) -> dict[str, Any]:
    """The union set to `member` alone, on its own and in a list (beside a union set to another member)."""
    other = "Number" if member != "Number" else "Text"
    return {
        "Choice": {member: CHOICES[member]},
        "Choices": [{member: CHOICES[member]}, {other: CHOICES[other]}],
    }


def request(model: ServiceModel, params: dict[str, Any], *, validate: bool = True) -> HttpRequest:
    """The request botocore sends for Pick(**params)."""
    serializer = serialize.create_serializer(model.protocol, include_validation=validate)
    request_dict = serializer.serialize_to_request(params, model.operation_model("Pick"))
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    return to_http_request(create_request_object(request_dict))


CASES = [(protocol, member) for protocol in METADATA for member in CHOICES]


@pytest.mark.parametrize(("protocol", "member"), CASES)
def test_request_union_round_trip(protocol: str, member: str) -> None:
    codec, model = codec_and_model(protocol)
    params = values(member)
    assert codec.decode(request(model, params)) == ("Pick", params)


@pytest.mark.parametrize(("protocol", "member"), CASES)
def test_response_union_round_trip(protocol: str, member: str) -> None:
    codec, model = codec_and_model(protocol)
    output = values(member)
    response = codec.encode("Pick", output, "0b5ad6d1-0000-4000-8000-00000000000u")
    raw = {"status_code": response.status, "headers": HTTPHeaderDict(response.headers), "body": response.body}
    parsed = parsers.create_parser(protocol).parse(raw, model.operation_model("Pick").output_shape)
    parsed.pop("ResponseMetadata", None)
    assert parsed == output


@pytest.mark.parametrize("protocol", list(METADATA))
def test_request_union_with_two_members_is_refused(protocol: str) -> None:
    codec, model = codec_and_model(protocol)
    params = {"Choice": {"Text": "t", "Number": 1}}
    sent = request(model, params, validate=False)
    assert codec.decode(sent, validate=False) == ("Pick", params)
    with pytest.raises(AwsError) as caught:
        codec.decode(sent)
    assert caught.value.status == 400
    assert caught.value.code == codec.validation_error_code
    assert caught.value.message == (
        "1 validation error detected: Value at 'choice' failed to satisfy constraint: "
        "Member must have exactly one of the following members set: [text, number, nested, items]"
    )
