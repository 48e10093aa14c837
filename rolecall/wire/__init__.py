"""AWS wire protocols on the server side, driven by botocore's service models, and SigV4 verification.

codec = codec_for("iam")
operation, params = codec.decode(request)        # parsed and validated, or AwsError
response = codec.encode(operation, output, request_id)
response = codec.encode_error(err, request_id, operation)

info = parse_signature(request)                  # None when the request is unsigned
verify(request, info, secret_access_key, now)    # AwsError when the signature does not hold
"""

from rolecall.http import Headers, HttpRequest, HttpResponse
from rolecall.wire.codec import Codec
from rolecall.wire.dispatch import service_from_request
from rolecall.wire.jsonrpc import JsonCodec
from rolecall.wire.protocols import codec_for
from rolecall.wire.query import QueryCodec
from rolecall.wire.sigv4 import SignatureInfo, parse_signature, verify

__all__ = [
    "Codec",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "JsonCodec",
    "QueryCodec",
    "SignatureInfo",
    "codec_for",
    "parse_signature",
    "service_from_request",
    "verify",
]
