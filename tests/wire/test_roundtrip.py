"""Every IAM, STS, CloudTrail and Logs operation, both directions, against botocore's own code.

SNS (query maps) and SimpleDB (flattened query lists) are included because IAM and STS inputs use neither:
the codecs are generic over the models, and these prove the shapes IAM/STS do not exercise.

Requests are built by botocore's serializers from example values for every input member; decoding them
must give back exactly those values. Outputs filled with example values for every output member are
encoded and parsed by botocore's response parsers; the result must equal what we encoded. A tagged union
takes one member per case, and an operation that reaches unions runs once per member of its widest one.
"""

from __future__ import annotations

import pytest

from rolecall.wire import codec_for
from rolecall.wire.models import service_model
from tests.wire.botocore_io import parse_response, request_for
from tests.wire.samples import sample, union_choices, without_metadata

SERVICES = ("iam", "sts", "cloudtrail", "logs", "sns", "sdb")


def _cases(direction: str) -> list[tuple[str, str, int]]:
    """(service, operation, union member choice) for every operation, one case per member of its widest
    union in that direction. Event-stream responses (Logs' StartLiveTail, GetLogObject) are a framing of
    their own, not served here."""
    cases = []
    for service in SERVICES:
        model = service_model(service)
        for operation in model.operation_names:
            op_model = model.operation_model(operation)
            if direction == "output" and op_model.has_event_stream_output:
                continue
            shape = op_model.input_shape if direction == "input" else op_model.output_shape
            cases += [(service, operation, choice) for choice in range(union_choices(shape))]
    return cases


@pytest.mark.parametrize(("service", "operation", "choice"), _cases("input"))
def test_request_round_trip(service: str, operation: str, choice: int) -> None:
    op_model = service_model(service).operation_model(operation)
    params = sample(op_model.input_shape, choice=choice) if op_model.input_shape is not None else {}
    request = request_for(service, operation, params)
    decoded_operation, decoded = codec_for(service).decode(request, validate=False)
    assert decoded_operation == operation
    assert decoded == params


@pytest.mark.parametrize(("service", "operation", "choice"), _cases("output"))
def test_response_round_trip(service: str, operation: str, choice: int) -> None:
    op_model = service_model(service).operation_model(operation)
    output = sample(op_model.output_shape, choice=choice) if op_model.output_shape is not None else {}
    response = codec_for(service).encode(operation, output, "0b5ad6d1-0000-4000-8000-000000000001")
    assert response.status == 200
    parsed = parse_response(service, operation, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "0b5ad6d1-0000-4000-8000-000000000001"
    assert without_metadata(parsed) == output
