"""The AWS JSON 1.0/1.1 protocol (CloudTrail, CloudWatch Logs): POST / with X-Amz-Target.

Requests:  X-Amz-Target: <targetPrefix>.<Operation>, body = the input members as JSON.
           botocore sends the model's full prefix ("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101");
           older SDKs send its last segment ("CloudTrail_20131101"): both are accepted.
Responses: the output members as JSON (timestamps as epoch seconds, blobs base64),
           Content-Type application/x-amz-json-1.1.
Errors:    {"__type": "Code", "message": "..."} with the error's status and an x-amzn-ErrorType header.
           The query-protocol names our handlers raise for common errors are translated to the names JSON
           services use (ValidationError -> ValidationException, SignatureDoesNotMatch ->
           InvalidSignatureException, ...).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, Shape

from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire.codec import BadValue, Codec, compile_once, parse_json
from rolecall.wire.models import lower_first
from rolecall.wire.timestamps import format_epoch, parse_timestamp, to_datetime

Reader = Callable[[Any], Any]
Writer = Callable[[Any], Any]

# Common errors as JSON-protocol services name them: query code -> (json code, replacement message or None).
JSON_ERROR_NAMES: dict[str, tuple[str, str | None]] = {
    "ValidationError": ("ValidationException", None),
    "AccessDenied": ("AccessDeniedException", None),
    "SignatureDoesNotMatch": ("InvalidSignatureException", None),
    "IncompleteSignature": ("IncompleteSignatureException", None),
    "MissingAuthenticationToken": ("MissingAuthenticationTokenException", "Missing Authentication Token"),
    "InvalidClientTokenId": ("UnrecognizedClientException", None),
    "ExpiredToken": ("ExpiredTokenException", None),
    "InvalidAction": ("UnknownOperationException", None),
    "Throttling": ("ThrottlingException", None),
}

# Where a service departs from those names, after them: service -> {json code: (its code, its status)}.
# CloudWatch Logs reports model validation failures as InvalidParameterException, and every client error,
# AccessDeniedException included, with status 400.
SERVICE_ERROR_NAMES: dict[str, dict[str, tuple[str, int]]] = {
    "logs": {
        "ValidationException": ("InvalidParameterException", 400),
        "AccessDeniedException": ("AccessDeniedException", 400),
    },
}


def json_error_name(err: AwsError) -> tuple[str, str]:
    """(code, message) of `err` as JSON-protocol services name it (see JSON_ERROR_NAMES)."""
    renamed = JSON_ERROR_NAMES.get(err.code)
    if renamed is None:
        return err.code, err.message
    code, replacement = renamed
    return code, replacement if replacement is not None else err.message


def dump_json(document: Any) -> bytes:
    """A JSON document as the JSON protocols send it: compact, UTF-8, non-ASCII left unescaped."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_TYPE_NAMES = {
    "integer": "an Integer",
    "long": "a Long",
    "bigInteger": "a BigInteger",
    "float": "a Float",
    "double": "a Double",
    "bigDecimal": "a BigDecimal",
    "boolean": "a Boolean",
    "string": "a String",
    "timestamp": "a Date",
    "blob": "a ByteBuffer",
}


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "Start of structure or map found where not expected."
    if isinstance(value, list):
        return "Start of list found where not expected"
    return ""


def _conversion_error(value: Any, kind: str) -> BadValue:
    message = _json_kind(value)
    if not message:
        token = "STRING_VALUE" if isinstance(value, str) else "NUMBER_VALUE"
        if isinstance(value, bool):
            token = "VALUE_TRUE" if value else "VALUE_FALSE"
        message = f"{token} can not be converted to {_TYPE_NAMES.get(kind, 'a ' + kind)}"
    return BadValue(value, message)


class JsonReaderCompiler:
    """Compiles input shapes into readers of parsed JSON values (cached by shape name; recursion-safe)."""

    def __init__(self) -> None:
        self._readers: dict[str, Reader] = {}

    def reader(self, shape: Shape) -> Reader:
        return compile_once(self._readers, shape, self._compile)

    def _compile(self, shape: Shape) -> Reader:
        kind = shape.type_name
        if getattr(shape, "is_document_type", False):
            return lambda value: value
        if kind == "structure":
            members = [
                (name, member.serialization.get("name") or name, lower_first(name), self.reader(member))
                for name, member in shape.members.items()
            ]

            def read_structure(value: Any) -> dict[str, Any]:
                if not isinstance(value, dict):
                    raise _conversion_error(value, "structure")
                out: dict[str, Any] = {}
                read_object_members(members, value, out)
                return out

            return read_structure
        if kind == "list":
            read_item = self.reader(shape.member)

            def read_list(value: Any) -> list[Any]:
                if not isinstance(value, list):
                    raise _conversion_error(value, "list")
                items = []
                for index, item in enumerate(value, 1):
                    if item is None:
                        continue
                    try:
                        items.append(read_item(item))
                    except BadValue as exc:
                        exc.parts.append(f"{index}.member")
                        raise
                return items

            return read_list
        if kind == "map":
            read_value = self.reader(shape.value)

            def read_map(value: Any) -> dict[str, Any]:
                if not isinstance(value, dict):
                    raise _conversion_error(value, "map")
                out = {}
                for key, item in value.items():
                    if item is None:
                        continue
                    try:
                        out[key] = read_value(item)
                    except BadValue as exc:
                        exc.parts.append(str(key))
                        raise
                return out

            return read_map
        return _scalar_reader(kind)


# (member name, JSON key, member path segment, reader) for each member of a structure.
ObjectMembers = list[tuple[str, str, str, Reader]]


def read_object_members(members: ObjectMembers, document: dict[str, Any], out: dict[str, Any]) -> None:
    """Read the members of a JSON object into `out` (null and absent keys are left out)."""
    for name, key, segment, read in members:
        item = document.get(key)
        if item is None:
            continue
        try:
            out[name] = read(item)
        except BadValue as exc:
            exc.parts.append(segment)
            raise


def _scalar_reader(kind: str) -> Reader:
    if kind == "string":

        def read_string(value: Any) -> str:
            if not isinstance(value, str):
                raise _conversion_error(value, kind)
            return value

        return read_string
    if kind in ("integer", "long", "bigInteger"):

        def read_int(value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                raise _conversion_error(value, kind)
            return value

        return read_int
    if kind in ("float", "double", "bigDecimal"):

        def read_float(value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _conversion_error(value, kind)
            return float(value)

        return read_float
    if kind == "boolean":

        def read_bool(value: Any) -> bool:
            if not isinstance(value, bool):
                raise _conversion_error(value, kind)
            return value

        return read_bool
    if kind == "timestamp":

        def read_timestamp(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise _conversion_error(value, kind)
            try:
                return to_datetime(value) if not isinstance(value, str) else parse_timestamp(value)
            except (ValueError, OverflowError, OSError):
                raise _conversion_error(value, kind) from None

        return read_timestamp
    if kind == "blob":

        def read_blob(value: Any) -> bytes:
            if not isinstance(value, str):
                raise _conversion_error(value, kind)
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise BadValue(value, "Base64 encoded binary data is not valid") from None

        return read_blob
    return lambda value: value


class JsonWriterCompiler:
    """Compiles output shapes into functions producing JSON-ready values."""

    def __init__(self) -> None:
        self._writers: dict[str, Writer] = {}

    def writer(self, shape: Shape) -> Writer:
        return compile_once(self._writers, shape, self._compile)

    def _compile(self, shape: Shape) -> Writer:
        kind = shape.type_name
        if getattr(shape, "is_document_type", False):
            return lambda value: value
        if kind == "structure":
            members = [
                (name, member.serialization.get("name") or name, self.writer(member))
                for name, member in shape.members.items()
            ]

            def write_structure(value: Any) -> dict[str, Any]:
                out = {}
                for name, key, write in members:
                    item = value.get(name)
                    if item is not None:
                        out[key] = write(item)
                return out

            return write_structure
        if kind == "list":
            write_item = self.writer(shape.member)
            return lambda value: [write_item(item) for item in value if item is not None]
        if kind == "map":
            write_value = self.writer(shape.value)
            return lambda value: {key: write_value(item) for key, item in value.items() if item is not None}
        if kind == "timestamp":
            return format_epoch
        if kind == "blob":
            return lambda value: base64.b64encode(
                value.encode("utf-8") if isinstance(value, str) else bytes(value)
            ).decode("ascii")
        if kind == "boolean":
            return bool
        if kind in ("integer", "long", "bigInteger"):
            return int
        if kind in ("float", "double", "bigDecimal"):
            return float
        return lambda value: value if isinstance(value, str) else str(value)


class JsonCodec(Codec):
    protocol = "json"
    validation_error_code = "ValidationException"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.target_prefix: str = model.metadata["targetPrefix"]
        self.short_prefix = self.target_prefix.rsplit(".", 1)[-1]
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
        self._readers = JsonReaderCompiler()
        self._writers = JsonWriterCompiler()
        self._service_errors = SERVICE_ERROR_NAMES.get(model.service_name, {})

    def operation_from_target(self, target: str | None) -> str:
        if not target:
            raise AwsError("", code="UnknownOperationException", status=404)
        prefix, _, operation = target.rpartition(".")
        if prefix not in (self.target_prefix, self.short_prefix) or operation not in self.operation_names:
            raise AwsError("", code="UnknownOperationException", status=400)
        return operation

    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        operation = self.operation_from_target(req.headers.get("x-amz-target"))
        body: Any = {}
        if req.body.strip():
            try:
                body = parse_json(req.body)
            except UnicodeError:
                raise
            except ValueError:
                raise AwsError("", code="SerializationException", status=400) from None
        return operation, self.read_input(operation, body, validate=validate)

    def bad_value_error(self, exc: BadValue) -> AwsError:
        return AwsError(exc.expected, code="SerializationException", status=400)

    def _compile_reader(self, op_model: OperationModel) -> Callable[[Any], dict[str, Any]]:
        shape = op_model.input_shape
        if shape is None:
            return lambda body: {}
        return self._readers.reader(shape)

    def _compile_writer(self, op_model: OperationModel) -> Callable[[Any], Any] | None:
        shape = op_model.output_shape
        return None if shape is None else self._writers.writer(shape)

    def encode(self, operation: str, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        write = self.plan(operation).write
        document = write(output or {}) if write is not None else {}
        return self._response(200, document, request_id)

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        code, message = json_error_name(err)
        code, status = self._service_errors.get(code, (code, err.status))
        document: dict[str, str] = {"__type": code}
        if message:
            document["message"] = message
        return self._response(status, document, request_id, error_type=code)

    def _response(
        self, status: int, document: Any, request_id: str, error_type: str | None = None
    ) -> HttpResponse:
        data = dump_json(document)
        headers = [
            ("x-amzn-RequestId", request_id),
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(data))),
        ]
        if error_type is not None:
            headers.append(("x-amzn-ErrorType", error_type))
        return HttpResponse(status, headers, data)
