"""The awsquery protocol (IAM, STS): form-encoded parameters in, XML out.

Requests carry Action and Version plus the input members flattened into dotted keys:
    Tags.member.1.Key=k&Tags.member.1.Value=v        (lists: <name>.member.<n>, 1-based)
    Attributes.entry.1.key=a&Attributes.entry.1.value=b   (maps)
    PolicyArns.member.1.arn=...                      (structures nest with ".")
An empty list is sent as "Tags=". Parameters come from the body (POST, form-encoded) and the query string.

Responses:
    <CreateRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <CreateRoleResult>...</CreateRoleResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </CreateRoleResponse>
Errors:
    <ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error>
    <RequestId>..</RequestId></ErrorResponse>
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from botocore.model import OperationModel, Shape

from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire.codec import BadValue, Codec, compile_once
from rolecall.wire.models import lower_first
from rolecall.wire.text_values import text_readers
from rolecall.wire.xmlout import XmlWriterCompiler, escape, member_tag, render

# A parsed parameter tree: every node is a dict of path segment -> child node; a node's own value, when the
# flat key ends there, is stored under "" (a segment can never be empty).
Node = dict[str, Any]
Reader = Callable[[Node], Any]

_INTEGER = re.compile(r"[+-]?[0-9]+")
# Encoded results kept per codec, by operation and the output's marshal bytes (a faithful copy of the value:
# equal bytes, equal output, equal XML). A read answered again while nothing changed (GetRole, say) is then
# encoded once: its XML cost 8 us a time, the key 0.6 us. Outputs whose key is larger are not kept, and the
# table starts over when full. Never kept: the output of an operation whose answer may hold a secret (a
# member the model marks sensitive, or named like a secret: AssumeRole's credentials, CreateAccessKey's).
_ENCODED_MAX, _ENCODED_KEY_MAX = 1024, 16 * 1024
_SECRET_NAME = re.compile(r"Secret|Token|Password|Credential|PrivateKey", re.IGNORECASE)
_VALUE = ""


def form_params(req: HttpRequest) -> dict[str, str]:
    """The request's parameters: the query string, then a form-encoded body (first occurrence wins)."""
    params: dict[str, str] = {}
    if req.query_string:
        _parse_form(req.query_string, params)
    if req.body and req.method.upper() != "GET":
        _parse_form(req.body.decode("utf-8"), params)
    return params


def _parse_form(text: str, into: dict[str, str]) -> None:
    """application/x-www-form-urlencoded, decoding only the pieces that need it (parse_qsl is slow)."""
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, errors="strict")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="strict")
        into.setdefault(name, value)


def param_tree(params: dict[str, str]) -> Node:
    root: Node = {}
    for key, value in params.items():
        node = root
        for segment in key.split("."):
            if not segment:
                break  # "A..B" or a trailing dot: not a key any serializer produces
            child = node.get(segment)
            if child is None:
                child = node[segment] = {}
            node = child
        else:
            node[_VALUE] = value
    return root


class QueryReaderCompiler:
    """Compiles input shapes into readers of a parameter tree (cached by shape name; recursion-safe)."""

    def __init__(self) -> None:
        self._readers: dict[str, Reader] = {}

    def reader(self, shape: Shape) -> Reader:
        return compile_once(self._readers, shape, self._compile)

    def member_key(self, member: Shape, member_name: str) -> str:
        """The parameter name a structure member is sent under."""
        return member_tag(member, member_name)

    def _compile(self, shape: Shape) -> Reader:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        convert = _FROM_TEXT.get(kind)

        def read_scalar(node: Node) -> Any:
            raw = node.get(_VALUE)
            if raw is None or convert is None:
                return raw
            return convert(raw)

        return read_scalar

    def _structure(self, shape: Shape) -> Reader:
        members = [
            (name, self.member_key(member, name), lower_first(name), self.reader(member))
            for name, member in shape.members.items()
        ]

        def read_structure(node: Node) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, key, segment, read in members:
                child = node.get(key)
                if child is None:
                    continue
                try:
                    value = read(child)
                except BadValue as exc:
                    exc.parts.append(segment)
                    raise
                if value is not None:
                    out[name] = value
            return out

        return read_structure

    def _list(self, shape: Shape) -> Reader:
        read_item = self.reader(shape.member)
        flattened = bool(shape.serialization.get("flattened"))
        item_key = shape.member.serialization.get("name") or "member"

        def read_list(node: Node) -> list[Any] | None:
            entries = node if flattened else node.get(item_key)
            if entries is None:
                # "Tags=" is how an empty list is sent.
                return [] if _VALUE in node else None
            items: list[Any] = []
            for index, child in _indexed(entries):
                try:
                    value = read_item(child)
                except BadValue as exc:
                    exc.parts.append(f"{index}.member")
                    raise
                if value is not None:
                    items.append(value)
            return items

        return read_list

    def _map(self, shape: Shape) -> Reader:
        read_key = self.reader(shape.key)
        read_value = self.reader(shape.value)
        flattened = bool(shape.serialization.get("flattened"))
        key_name = shape.key.serialization.get("name") or "key"
        value_name = shape.value.serialization.get("name") or "value"

        def read_map(node: Node) -> dict[str, Any] | None:
            entries = node if flattened else node.get("entry")
            if entries is None:
                return {} if _VALUE in node else None
            out: dict[str, Any] = {}
            for _, entry in _indexed(entries):
                key_node = entry.get(key_name)
                key = read_key(key_node) if key_node is not None else None
                if key is None:
                    continue
                value_node = entry.get(value_name)
                try:
                    value = read_value(value_node) if value_node is not None else None
                except BadValue as exc:
                    exc.parts.append(str(key))
                    raise
                if value is not None:
                    out[key] = value
            return out

        return read_map


def _indexed(entries: Node) -> list[tuple[int, Node]]:
    """The numbered children of a list/map node, in numeric order (other segments are ignored)."""
    found = [(int(key), child) for key, child in entries.items() if key.isdigit()]
    found.sort(key=lambda pair: pair[0])
    return found


def _to_int(raw: str) -> int:
    if not _INTEGER.fullmatch(raw.strip()):
        raise BadValue(raw, "Member must be a number")
    return int(raw)


_FROM_TEXT = text_readers(_to_int)


def _may_hold_secrets(shape: Shape | None, name: str = "", depth: int = 0) -> bool:
    """Whether a value of `shape` may hold a secret: a member marked sensitive or named like a secret."""
    if shape is None:
        return False
    if depth > 20 or shape.metadata.get("sensitive") or _SECRET_NAME.search(name):
        return True
    if shape.type_name == "structure":
        return any(_may_hold_secrets(sub, member, depth + 1) for member, sub in shape.members.items())
    if shape.type_name == "list":
        return _may_hold_secrets(shape.member, name, depth + 1)
    if shape.type_name == "map":
        return _may_hold_secrets(shape.key, name, depth + 1) or _may_hold_secrets(
            shape.value, name, depth + 1
        )
    return False


class QueryCodec(Codec):
    protocol = "query"
    content_type = "text/xml"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.api_version: str = model.api_version
        self.namespace: str = model.metadata.get("xmlNamespace", "")
        self._readers = QueryReaderCompiler()
        self._writers = XmlWriterCompiler()
        self._encoded: dict[tuple[str, bytes], str] = {}
        self._reusable: dict[str, bool] = {}  # operation -> whether its encoded results may be kept

    # -- decode ------------------------------------------------------------------------------------------

    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        params = form_params(req)
        action = params.get("Action")
        if not action:
            raise AwsError("Missing Action", code="MissingAction", status=400)
        version = params.get("Version")
        if action not in self.operation_names or version != self.api_version:
            shown = version if version else "NO_VERSION_SPECIFIED"
            raise AwsError(
                f"Could not find operation {action} for version {shown}", code="InvalidAction", status=400
            )
        return action, self.read_input(action, param_tree(params), validate=validate)

    def _compile_reader(self, op_model: OperationModel) -> Callable[[Any], dict[str, Any]]:
        shape = op_model.input_shape
        if shape is None:
            return lambda tree: {}
        return self._readers.reader(shape)

    # -- encode ------------------------------------------------------------------------------------------

    def _compile_writer(self, op_model: OperationModel) -> Callable[[Any], Any] | None:
        shape = op_model.output_shape
        if shape is None:
            return None
        content = self._writers.content(shape)
        wrapper = shape.serialization.get("resultWrapper")
        if not wrapper:
            return lambda output: render(content, output)
        open_tag, close_tag = f"<{wrapper}>", f"</{wrapper}>"

        def write_result(output: Any) -> str:
            out = [open_tag]
            content(output, out)
            out.append(close_tag)
            return "".join(out)

        return write_result

    def encode(self, operation: str, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        plan = self.plan(operation)
        reusable = self._reusable.get(operation)
        if reusable is None:
            reusable = self._reusable[operation] = not _may_hold_secrets(plan.model.output_shape)
        if plan.write is None:
            result = ""
        elif reusable:
            result = self._result(operation, plan.write, output or {})
        else:
            result = plan.write(output or {})
        body = (
            f'<{operation}Response xmlns="{self.namespace}">{result}'
            f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
            f"</{operation}Response>"
        )
        return self._response(200, body, request_id)

    def _result(self, operation: str, write: Callable[[Any], str], output: dict[str, Any]) -> str:
        """The output's XML, from the table of encoded results when the same output was encoded before."""
        try:
            key = marshal.dumps(output)
        except ValueError:  # a value marshal cannot copy (none of the codec's inputs, so far): not kept
            return write(output)
        if len(key) > _ENCODED_KEY_MAX:
            return write(output)
        result = self._encoded.get((operation, key))
        if result is None:
            result = write(output)
            if len(self._encoded) >= _ENCODED_MAX:
                self._encoded.clear()
            self._encoded[(operation, key)] = result
        return result

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        kind = "Sender" if err.sender_fault else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{self.namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        )
        return self._response(err.status, body, request_id)

    def _response(self, status: int, body: str, request_id: str) -> HttpResponse:
        data = body.encode("utf-8")
        headers = [
            ("x-amzn-RequestId", request_id),
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(data))),
        ]
        return HttpResponse(status, headers, data)
