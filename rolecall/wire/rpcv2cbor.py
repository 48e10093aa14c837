"""The Smithy RPC v2 CBOR protocol (CloudWatch in current SDKs): POST /service/SERVICE/operation/OPERATION.

Requests:  header smithy-protocol: rpc-v2-cbor, the input members as one CBOR map (timestamps as tag 1
           epoch seconds, blobs as byte strings); SERVICE is the last segment of the model's target prefix.
Responses: the output members as a CBOR map, Content-Type application/cbor, smithy-protocol: rpc-v2-cbor.
Errors:    a CBOR map {"__type": code, "message": ...}. A service that is "awsQueryCompatible" (CloudWatch)
           also names its query-protocol error code in x-amzn-query-error ("Code;Sender"), which the SDKs
           report as the error's code.

Such a model also lists the JSON protocol (botocore prefers it: POST / with X-Amz-Target
GraniteServiceVersion20100801.Operation): a request marked so is served by QueryCompatibleJsonCodec.

The shapes are read and written by the JSON protocol's compiled readers and writers (the members are the
same); only the encoding differs, so byte strings are handed to them as base64 and timestamps as numbers.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore.model import Shape

from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire import cbor
from rolecall.wire.codec import Codec
from rolecall.wire.jsonrpc import JsonCodec, JsonWriterCompiler, Writer, json_error_name
from rolecall.wire.timestamps import format_epoch


def _as_json_values(value: Any) -> Any:
    """CBOR's byte strings as the base64 text the JSON readers take; everything else as it is."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _as_json_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json_values(v) for v in value]
    return value


class CborWriterCompiler(JsonWriterCompiler):
    def _compile(self, shape: Shape) -> Writer:
        if shape.type_name == "timestamp":
            return lambda value: cbor.Timestamp(format_epoch(value))
        if shape.type_name == "blob":
            return lambda value: value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return super()._compile(shape)


def _query_error_header(err: AwsError) -> tuple[str, str]:
    return ("x-amzn-query-error", f"{err.code};{'Sender' if err.sender_fault else 'Receiver'}")


class QueryCompatibleJsonCodec(JsonCodec):
    """The JSON protocol of a query-compatible model: errors also carry x-amzn-query-error."""

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        response = super().encode_error(err, request_id, operation)
        response.headers.append(_query_error_header(err))
        return response


class RpcV2CborCodec(JsonCodec):
    protocol = "smithy-rpc-v2-cbor"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self._writers = CborWriterCompiler()
        self.query_compatible = "awsQueryCompatible" in model.metadata
        json_codec = QueryCompatibleJsonCodec if self.query_compatible else JsonCodec
        self.json = json_codec(model) if "json" in model.metadata.get("protocols", ()) else None

    def for_request(self, req: HttpRequest) -> Codec:
        if (
            self.json is not None
            and req.headers.get("x-amz-target")
            and not req.headers.get("smithy-protocol")
        ):
            return self.json
        return self

    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        parts = req.path.split("/")
        # ["", "service", SERVICE, "operation", OPERATION]
        if len(parts) != 5 or parts[1] != "service" or parts[3] != "operation":
            raise AwsError("", code="UnknownOperationException", status=404)
        operation = self.operation_from_target(f"{parts[2]}.{parts[4]}")
        body: Any = {}
        if req.body:
            try:
                body = _as_json_values(cbor.decode(req.body))
            except cbor.CborError:
                raise AwsError("", code="SerializationException", status=400) from None
        return operation, self.read_input(operation, body, validate=validate)

    def _response(
        self, status: int, document: Any, request_id: str, error_type: str | None = None
    ) -> HttpResponse:
        data = cbor.encode(document)
        headers = [
            ("x-amzn-RequestId", request_id),
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(data))),
        ]
        if error_type is not None:
            headers.append(("x-amzn-ErrorType", error_type))
        return HttpResponse(status, headers, data)

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        code, message = json_error_name(err)
        document: dict[str, str] = {"__type": code}
        if message:
            document["message"] = message
        response = self._response(err.status, document, request_id, error_type=code)
        if self.query_compatible:
            response.headers.append(_query_error_header(err))
        return response
