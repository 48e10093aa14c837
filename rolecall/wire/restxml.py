"""The rest-xml protocol (S3): the operation from the method and path, members from every part of the request.

Requests are routed by HTTP method and the model's requestUri templates ("/{Bucket}/{Key+}", "/{Bucket}?policy")
over the path as sent; the bucket may instead come from a virtual-hosted name (Host: BUCKET.localhost:4577,
BUCKET.s3.localhost, BUCKET.s3.REGION.localhost, and the same under localhost.localstack.cloud), which is put
back in front of the path. When several operations share a route, the one whose fixed query parameters and
required query/header members the request carries wins (x-amz-copy-source makes a PUT a CopyObject). The
templates compile as the rest-json codec's do (rolecall.wire.routing).

Input members come from their location: "uri" labels (percent-decoded), "querystring", "header" (timestamps
RFC 822 unless the model says otherwise, lists comma-separated), "headers" (a map of every header with the
member's prefix, e.g. x-amz-meta-), and the payload: a blob or string member is the raw body, a structure member
is an XML document. Output members go back the same way: headers, a raw payload (an object's bytes, a bucket
policy), or an XML document whose root AWS names (botocore's models drop the root names; OUTPUT_ROOTS restores
them). A response carrying Content-Range is 206; HEAD responses and 304s carry no body.

Errors are S3's document:
    <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key>
    <RequestId>..</RequestId><HostId>..</HostId></Error>
with extra elements from the error's `fields` (BucketName, Key, Resource, ...). Generic errors are renamed as
S3 names them (ValidationError -> InvalidArgument, ...); the S3 service words its authentication errors itself
(InvalidClientTokenId -> InvalidAccessKeyId, ...).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.model import OperationModel, ServiceModel, Shape

from rolecall.errors import AwsError
from rolecall.http import BodyStream, Headers, HttpRequest, HttpResponse
from rolecall.wire.codec import (
    BadValue,
    Codec,
    Step,
    compile_once,
    parse_json,
    read_labelled,
    reader_of_steps,
)
from rolecall.wire.dispatch import virtual_host_bucket
from rolecall.wire.routing import Route, compile_route, parse_query
from rolecall.wire.sigv4 import open_payload
from rolecall.wire.text_values import text_readers, text_to_timestamp
from rolecall.wire.timestamps import to_datetime
from rolecall.wire.validation import UNION_CONSTRAINT
from rolecall.wire.xmlout import Writer, XmlWriterCompiler, escape, member_tag

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
NAMESPACES = {"s3": S3_NAMESPACE}
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# The root element AWS writes for an output body, by output shape (botocore's parser ignores the root, so its
# models leave it out). Shapes not listed get "<Operation>Result".
OUTPUT_ROOTS = {
    "ListObjectsV2Output": "ListBucketResult",
    "ListObjectsOutput": "ListBucketResult",
    "ListObjectVersionsOutput": "ListVersionsResult",
    "ListBucketsOutput": "ListAllMyBucketsResult",
    "DeleteObjectsOutput": "DeleteResult",
    "GetBucketLocationOutput": "LocationConstraint",
    "CreateMultipartUploadOutput": "InitiateMultipartUploadResult",
    "CompleteMultipartUploadOutput": "CompleteMultipartUploadResult",
    "ListMultipartUploadsOutput": "ListMultipartUploadsResult",
    "ListPartsOutput": "ListPartsResult",
    "GetBucketTaggingOutput": "Tagging",
    "GetObjectTaggingOutput": "Tagging",
}
# Output bodies whose single member is the root element's text.
TEXT_ROOTS = frozenset({"GetBucketLocationOutput"})

# Success statuses AWS returns that the model does not record.
RESPONSE_CODES = {"s3": {"PutBucketPolicy": 204}}

# Operations that share a route with another and are not what that route means on this endpoint
# (S3 Express directory buckets; the pre-2017 lifecycle and notification operations).
UNROUTED = {
    "s3": frozenset(
        {
            "ListDirectoryBuckets",
            "GetBucketLifecycle",
            "PutBucketLifecycle",
            "GetBucketNotification",
            "PutBucketNotification",
        }
    ),
}

MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"

# Generic errors as S3 reports them: code -> (S3 code, S3 message or None to keep, status). (Authentication
# errors S3 words itself: the S3 service's authentication_error hook renames them before they get here.)
S3_ERROR_NAMES: dict[str, tuple[str, str | None, int | None]] = {
    "ValidationError": ("InvalidArgument", None, 400),
    "InternalFailure": ("InternalError", "We encountered an internal error. Please try again.", 500),
}

Reader = Callable[[Any], Any]


@dataclass
class RequestParts:
    """A request taken apart for the member readers."""

    labels: dict[str, str]
    query: dict[str, list[str]]
    headers: Headers
    body: bytes


# -- scalar values from text ------------------------------------------------------------------------------


def _to_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise BadValue(raw, "Member must be a number") from None


def _to_json(raw: str) -> Any:
    try:
        return parse_json(base64.b64decode(raw))
    except (binascii.Error, ValueError):
        raise BadValue(raw, "Member must be base64-encoded JSON") from None


_FROM_TEXT = text_readers(_to_int)


def _text_reader(shape: Shape) -> Callable[[str], Any]:
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return _to_json
    return _FROM_TEXT.get(shape.type_name, lambda raw: raw)


# -- scalar values to text --------------------------------------------------------------------------------


def _header_text(shape: Shape) -> Callable[[Any], str]:
    kind = shape.type_name
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "rfc822")
        if fmt == "iso8601":
            return lambda v: to_datetime(v).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"
        if fmt == "unixTimestamp":
            return lambda v: str(int(to_datetime(v).timestamp()))
        return lambda v: to_datetime(v).strftime("%a, %d %b %Y %H:%M:%S GMT")
    if kind == "boolean":
        return lambda v: "true" if v else "false"
    if kind == "list":
        inner = _header_text(shape.member)
        return lambda v: ",".join(inner(x) for x in v)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return lambda v: base64.b64encode(json.dumps(v, separators=(",", ":")).encode()).decode()
    if kind == "blob":
        return lambda v: base64.b64encode(v).decode()
    return str


XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"


def _attribute_members(shape: Shape) -> list[tuple[str, str]]:
    """(member, attribute name) of the members a structure carries as XML attributes (xsi:type)."""
    if shape.type_name != "structure":
        return []
    return [
        (name, member.serialization.get("name") or name)
        for name, member in shape.members.items()
        if member.serialization.get("xmlAttribute")
    ]


class S3XmlWriterCompiler(XmlWriterCompiler):
    """XML output as S3 writes it: timestamps always with milliseconds ("2024-05-01T12:00:00.000Z"), and
    members marked xmlAttribute as attributes of their structure's element (<Grantee xsi:type="...">)."""

    def element(self, shape: Shape, tag: str) -> Writer:
        attributes = _attribute_members(shape)
        if not attributes:
            return super().element(shape, tag)
        inner = self.content(shape)

        def write_with_attributes(value: Any, out: list[str]) -> None:
            parts = [tag]
            for name, wire in attributes:
                item = value.get(name)
                if item is None:
                    continue
                if wire.startswith("xsi:"):
                    parts.append(f'xmlns:xsi="{XSI_NAMESPACE}"')
                parts.append(f'{wire}="{escape(str(item)).replace(chr(34), "&quot;")}"')
            out.append("<" + " ".join(parts) + ">")
            inner(value, out)
            out.append(f"</{tag}>")

        return write_with_attributes

    def _compile_content(self, shape: Shape) -> Writer:
        attributes = frozenset(name for name, _ in _attribute_members(shape))
        if attributes:
            # The attributes are written into the structure's own tag, by element().
            return self._structure_elements(shape, leave_out=attributes)
        if shape.type_name == "timestamp" and shape.serialization.get("timestampFormat") in (None, "iso8601"):

            def write_timestamp(value: Any, out: list[str]) -> None:
                if isinstance(value, str):
                    out.append(escape(value))
                    return
                dt = to_datetime(value)
                out.append(dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z")

            return write_timestamp
        return super()._compile_content(shape)


class XmlReaderCompiler:
    """Compiles input shapes into readers of parsed XML elements (cached by shape name; recursion-safe)."""

    def __init__(self) -> None:
        self._readers: dict[str, Reader] = {}

    def reader(self, shape: Shape) -> Reader:
        return compile_once(self._readers, shape, self._compile)

    def _compile(self, shape: Shape) -> Reader:
        kind = shape.type_name
        if kind == "structure":
            members = []
            attributes = []  # members carried as attributes of the element (Grantee's xsi:type)
            for name, member in shape.members.items():
                if member.serialization.get("xmlAttribute"):
                    local = (member.serialization.get("name") or name).rsplit(":", 1)[-1]
                    attributes.append((name, local, _FROM_TEXT.get(member.type_name, str)))
                    continue
                flattened = member.type_name == "list" and bool(member.serialization.get("flattened"))
                read = self.reader(member.member) if flattened else self.reader(member)
                members.append((name, member_tag(member, name), flattened, read))

            def read_structure(element: ET.Element) -> dict[str, Any]:
                children: dict[str, list[ET.Element]] = {}
                for child in element:
                    children.setdefault(_local(child.tag), []).append(child)
                out: dict[str, Any] = {}
                if attributes:
                    present = {_local(k): v for k, v in element.attrib.items()}
                    for name, local, convert in attributes:
                        if local in present:
                            out[name] = convert(present[local])
                for name, tag, flattened, read in members:
                    found = children.get(tag)
                    if not found:
                        continue
                    try:
                        out[name] = [read(c) for c in found] if flattened else read(found[0])
                    except BadValue as exc:
                        exc.parts.append(name)
                        raise
                return out

            return read_structure
        if kind == "list":
            read_item = self.reader(shape.member)
            item_tag = shape.member.serialization.get("name") or "member"
            return lambda element: [read_item(c) for c in element if _local(c.tag) == item_tag]
        if kind == "map":
            read_key = self.reader(shape.key)
            read_value = self.reader(shape.value)
            key_tag = shape.key.serialization.get("name") or "key"
            value_tag = shape.value.serialization.get("name") or "value"

            def read_map(element: ET.Element) -> dict[str, Any]:
                out: dict[str, Any] = {}
                for entry in element:
                    parts = {_local(c.tag): c for c in entry}
                    if key_tag in parts and value_tag in parts:
                        out[read_key(parts[key_tag])] = read_value(parts[value_tag])
                return out

            return read_map
        convert = _FROM_TEXT.get(kind)
        if kind == "timestamp":
            convert = text_to_timestamp
        if convert is None:
            return lambda element: element.text or ""
        return lambda element: convert(element.text or "")


def _local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> ET.Element:
    """The document's root element; MalformedXML for anything else (and for any DTD)."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise AwsError(MALFORMED_XML, code="MalformedXML", status=400)
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise AwsError(MALFORMED_XML, code="MalformedXML", status=400) from None


def host_id(request_id: str) -> str:
    """S3's x-amz-id-2: an opaque token for the host that served the request."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest() * 2).decode()


# -- the codec ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    route: Route
    required_query: tuple[str, ...]  # wire names of required querystring members
    required_headers: tuple[str, ...]  # lower-cased wire names of required header members


class RestXmlCodec(Codec):
    protocol = "rest-xml"
    validation_error_code = "InvalidArgument"

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        self.namespace: str = model.metadata.get("xmlNamespace") or NAMESPACES.get(self.service_name, "")
        self.virtual_hosting = self.service_name == "s3"
        self._xml_readers = XmlReaderCompiler()
        self._xml_writers = S3XmlWriterCompiler()
        self._routes = self._compile_routes(model)

    def _compile_routes(self, model: ServiceModel) -> dict[str, list[_Candidate]]:
        skipped = UNROUTED.get(self.service_name, frozenset())
        routes: dict[str, list[_Candidate]] = {}
        for name in model.operation_names:
            if name in skipped:
                continue
            op = model.operation_model(name)
            route = compile_route(name, op.http.get("method", "GET"), op.http.get("requestUri", "/"))
            shape = op.input_shape
            required = set(shape.required_members) if shape is not None else set()
            query, headers = [], []
            for member_name in sorted(required):
                member = shape.members[member_name]
                location = member.serialization.get("location")
                if location == "querystring":
                    query.append(member.serialization.get("name") or member_name)
                elif location == "header":
                    headers.append((member.serialization.get("name") or member_name).lower())
            routes.setdefault(route.method, []).append(_Candidate(route, tuple(query), tuple(headers)))
        return routes

    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """Only required members and tagged unions: S3 is not a Coral service and answers bad values with its
        own errors (InvalidLocationConstraint, InvalidStorageClass, ...) rather than Coral's length/pattern/enum
        messages, but a union with no member or several set cannot mean anything and is refused."""
        missing = [
            m
            for m in self.violations(operation, params)
            if m.endswith("Member must not be null") or UNION_CONSTRAINT in m
        ]
        if not missing:
            return
        shape = self.plan(operation).model.input_shape
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload is not None and payload not in params and shape.members[payload].type_name == "structure":
            raise AwsError(MALFORMED_XML, code="MalformedXML", status=400)  # the XML document is missing
        raise self.validation_error(missing)

    # -- decode ------------------------------------------------------------------------------------------

    def _decode(self, req: HttpRequest, *, validate: bool) -> tuple[str, dict[str, Any]]:
        if (req.headers.get("x-amz-content-sha256") or "").startswith("STREAMING-"):
            open_payload(req)  # --auth off: nobody verified (or decoded) the streaming body yet
        path = req.path or "/"
        bucket = virtual_host_bucket(req.headers.get("host")) if self.virtual_hosting else None
        if bucket is not None:
            path = "/" + quote(bucket) + ("" if path == "/" else path)
        query = parse_query(req.query_string)
        operation, labels = self.route(req.method, path, query, req.headers)
        parts = RequestParts(labels, query, req.headers, req.body)
        return operation, self.read_input(operation, parts, validate=validate)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Headers
    ) -> tuple[str, dict[str, str]]:
        """(operation, URI label values) for a request; MethodNotAllowed when nothing takes it."""
        found = self._best_route(method, path, query, headers)
        if found is None and path.count("/") == 2 and path.endswith("/"):
            found = self._best_route(method, path[:-1], query, headers)  # "/bucket/" is the bucket
        if found is None:
            raise AwsError(
                "The specified method is not allowed against this resource.",
                code="MethodNotAllowed",
                status=405,
            )
        return found

    def _best_route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Headers
    ) -> tuple[str, dict[str, str]] | None:
        named = query.get("x-id")  # some SDKs name the operation
        wanted = named[0] if named else None
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for candidate in self._routes.get(method.upper(), ()):
            route = candidate.route
            if wanted and route.operation != wanted:
                continue
            labels = route.match(path, query)
            if labels is None:
                continue
            present = sum(1 for q in candidate.required_query if q in query) + sum(
                1 for h in candidate.required_headers if h in headers
            )
            missing = len(candidate.required_query) + len(candidate.required_headers) - present
            score = (len(route.fixed_query), present, -missing, route.literal_length, -len(route.labels))
            if best is None or score > best[0]:
                best = (score, route.operation, labels)
        return None if best is None else (best[1], best[2])

    def _compile_reader(self, op_model: OperationModel) -> Callable[[Any], dict[str, Any]]:
        shape = op_model.input_shape
        if shape is None:
            return lambda parts: {}
        payload = shape.serialization.get("payload")
        readers: list[Callable[[RequestParts, dict[str, Any]], None]] = []
        body_members: dict[str, Shape] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name") or name
            if location == "uri":
                readers.append(self._uri_reader(name, wire, member))
            elif location == "querystring":
                readers.append(self._query_reader(name, wire, member))
            elif location == "header":
                readers.append(self._header_reader(name, wire, member))
            elif location == "headers":
                readers.append(self._prefix_reader(name, wire, member))
            elif location is None and name == payload:
                readers.append(self._payload_reader(name, member))
            elif location is None and payload is None:
                body_members[name] = member
        if body_members:
            readers.append(self._body_reader(body_members))
        return reader_of_steps(readers)

    def _uri_reader(self, name: str, wire: str, shape: Shape) -> Step:
        convert = _text_reader(shape)

        def read_uri(parts: RequestParts, out: dict[str, Any]) -> None:
            if wire in parts.labels:
                out[name] = read_labelled(convert, parts.labels[wire], name)

        return read_uri

    def _query_reader(self, name: str, wire: str, shape: Shape) -> Step:
        if shape.type_name == "map":  # every parameter no other member takes
            return lambda parts, out: None
        if shape.type_name == "list":
            convert = _text_reader(shape.member)

            def read_query_list(parts: RequestParts, out: dict[str, Any]) -> None:
                if wire in parts.query:
                    out[name] = [read_labelled(convert, v, name) for v in parts.query[wire]]

            return read_query_list
        convert = _text_reader(shape)

        def read_query(parts: RequestParts, out: dict[str, Any]) -> None:
            values = parts.query.get(wire)
            if values:
                out[name] = read_labelled(convert, values[0], name)

        return read_query

    def _header_reader(self, name: str, wire: str, shape: Shape) -> Step:
        header = wire.lower()
        if shape.type_name == "list":
            each = _text_reader(shape.member)

            def read_header_list(parts: RequestParts, out: dict[str, Any]) -> None:
                raw = parts.headers.get(header)
                if raw is not None:
                    out[name] = [read_labelled(each, v.strip(), name) for v in raw.split(",") if v.strip()]

            return read_header_list
        if shape.type_name == "timestamp":
            convert: Callable[[str], Any] = text_to_timestamp
        else:
            convert = _text_reader(shape)

        def read_header(parts: RequestParts, out: dict[str, Any]) -> None:
            raw = parts.headers.get(header)
            if raw is not None:
                out[name] = read_labelled(convert, raw.strip() if shape.type_name != "string" else raw, name)

        return read_header

    @staticmethod
    def _prefix_reader(name: str, prefix: str, shape: Shape) -> Step:
        prefix = prefix.lower()

        def read_prefixed(parts: RequestParts, out: dict[str, Any]) -> None:
            found = {k[len(prefix) :]: v for k, v in parts.headers.items() if k.startswith(prefix)}
            if found:
                out[name] = found

        return read_prefixed

    def _payload_reader(self, name: str, shape: Shape) -> Step:
        kind = shape.type_name
        if kind == "blob":

            def read_blob(parts: RequestParts, out: dict[str, Any]) -> None:
                out[name] = parts.body

            return read_blob
        if kind == "string":

            def read_text(parts: RequestParts, out: dict[str, Any]) -> None:
                if parts.body:
                    out[name] = parts.body.decode("utf-8")

            return read_text
        read_document = self._xml_readers.reader(shape)

        def read_structure(parts: RequestParts, out: dict[str, Any]) -> None:
            if parts.body.strip():
                out[name] = read_document(parse_xml(parts.body))

        return read_structure

    def _body_reader(self, members: dict[str, Shape]) -> Step:
        readers = [
            (name, member_tag(member, name), self._xml_readers.reader(member))
            for name, member in members.items()
        ]

        def read_body(parts: RequestParts, out: dict[str, Any]) -> None:
            if not parts.body.strip():
                return
            root = parse_xml(parts.body)
            children = {_local(c.tag): c for c in root}
            for name, tag, read in readers:
                if tag in children:
                    out[name] = read(children[tag])

        return read_body

    # -- encode ------------------------------------------------------------------------------------------

    def _compile_writer(self, op_model: OperationModel) -> Callable[[Any], Any] | None:
        shape = op_model.output_shape
        status = int(
            op_model.http.get("responseCode")
            or RESPONSE_CODES.get(self.service_name, {}).get(op_model.name, 200)
        )
        head = op_model.http.get("method", "GET").upper() == "HEAD"
        if shape is None:
            return lambda output: (status, [], b"")
        payload = shape.serialization.get("payload")
        headers: list[tuple[str, str, Callable[[Any], str]]] = []
        prefixed: list[tuple[str, str]] = []
        status_member: str | None = None
        body_members: dict[str, Shape] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name") or name
            if location == "header":
                headers.append((name, wire, _header_text(member)))
            elif location == "headers":
                prefixed.append((name, wire))
            elif location == "statusCode":
                status_member = name
            elif location is None and payload is None:
                body_members[name] = member
        write_payload = self._payload_writer(shape.members[payload]) if payload else None
        write_body = self._body_writer(shape, body_members) if body_members else None

        def write(output: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes | BodyStream]:
            out_headers: list[tuple[str, str]] = []
            for name, wire, text in headers:
                value = output.get(name)
                if value is not None:
                    out_headers.append((wire, text(value)))
            for name, prefix in prefixed:
                for key, value in (output.get(name) or {}).items():
                    out_headers.append((prefix + key, str(value)))
            code = status
            if status_member and output.get(status_member) is not None:
                code = int(output[status_member])
            elif code == 200 and output.get("ContentRange") is not None:
                code = 206
            body: bytes | BodyStream = b""
            if write_payload is not None and payload is not None and output.get(payload) is not None:
                body, content_type = write_payload(output[payload])
                if content_type and not any(k.lower() == "content-type" for k, _ in out_headers):
                    out_headers.append(("Content-Type", content_type))
            elif write_body is not None:
                body = write_body(output)
                out_headers.append(("Content-Type", "application/xml"))
            if head:
                body = b""
            return code, out_headers, body

        return write

    def _payload_writer(self, shape: Shape) -> Callable[[Any], tuple[bytes | BodyStream, str | None]]:
        if shape.type_name == "blob":  # a large one (an object's bytes) comes as a BodyStream, sent as read
            return lambda value: (value if isinstance(value, BodyStream) else bytes(value), None)
        if shape.type_name == "string":
            return lambda value: (value.encode("utf-8"), None)
        root = shape.serialization.get("name") or shape.name
        write_content = self._xml_writers.content(shape)
        namespace = self.namespace

        def write_document(value: Any) -> tuple[bytes, str | None]:
            out = [XML_DECLARATION, f'<{root} xmlns="{namespace}">']
            write_content(value, out)
            out.append(f"</{root}>")
            return "".join(out).encode("utf-8"), "application/xml"

        return write_document

    def _body_writer(self, shape: Shape, members: dict[str, Shape]) -> Callable[[dict[str, Any]], bytes]:
        root = OUTPUT_ROOTS.get(shape.name) or shape.name.removesuffix("Output") + "Result"
        open_tag, close_tag = f'<{root} xmlns="{self.namespace}">', f"</{root}>"
        if shape.name in TEXT_ROOTS:
            (only,) = members

            def write_text_root(output: dict[str, Any]) -> bytes:
                value = output.get(only)
                if not value:
                    return (XML_DECLARATION + f'<{root} xmlns="{self.namespace}"/>').encode()
                return (XML_DECLARATION + open_tag + escape(str(value)) + close_tag).encode("utf-8")

            return write_text_root
        writers = [
            (name, self._xml_writers.element(member, member_tag(member, name)))
            for name, member in members.items()
        ]

        def write_document(output: dict[str, Any]) -> bytes:
            out = [XML_DECLARATION, open_tag]
            for name, write in writers:
                value = output.get(name)
                if value is not None:
                    write(value, out)
            out.append(close_tag)
            return "".join(out).encode("utf-8")

        return write_document

    def encode(self, operation: str, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        write = self.plan(operation).write
        status, headers, body = write(output or {}) if write is not None else (200, [], b"")
        headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id(request_id)), *headers]
        stream = body if isinstance(body, BodyStream) else None
        if stream is not None:
            body = b""
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(body) if stream is None else stream.length)))
        assert isinstance(body, bytes)
        return HttpResponse(status, headers, body, stream)

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        code, message, status = err.code, err.message, err.status
        renamed = S3_ERROR_NAMES.get(code)
        if renamed is not None:
            code, message, status = renamed[0], renamed[1] or message, renamed[2] or status
        fields: dict[str, Any] = getattr(err, "fields", None) or {}
        parts = [XML_DECLARATION, f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"]
        for name, value in fields.items():
            if value is not None:
                parts.append(f"<{name}>{escape(str(value))}</{name}>")
        parts.append(
            f"<RequestId>{escape(request_id)}</RequestId><HostId>{host_id(request_id)}</HostId></Error>"
        )
        body = "".join(parts).encode("utf-8")
        is_head = operation is not None and self.model.operation_model(operation).http.get("method") == "HEAD"
        if is_head or status == 304:
            body = b""
        headers = [
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", host_id(request_id)),
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
        ]
        return HttpResponse(status, headers, body)
