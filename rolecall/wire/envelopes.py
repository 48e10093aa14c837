"""Error envelopes for services rolecall does not serve, in the protocol the client spoke.

A KMS, Secrets Manager or DynamoDB client pointed at rolecall must get an error its SDK can parse (a
ClientError with a code and message, never a parse error), so the answer follows the request's protocol:

  * the client's own marks first, since the SDK parses the answer in the protocol it sent: the
    `smithy-protocol: rpc-v2-cbor` header (CBOR, e.g. CloudWatch in recent SDKs), an X-Amz-Target header
    (the JSON protocol, 1.0 or 1.1 as its Content-Type says), a form body with Action= (query);
  * otherwise the protocol of botocore's model for the signing name, when there is one (Route 53's
    rest-xml, API Gateway's rest-json);
  * otherwise rest-json, the protocol of most REST services.

Only error envelopes are written here; the codecs of served services live in their own modules.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from functools import cache

from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.wire.dispatch import query_params
from rolecall.wire.jsonrpc import json_error_name
from rolecall.wire.xmlout import escape

CBOR = "smithy-rpc-v2-cbor"


@cache
def _model_protocol(service_name: str) -> tuple[str, str] | None:
    """(protocol, xml namespace) of botocore's model named `service_name`, or None when it has none."""
    from rolecall.wire.models import service_model

    try:
        model = service_model(service_name)
    except Exception:  # botocore knows no such service: fall back on the request's marks
        return None
    return model.protocol, model.metadata.get("xmlNamespace", "")


def request_protocol(req: HttpRequest) -> str | None:
    """The protocol the request itself was written in, when its marks say so."""
    if req.headers.get("smithy-protocol", "").lower() == "rpc-v2-cbor":
        return CBOR
    if req.headers.get("x-amz-target"):
        return "json"
    if req.method == "POST" and "Action=" in req.body[:65536].decode("utf-8", errors="replace"):
        return "query"
    if "Action=" in req.query_string:
        return "query"
    return None


def foreign(req: HttpRequest) -> bool:
    """Whether an unidentified request speaks a protocol none of the query services do (JSON, CBOR)."""
    return request_protocol(req) in ("json", CBOR)


def operation_hint(req: HttpRequest) -> str | None:
    """The operation a request for an unserved service names, where its protocol says it plainly."""
    target = req.headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1] or None
    if req.path.startswith("/service/") and "/operation/" in req.path:  # rpc-v2-cbor: /service/S/operation/Op
        return req.path.rsplit("/", 1)[-1] or None
    params = query_params(req.query_string)
    if "Action" not in params and req.method == "POST":
        params = query_params(req.body[:65536].decode("utf-8", errors="replace"))
    return params.get("Action") or None


@dataclass(frozen=True)
class ErrorEnvelope:
    """Encodes errors in one protocol's envelope; the stand-in codec of a service rolecall does not serve."""

    protocol: str
    namespace: str = ""
    json_content_type: str = "application/x-amz-json-1.1"

    def encode_error(self, err: AwsError, request_id: str, operation: str | None = None) -> HttpResponse:
        if self.protocol in ("json", "rest-json", CBOR):
            return self._json_family(err, request_id)
        if self.protocol in ("query", "ec2"):
            return self._query(err, request_id)
        return self._rest_xml(err, request_id)

    def _json_family(self, err: AwsError, request_id: str) -> HttpResponse:
        code, message = json_error_name(err)  # UnrecognizedClientException, as JSON services name them
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
        if self.protocol == CBOR:
            body = _cbor_text_map({"__type": code, "message": message})
            headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        elif self.protocol == "json":
            body = json.dumps({"__type": code, "message": message}).encode()
            headers.append(("Content-Type", self.json_content_type))
        else:  # rest-json: the code travels in x-amzn-ErrorType
            body = json.dumps({"message": message}).encode()
            headers.append(("Content-Type", "application/json"))
        headers.append(("Content-Length", str(len(body))))
        return HttpResponse(err.status, headers, body)

    def _query(self, err: AwsError, request_id: str) -> HttpResponse:
        kind = "Sender" if err.sender_fault else "Receiver"
        xmlns = f' xmlns="{escape(self.namespace)}"' if self.namespace else ""
        return self._xml(
            err.status,
            f"<ErrorResponse{xmlns}><Error><Type>{kind}</Type><Code>{escape(err.code)}</Code>"
            f"<Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>",
            request_id,
        )

    def _rest_xml(self, err: AwsError, request_id: str) -> HttpResponse:
        # Route 53 and CloudFront answer like the query protocol, with an XML declaration.
        kind = "Sender" if err.sender_fault else "Receiver"
        xmlns = f' xmlns="{escape(self.namespace)}"' if self.namespace else ""
        return self._xml(
            err.status,
            f'<?xml version="1.0"?>\n<ErrorResponse{xmlns}><Error><Type>{kind}</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>",
            request_id,
        )

    @staticmethod
    def _xml(status: int, text: str, request_id: str) -> HttpResponse:
        body = text.encode("utf-8")
        headers = [
            ("x-amzn-RequestId", request_id),
            ("Content-Type", "text/xml"),
            ("Content-Length", str(len(body))),
        ]
        return HttpResponse(status, headers, body)


def unserved_envelope(req: HttpRequest, service_name: str | None) -> ErrorEnvelope:
    """The envelope a request for `service_name` (its signing name, or None), which rolecall does not
    serve, is answered in (see the module docstring for the order)."""
    model = _model_protocol(service_name) if service_name else None
    protocol = request_protocol(req) or (model[0] if model else "rest-json")
    namespace = model[1] if model and model[0] == protocol else ""
    content_type = req.headers.get("content-type", "")
    json_type = content_type if content_type.startswith("application/x-amz-json-1.") else ""
    return ErrorEnvelope(protocol, namespace, json_type or "application/x-amz-json-1.1")


def _cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949): all the rpc-v2-cbor error body needs."""
    out = bytearray(_cbor_head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            data = text.encode("utf-8")
            out += _cbor_head(3, len(data)) + data
    return bytes(out)


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 0x100:
        return bytes([major << 5 | 24, length])
    if length < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", length)
    return bytes([major << 5 | 26]) + struct.pack(">I", length)
