"""The REST-JSON protocol (Lambda, ...): the operation is the method and path, members live where the model says.

Requests:  the operation comes from the method and the requestUri template (rolecall.wire.routing). Members
           with "location": "uri" come from path labels, "querystring" from the query, "header"/"headers"
           from headers (typed: integers, booleans, RFC 822 timestamps, comma-separated lists, base64 JSON
           values); the rest from the JSON body -- or, when the input names a "payload" member, the body is
           that member: raw bytes for a blob or string (Lambda's Invoke Payload), JSON for a structure.
Responses: the output's "statusCode" member, when set, is the HTTP status (Invoke: 200, 202 or 204), else
           the operation's responseCode; "header" members become headers (X-Amz-Function-Error, ...); the
           body is the payload member (raw bytes) or the remaining members as JSON (timestamps as epoch
           seconds, blobs base64). A 204 has no body.
Errors:    the x-amzn-ErrorType header names the code (botocore's rest-json parser reads it there first) and
           the body is {"Type": "User"|"Service", "message": "..."}, with the message key spelled as the
           model's error shape spells it (Lambda's ResourceNotFoundException says "Message", its
           InvalidParameterValueException "message"); errors the model does not list get {"Message": ...},
           as Lambda's AccessDeniedException does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from botocore.model import OperationModel, Shape

from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire.codec import BadValue, Codec, parse_json, read_labelled, reader_of_steps
from rolecall.wire.jsonrpc import (
    JsonReaderCompiler,
    JsonWriterCompiler,
    ObjectMembers,
    dump_json,
    json_error_name,
    read_object_members,
)
from rolecall.wire.models import lower_first
from rolecall.wire.routing import Router, parse_query
from rolecall.wire.timestamps import format_epoch, format_iso8601, parse_timestamp, to_datetime

CONTENT_TYPE = "application/json"

# What a service calls a request body it cannot read: service -> (code, message prefix).
UNREADABLE_BODY: dict[str, tuple[str, str]] = {
    "lambda": ("InvalidRequestContentException", "Could not parse request body into json: "),
}
DEFAULT_UNREADABLE_BODY = ("SerializationException", "")


@dataclass
class RestInput:
    """What an operation's reader works on: the request and the path labels its route matched."""

    req: HttpRequest
    labels: dict[str, str]
    query: dict[str, list[str]]


# -- typed values in headers and query strings ---------------------------------------------------------------


def _text_reader(shape: Shape) -> Callable[[str], Any]:
    """Reads one header or query-string value of a scalar shape."""
    kind = shape.type_name
    if kind == "string":
        if shape.serialization.get("jsonvalue") or shape.metadata.get("jsonvalue"):

            def read_json_value(text: str) -> Any:
                try:
                    return parse_json(base64.b64decode(text, validate=True))
                except (binascii.Error, ValueError):
                    raise BadValue(text, "Invalid base64-encoded JSON value") from None

            return read_json_value
        return lambda text: text
    if kind in ("integer", "long", "bigInteger"):

        def read_int(text: str) -> int:
            try:
                return int(text.strip())
            except ValueError:
                raise BadValue(text, f"STRING_VALUE can not be converted to an Integer: {text}") from None

        return read_int
    if kind in ("float", "double", "bigDecimal"):

        def read_float(text: str) -> float:
            try:
                return float(text.strip())
            except ValueError:
                raise BadValue(text, f"STRING_VALUE can not be converted to a Double: {text}") from None

        return read_float
    if kind == "boolean":

        def read_bool(text: str) -> bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise BadValue(text, f"STRING_VALUE can not be converted to a Boolean: {text}")
            return lowered == "true"

        return read_bool
    if kind == "timestamp":

        def read_timestamp(text: str) -> Any:
            try:
                return parse_timestamp(text)
            except ValueError:
                raise BadValue(text, f"STRING_VALUE can not be converted to a Date: {text}") from None

        return read_timestamp
    if kind == "blob":

        def read_blob(text: str) -> bytes:
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise BadValue(text, "Base64 encoded binary data is not valid") from None

        return read_blob
    return lambda text: text


def _text_writer(shape: Shape) -> Callable[[Any], str]:
    """Writes one output member as a header value."""
    kind = shape.type_name
    if kind == "string" and (shape.serialization.get("jsonvalue") or shape.metadata.get("jsonvalue")):
        return lambda value: base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    if kind == "boolean":
        return lambda value: "true" if value else "false"
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat") or "rfc822"
        if fmt == "iso8601":
            return format_iso8601
        if fmt == "unixTimestamp":
            return lambda value: str(format_epoch(value))
        return lambda value: (
            value if isinstance(value, str) else format_datetime(to_datetime(value), usegmt=True)
        )
    if kind == "blob":
        return lambda value: base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
    if kind == "list":
        item = _text_writer(shape.member)
        return lambda value: ",".join(item(v) for v in value)
    return str


# -- the codec -------------------------------------------------------------------------------------------------


class RestJsonCodec(Codec):
    protocol = "rest-json"
    validation_error_code = "ValidationException"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.router = Router(model)
        self._readers = JsonReaderCompiler()
        self._writers = JsonWriterCompiler()
        self._unreadable = UNREADABLE_BODY.get(self.service_name, DEFAULT_UNREADABLE_BODY)
        self._message_keys = {
            (shape.error_code or shape.name): (
                "Message" if "Message" in shape.members else "message",
                "Type" in shape.members,
            )
            for shape in model.error_shapes
        }

    # -- requests ----------------------------------------------------------------------------------------

    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        query = parse_query(req.query_string)
        found = self.router.find(req.method, req.path, query)
        if found is None:
            raise AwsError("", code="UnknownOperationException", status=404)
        operation, labels = found
        return operation, self.read_input(operation, RestInput(req, labels, query), validate=validate)

    def bad_value_error(self, exc: BadValue) -> AwsError:
        code, prefix = self._unreadable
        return AwsError(prefix + exc.expected, code=code, status=400)

    def _compile_reader(self, op_model: OperationModel) -> Callable[[Any], dict[str, Any]]:
        shape = op_model.input_shape
        if shape is None:
            return lambda source: {}
        steps: list[Callable[[RestInput, dict[str, Any]], None]] = []
        body_members: ObjectMembers = []
        payload_name = shape.serialization.get("payload")
        fixed_keys = set(parse_query(op_model.http.get("requestUri", "").partition("?")[2]))
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name") or name
            if location == "uri":
                steps.append(self._uri_step(name, wire_name, member))
            elif location == "querystring":
                steps.append(self._query_step(name, wire_name, member, shape, fixed_keys))
            elif location == "header":
                steps.append(self._header_step(name, wire_name, member))
            elif location == "headers":
                steps.append(self._header_map_step(name, wire_name))
            elif location is None and name != payload_name:
                body_members.append((name, wire_name, lower_first(name), self._readers.reader(member)))
        if payload_name is not None:
            steps.append(self._payload_step(payload_name, shape.members[payload_name]))
        elif body_members:
            steps.append(self._body_step(body_members))
        return reader_of_steps(steps)

    @staticmethod
    def _uri_step(name: str, label: str, member: Shape) -> Callable[[RestInput, dict[str, Any]], None]:
        convert = _text_reader(member)
        segment = lower_first(name)

        def from_uri(source: RestInput, out: dict[str, Any]) -> None:
            value = source.labels.get(label)
            if value is not None:
                out[name] = read_labelled(convert, value, segment)

        return from_uri

    @staticmethod
    def _query_step(
        name: str, key: str, member: Shape, shape: Shape, fixed_keys: set[str]
    ) -> Callable[[RestInput, dict[str, Any]], None]:
        segment = lower_first(name)
        if member.type_name == "map":
            # Every query parameter neither another member nor the route claims (API Gateway's parameters).
            claimed = fixed_keys | {
                m.serialization.get("name") or n
                for n, m in shape.members.items()
                if m.serialization.get("location") == "querystring" and m.type_name != "map"
            }
            list_values = member.value.type_name == "list"

            def map_from_query(source: RestInput, out: dict[str, Any]) -> None:
                found = {k: (v if list_values else v[0]) for k, v in source.query.items() if k not in claimed}
                if found:
                    out[name] = found

            return map_from_query
        if member.type_name == "list":
            convert_item = _text_reader(member.member)

            def list_from_query(source: RestInput, out: dict[str, Any]) -> None:
                values = source.query.get(key)
                if values is not None:
                    out[name] = [read_labelled(convert_item, v, segment) for v in values]

            return list_from_query
        convert = _text_reader(member)

        def from_query(source: RestInput, out: dict[str, Any]) -> None:
            values = source.query.get(key)
            if values:
                out[name] = read_labelled(convert, values[0], segment)

        return from_query

    @staticmethod
    def _header_step(name: str, header: str, member: Shape) -> Callable[[RestInput, dict[str, Any]], None]:
        segment = lower_first(name)
        if member.type_name == "list":
            convert_item = _text_reader(member.member)

            def list_from_header(source: RestInput, out: dict[str, Any]) -> None:
                value = source.req.headers.get(header)
                if value is not None:
                    out[name] = [
                        read_labelled(convert_item, v.strip(), segment) for v in value.split(",") if v.strip()
                    ]

            return list_from_header
        convert = _text_reader(member)

        def from_header(source: RestInput, out: dict[str, Any]) -> None:
            value = source.req.headers.get(header)
            if value is not None:
                out[name] = read_labelled(convert, value, segment)

        return from_header

    @staticmethod
    def _header_map_step(name: str, prefix: str) -> Callable[[RestInput, dict[str, Any]], None]:
        lowered = prefix.lower()

        def map_from_headers(source: RestInput, out: dict[str, Any]) -> None:
            found = {k[len(lowered) :]: v for k, v in source.req.headers.items() if k.startswith(lowered)}
            if found:
                out[name] = found

        return map_from_headers

    def _payload_step(self, name: str, member: Shape) -> Callable[[RestInput, dict[str, Any]], None]:
        if member.type_name in ("blob", "string"):
            as_text = member.type_name == "string"

            def raw_payload(source: RestInput, out: dict[str, Any]) -> None:
                if source.req.body:
                    out[name] = source.req.body.decode("utf-8") if as_text else source.req.body

            return raw_payload
        read = self._readers.reader(member)

        def json_payload(source: RestInput, out: dict[str, Any]) -> None:
            document = _json_body(source.req.body)
            if document is not None:
                out[name] = read(document)

        return json_payload

    @staticmethod
    def _body_step(members: ObjectMembers) -> Callable[[RestInput, dict[str, Any]], None]:
        def from_body(source: RestInput, out: dict[str, Any]) -> None:
            document = _json_body(source.req.body)
            if document is None:
                return
            if not isinstance(document, dict):
                raise BadValue(document, "Start of list found where not expected")
            read_object_members(members, document, out)

        return from_body

    # -- responses -----------------------------------------------------------------------------------------

    def _compile_writer(self, op_model: OperationModel) -> Callable[[Any], Any] | None:
        shape = op_model.output_shape
        default_status = int(op_model.http.get("responseCode", 200))
        if shape is None:
            return lambda output: (default_status, [], b"")
        status_member: str | None = None
        headers: list[tuple[str, str, Callable[[Any], str]]] = []
        header_maps: list[tuple[str, str]] = []
        body: list[tuple[str, str, Callable[[Any], Any]]] = []
        payload_name = shape.serialization.get("payload")
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name") or name
            if location == "statusCode":
                status_member = name
            elif location == "header":
                headers.append((name, wire_name, _text_writer(member)))
            elif location == "headers":
                header_maps.append((name, wire_name))
            elif location is None and name != payload_name:
                body.append((name, wire_name, self._writers.writer(member)))
        write_payload: Callable[[Any], bytes] | None = None
        if payload_name is not None:
            payload_shape = shape.members[payload_name]
            write_payload = (
                _raw_bytes
                if payload_shape.type_name in ("blob", "string")
                else _json_writer(self._writers.writer(payload_shape))
            )

        def write(output: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
            status = int(output.get(status_member, default_status)) if status_member else default_status
            out_headers = [
                (header, convert(output[name]))
                for name, header, convert in headers
                if output.get(name) is not None
            ]
            for name, prefix in header_maps:
                out_headers += [(prefix + key, str(value)) for key, value in (output.get(name) or {}).items()]
            if status in (204, 304):
                return status, out_headers, b""
            if payload_name is not None:
                value = output.get(payload_name)
                data = b"" if value is None or write_payload is None else write_payload(value)
                return status, out_headers, data
            document = {
                key: convert(output[name]) for name, key, convert in body if output.get(name) is not None
            }
            return status, out_headers, dump_json(document)

        return write

    def encode(self, operation: str, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        write = self.plan(operation).write
        status, headers, data = write(output or {}) if write is not None else (200, [], b"")
        return self._response(status, headers, data, request_id)

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        code, message = json_error_name(err)
        message_key, typed = self._message_keys.get(code, ("Message", False))
        document: dict[str, Any] = {}
        if typed:
            document["Type"] = "User" if err.sender_fault else "Service"
        document[message_key] = message or None
        headers = [("x-amzn-ErrorType", code)]
        return self._response(err.status, headers, dump_json(document), request_id)

    @staticmethod
    def _response(status: int, headers: list[tuple[str, str]], data: bytes, request_id: str) -> HttpResponse:
        base = [("x-amzn-RequestId", request_id), ("Content-Length", str(len(data)))]
        if not any(name.lower() == "content-type" for name, _ in headers):  # an output member may set it
            base.append(("Content-Type", CONTENT_TYPE))
        return HttpResponse(status, base + headers, data)


def _raw_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _json_writer(write: Callable[[Any], Any]) -> Callable[[Any], bytes]:
    return lambda value: dump_json(write(value))


def _json_body(body: bytes) -> Any:
    """The parsed JSON body, or None when there is none."""
    if not body.strip():
        return None
    try:
        return parse_json(body)
    except UnicodeError:
        raise
    except ValueError as exc:
        raise BadValue(body, f"{type(exc).__name__}: {exc}") from None
