"""GetFunction's Code.Location: a presigned URL, valid for 10 minutes, from which the package downloads.

On AWS it is a presigned S3 URL; here it points at rolecall itself:
    http://HOST:PORT/_rolecall/lambda/code/ACCOUNT/REGION/FUNCTION/SHA256HEX.zip?Expires=EPOCH&Signature=HEX
The signature is an HMAC over the path and expiry, under a key derived from the store's master key, so
every node serving the same store honours it and nobody can forge one for another function.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote

from rolecall.http import BodyStream, HttpRequest, HttpResponse
from rolecall.services.lambda_.code import package_space

if TYPE_CHECKING:
    from rolecall.core.host import Host

CODE_PREFIX = "/_rolecall/lambda/code/"
LIFETIME = 600
_PATH = re.compile(r"(\d{12})/([a-z0-9-]+)/([A-Za-z0-9_.-]+)/([0-9a-f]{64})\.zip")


def _key(host: Host) -> bytes:
    return hashlib.sha256(b"rolecall lambda code url\x00" + host.store.master_key()[0]).digest()


def _sign(host: Host, path: str, expires: int) -> str:
    return hmac.new(_key(host), f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def code_url(host: Host, endpoint: str, account: str, region: str, name: str, sha256_hex: str) -> str:
    path = f"{CODE_PREFIX}{account}/{region}/{quote(name)}/{sha256_hex}.zip"
    expires = int(host.clock.time()) + LIFETIME
    return f"{endpoint}{path}?Expires={expires}&Signature={_sign(host, path, expires)}"


def _refusal(status: int, code: str, message: str) -> HttpResponse:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    ).encode()
    return HttpResponse(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body
    )


def code_response(host: Host, req: HttpRequest) -> HttpResponse:
    """Serve a package from the store to whoever holds a valid URL for it (as a presigned S3 URL would), a
    chunk at a time."""
    if req.method not in ("GET", "HEAD"):
        return _refusal(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
    query = parse_qs(req.query_string)
    try:
        expires = int(query["Expires"][0])
        signature = query["Signature"][0]
    except (KeyError, IndexError, ValueError):
        return _refusal(
            403, "AccessDenied", "Query-string authentication requires the Signature and Expires parameters"
        )
    if not hmac.compare_digest(signature, _sign(host, req.path, expires)):
        return _refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if host.clock.time() > expires:
        return _refusal(403, "AccessDenied", "Request has expired")
    found = _PATH.fullmatch(unquote(req.path[len(CODE_PREFIX) :]))
    package = None
    if found:
        with host.store.read_transaction() as tx:
            package = tx.blob(package_space(found[1], found[2], found[3]), found[4])
    if package is None:
        return _refusal(404, "NoSuchKey", "The specified key does not exist.")
    headers = [("Content-Type", "application/zip"), ("Content-Length", str(package.size))]
    if req.method == "HEAD":
        return HttpResponse(200, headers, b"")
    stream = BodyStream(package.size, host.store.blob_stream(package.id, 0, package.size))
    return HttpResponse(200, headers, b"", stream)
