"""The ec2 protocol codec against botocore's own EC2 serializer and response parser.

Every EC2 operation goes both ways: requests built by botocore from example values for every input member
must decode to exactly those values, and outputs with every member filled must parse back unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest

from rolecall.errors import AwsError
from rolecall.wire import HttpRequest, codec_for
from rolecall.wire.models import service_model
from tests.wire.botocore_io import parse_response, request_for
from tests.wire.samples import sample, without_metadata

EC2 = codec_for("ec2")
MODEL = service_model("ec2")
OPERATIONS = sorted(MODEL.operation_names)
REQUEST_ID = "0b5ad6d1-0000-4000-8000-0000000000e2"


def on_the_wire(value: Any) -> Any:
    """What survives the ec2 protocol: it has no way to send an empty list or an empty structure."""
    if isinstance(value, dict):
        pruned = {k: on_the_wire(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [item for item in (on_the_wire(v) for v in value) if item not in ({}, [])]
    return value


def form(body: str) -> HttpRequest:
    return HttpRequest(
        method="POST",
        path="/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": "localhost"},
        body=body.encode(),
    )


def test_every_operation_decodes_what_botocore_sends() -> None:
    for operation in OPERATIONS:
        op_model = MODEL.operation_model(operation)
        params = sample(op_model.input_shape) if op_model.input_shape is not None else {}
        request = request_for("ec2", operation, params, validate=False)
        assert EC2.decode(request, validate=False) == (operation, on_the_wire(params)), operation


def test_every_output_parses_in_botocore() -> None:
    for operation in OPERATIONS:
        op_model = MODEL.operation_model(operation)
        output = sample(op_model.output_shape) if op_model.output_shape is not None else {}
        response = EC2.encode(operation, output, REQUEST_ID)
        parsed = parse_response("ec2", operation, response)
        assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID, operation
        assert without_metadata(parsed) == output, operation


def test_run_instances_wire_names() -> None:
    params = {
        "ImageId": "ami-0abcdef1234567890",
        "MinCount": 1,
        "MaxCount": 2,
        "IamInstanceProfile": {"Name": "app"},
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}],
        "DryRun": False,
    }
    request = request_for("ec2", "RunInstances", params)
    body = request.body.decode()
    # locationNames go up with a capital letter; lists number their elements directly.
    for piece in (
        "IamInstanceProfile.Name=app",
        "MetadataOptions.HttpTokens=required",
        "TagSpecification.1.Tag.1.Key=Name",
        "DryRun=false",
    ):
        assert piece in body
    assert EC2.decode(request) == ("RunInstances", params)


def test_describe_instances_filters_decode() -> None:
    body = (
        "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2"
        "&Filter.1.Name=instance-state-name&Filter.1.Value.1=running&Filter.1.Value.2=stopped"
        "&Filter.2.Name=tag%3AName&Filter.2.Value.1=web"
    )
    assert EC2.decode(form(body)) == (
        "DescribeInstances",
        {
            "InstanceIds": ["i-1", "i-2"],
            "Filters": [
                {"Name": "instance-state-name", "Values": ["running", "stopped"]},
                {"Name": "tag:Name", "Values": ["web"]},
            ],
        },
    )


def test_response_envelope_is_ec2s() -> None:
    response = EC2.encode(
        "DescribeInstances",
        {"Reservations": [{"ReservationId": "r-1", "Instances": [{"InstanceId": "i-1"}]}]},
        REQUEST_ID,
    )
    text = response.body.decode()
    assert '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text
    assert f"<requestId>{REQUEST_ID}</requestId>" in text
    assert "<reservationSet><item><reservationId>r-1</reservationId>" in text
    assert "<instancesSet><item><instanceId>i-1</instanceId></item></instancesSet>" in text


def test_errors_use_ec2s_envelope() -> None:
    err = AwsError("The instance ID 'i-1' does not exist", code="InvalidInstanceID.NotFound", status=400)
    response = EC2.encode_error(err, REQUEST_ID)
    assert response.status == 400
    assert "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>" in response.body.decode()
    parsed = parse_response("ec2", "DescribeInstances", response)
    assert parsed["Error"] == {
        "Code": "InvalidInstanceID.NotFound",
        "Message": "The instance ID 'i-1' does not exist",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("Version=2016-11-15", "MissingParameter", "The request must contain the parameter Action"),
        (
            "Action=Nope&Version=2016-11-15",
            "InvalidAction",
            "The action Nope is not valid for this web service.",
        ),
        ("Action=DescribeInstances", "MissingParameter", "The request must contain the parameter Version"),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MaxCount=1",
            "MissingParameter",
            "The request must contain the parameter MinCount",
        ),
        (
            "Action=AssociateIamInstanceProfile&Version=2016-11-15&InstanceId=i-1",
            "MissingParameter",
            "The request must contain the parameter IamInstanceProfile",
        ),
    ],
)
def test_request_errors(body: str, code: str, message: str) -> None:
    with pytest.raises(AwsError) as caught:
        EC2.decode(form(body))
    assert (caught.value.code, caught.value.message) == (code, message)


def test_a_value_of_the_wrong_type_is_an_invalid_parameter_value() -> None:
    with pytest.raises(AwsError) as caught:
        EC2.decode(form("Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=one&MaxCount=1"))
    assert caught.value.code == "InvalidParameterValue"
    assert "minCount" in caught.value.message
