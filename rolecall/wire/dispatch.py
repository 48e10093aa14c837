"""Which service a request is for, read from the request alone (before any codec or signature check).

In order: the SigV4 credential scope (Authorization header or presigned query), the X-Amz-Target prefix
of the JSON services, the Version parameter of the query services, then S3's own marks (a virtual-hosted
bucket name, S3's legacy signature). Both the signature check and the S3 codec read this module; it
reads neither.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import parse_qsl

from rolecall.http import HttpRequest
from rolecall.wire.models import service_model


def query_params(query_string: str) -> dict[str, str]:
    """A query string's parameters; the first of repeated names wins."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(key, value)
    return params


# Names under which virtual-hosted buckets are addressed: BUCKET[.s3[.REGION]].<base>[:port].
VIRTUAL_HOST_BASES = ("localhost", "localhost.localstack.cloud")
_VIRTUAL_HOST = re.compile(
    r"(?P<bucket>[a-z0-9][a-z0-9.\-]*?)(?:\.s3(?:[.\-](?:[a-z]{2}(?:-[a-z]+)+-\d+))?)?\.(?:"
    + "|".join(re.escape(b) for b in VIRTUAL_HOST_BASES)
    + r")"
)

# The services we serve by protocol marker: JSON ones by X-Amz-Target prefix, query ones by Version.
JSON_SERVICES = ("cloudtrail", "logs")
QUERY_SERVICES = ("iam", "sts", "ec2")


@cache
def _target_prefixes() -> dict[str, str]:
    """X-Amz-Target prefix (full and last segment) -> service name."""

    prefixes: dict[str, str] = {}
    for name in JSON_SERVICES:
        prefix = service_model(name).metadata["targetPrefix"]
        prefixes[prefix] = name
        prefixes[prefix.rsplit(".", 1)[-1]] = name
    return prefixes


@cache
def _query_versions() -> dict[str, str]:
    """API Version parameter -> service name (IAM is 2010-05-08, STS 2011-06-15, EC2 2016-11-15)."""

    return {service_model(name).api_version: name for name in QUERY_SERVICES}


def service_from_request(req: HttpRequest) -> str | None:
    """The service a request is for, or None.

    In order: the credential scope (Authorization header or presigned query), the X-Amz-Target prefix of
    the JSON services, then the Version parameter of the query services -- which is how unsigned calls
    such as sts:AssumeRoleWithWebIdentity are recognized.
    """
    header = req.headers.get("authorization")
    if header and "Credential=" in header:
        credential = header.split("Credential=", 1)[1].split(",", 1)[0].strip()
        parts = credential.split("/")
        if len(parts) == 5 and parts[3]:
            return str(parts[3])
    if "X-Amz-Credential" in req.query_string:
        parts = query_params(req.query_string).get("X-Amz-Credential", "").split("/")
        if len(parts) == 5 and parts[3]:
            return parts[3]
    target = req.headers.get("x-amz-target")
    if target and "." in target:
        return _target_prefixes().get(target.rsplit(".", 1)[0])
    for text in (req.query_string, req.body[:65536].decode("utf-8", errors="replace")):
        if "Version=" in text:
            version = query_params(text).get("Version")
            if version in _query_versions():
                return _query_versions()[version]
    return "s3" if _unsigned_s3(req) else None


def _unsigned_s3(req: HttpRequest) -> bool:
    """An anonymous or SigV2-signed S3 request, known by a virtual-hosted bucket name or S3's legacy
    signature: it gets S3's own error document rather than IAM's. (An unsigned path-style request has no
    such mark.)"""
    if virtual_host_bucket(req.headers.get("host")) is not None:
        return True
    if (req.headers.get("authorization") or "").startswith("AWS "):
        return True
    return "AWSAccessKeyId=" in req.query_string and "Action=" not in req.query_string


def virtual_host_bucket(host: str | None) -> str | None:
    """The bucket a virtual-hosted Host header names, or None for path-style addressing."""
    if not host or host.startswith("["):
        return None
    name = host.rsplit(":", 1)[0].lower().rstrip(".")
    found = _VIRTUAL_HOST.fullmatch(name)
    if found is None or found.group("bucket") == "s3":
        return None
    return found.group("bucket")
