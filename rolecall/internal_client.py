"""Calls a service makes to another rolecall API as a principal, through the whole request pipeline.

When Lambda writes a function's logs with the execution role's credentials, the call must be the call a
client would make: signed with those credentials, authenticated, authorized against the role's policies
and recorded in the trail (denials included). So it is built as a real SigV4-signed request and handed to
the pipeline's handle() -- no network hop, no shortcut past any check. The signature is dated by the pipeline's
clock, so it holds under the fake clocks tests use. `call_json_api` serves the JSON protocols (Logs,
CloudTrail); `call_api` any protocol but the REST ones, serializing with botocore as a client does and
parsing the answer back (Auto Scaling calling EC2's RunInstances over the ec2 protocol).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from rolecall.clock import Clock
from rolecall.core.host import CallResult
from rolecall.http import Headers, HttpRequest, HttpResponse
from rolecall.wire.models import service_model
from rolecall.wire.sigv4 import ALGORITHM, SignatureInfo, signature_for

SIGNED_HEADERS = ("content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target")


def call_json_api(
    handle: Callable[[HttpRequest], HttpResponse],
    clock: Clock,
    service: str,
    operation: str,
    params: dict[str, Any],
    credentials: dict[str, str],
    region: str,
    *,
    user_agent: str = "rolecall-internal",
) -> CallResult:
    """Call `service`:`operation` as the holder of `credentials` (AccessKeyId, SecretAccessKey, Token)."""
    model = service_model(service)
    body = json.dumps(params, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}",
        "X-Amz-Target": f"{model.metadata['targetPrefix']}.{operation}",
    }
    req = _signed_post(model, service, headers, body, SIGNED_HEADERS, clock, credentials, region, user_agent)
    response = handle(req)
    try:
        document = json.loads(response.body) if response.body else {}
    except ValueError:
        document = {}
    return CallResult(response.status, document if isinstance(document, dict) else {})


FORM_SIGNED_HEADERS = ("content-type", "host", "x-amz-date", "x-amz-security-token")


def call_api(
    handle: Callable[[HttpRequest], HttpResponse],
    clock: Clock,
    service: str,
    operation: str,
    params: dict[str, Any],
    credentials: dict[str, str],
    region: str,
    *,
    user_agent: str = "rolecall-internal",
) -> CallResult:
    """Call `service`:`operation` as the holder of `credentials`, over the service's own protocol.

    JSON protocols go through call_json_api; the query and ec2 protocols are serialized by botocore into
    a form-encoded POST, and the XML answer is parsed by botocore into the output members (or, for an
    error, {"Error": {"Code", "Message"}, "__type": Code})."""
    model = service_model(service)
    protocol = model.metadata["protocol"]
    if protocol == "json":
        return call_json_api(
            handle, clock, service, operation, params, credentials, region, user_agent=user_agent
        )
    if protocol not in ("query", "ec2"):
        raise ValueError(f"internal calls do not speak {protocol}")
    op_model = model.operation_model(operation)
    serialized = create_serializer(protocol).serialize_to_request(params, op_model)
    body = urlencode(serialized["body"]).encode("utf-8")
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = _signed_post(
        model, service, headers, body, FORM_SIGNED_HEADERS, clock, credentials, region, user_agent
    )
    response = handle(req)
    answer = {"body": response.body, "headers": dict(response.headers), "status_code": response.status}
    parsed = create_parser(protocol).parse(answer, op_model.output_shape)
    parsed.pop("ResponseMetadata", None)
    if response.status >= 300:
        parsed["__type"] = parsed.get("Error", {}).get("Code", "")
    return CallResult(response.status, parsed)


def _signed_post(
    model: Any,
    service: str,
    headers: dict[str, str],
    body: bytes,
    signed_headers: tuple[str, ...],
    clock: Clock,
    credentials: dict[str, str],
    region: str,
    user_agent: str,
) -> HttpRequest:
    """A POST to `service`'s endpoint carrying `headers` and `body`, SigV4-signed with the session's
    `credentials` over `signed_headers`, dated by the pipeline's clock."""
    amz_date = datetime.fromtimestamp(clock.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        **headers,
        "Host": f"{model.endpoint_prefix}.{region}.amazonaws.com",
        "X-Amz-Date": amz_date,
        "X-Amz-Security-Token": credentials["Token"],
        "User-Agent": user_agent,
    }
    req = HttpRequest("POST", "/", "", Headers(headers), body)
    info = SignatureInfo(
        access_key_id=credentials["AccessKeyId"],
        date=amz_date[:8],
        region=region,
        service=model.metadata.get("signingName", service),
        terminator="aws4_request",
        signed_headers=signed_headers,
        signature="",
        amz_date=amz_date,
        security_token=credentials["Token"],
    )
    signature = signature_for(req, info, credentials["SecretAccessKey"], hashlib.sha256(body).hexdigest())
    req.headers["Authorization"] = (
        f"{ALGORITHM} Credential={credentials['AccessKeyId']}/{info.credential_scope}, "
        f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}"
    )
    return req
