"""AWS Signature Version 4, verified on the server side.

Two forms are accepted:
  - the Authorization header:
        AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request,
        SignedHeaders=content-type;host;x-amz-date, Signature=<64 hex>
    with the time in X-Amz-Date (or Date), and a session token in X-Amz-Security-Token;
  - a presigned URL: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
    X-Amz-Signature (and X-Amz-Security-Token) in the query string.

verify() recomputes exactly what botocore's signer computes (botocore.auth.SigV4Auth / SigV4QueryAuth):
the canonical request from the method, the path (dot segments removed and encoded again, except for S3),
the query string re-encoded and sorted, the SignedHeaders with values trimmed, and the payload hash
(x-amz-content-sha256 when sent, else SHA-256 of the body); then the string to sign over the credential
scope, and an HMAC chain from the secret. Derived signing keys are cached per (secret, date, region,
service). Errors carry AWS's codes and wording; no secret ever appears in one.

S3 differs: the path is encoded once and never normalized, x-amz-content-sha256 is required and is what gets
signed (a hash, UNSIGNED-PAYLOAD, or a STREAMING-* form); once the signature holds, the body is checked
against a hash or decoded from aws-chunked with its chunk signatures verified (open_payload), a clock skew
over 15 minutes is RequestTimeTooSkewed, and a presigned URL lives for its X-Amz-Expires.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_plus, unquote_to_bytes

from rolecall.errors import AwsError, IncompleteSignature, MissingAuthenticationToken, SignatureDoesNotMatch
from rolecall.http import HttpRequest
from rolecall.wire import aws_chunked
from rolecall.wire.dispatch import query_params

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
S3_SIGNATURE_MISMATCH = aws_chunked.CHUNK_SIGNATURE_MISMATCH

# How far the request time may be from the server's clock. STS allows 15 minutes ("... - 15 min." in its
# errors); the other query/JSON services 5.
DEFAULT_MAX_SKEW = 300
MAX_SKEW_BY_SERVICE = {"sts": 900, "s3": 900}

# Services whose canonical URI is the path encoded once (no dot-segment removal, no second encoding), and
# whose payload hash is always the x-amz-content-sha256 header (checked against the body after the signature).
UNNORMALIZED_PATH_SERVICES = frozenset({"s3", "s3express"})
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

_BASIC_DATE = re.compile(r"\d{8}T\d{6}Z")
_SIGNING_KEYS: dict[tuple[str, str, str, str], bytes] = {}
_SIGNING_KEY_LIMIT = 4096


@dataclass(frozen=True)
class SignatureInfo:
    """What a request claims about its signature, before anything is checked."""

    access_key_id: str
    date: str  # the credential scope's date, YYYYMMDD
    region: str
    service: str
    terminator: str  # "aws4_request" when well formed
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # the request time as sent (X-Amz-Date, or the Date header)
    security_token: str | None = None
    presigned: bool = False
    expires: str | None = None  # X-Amz-Expires, as sent (presigned only)

    @property
    def credential_scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def missing_authentication_token() -> AwsError:
    """The error for an unsigned request to a service that needs a signature."""
    return MissingAuthenticationToken("Request is missing Authentication Token")


# -- parsing ------------------------------------------------------------------------------------------------


def parse_signature(req: HttpRequest) -> SignatureInfo | None:
    """The signature a request carries, or None when it carries none. Raises IncompleteSignature if malformed."""
    header = req.headers.get("authorization")
    query = query_params(req.query_string) if "X-Amz-" in req.query_string else {}
    presigned = bool(query) and any(
        key in query for key in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
    )
    if header is not None and presigned:
        raise IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the "
            "Authorization header should be specified"
        )
    if header is not None:
        return _parse_authorization(req, header)
    if presigned:
        return _parse_presigned(req, query)
    return None


# The header as every SDK writes it: one match instead of the general parse below (which any other spacing,
# order or content still goes through, with its precise errors).
_WELL_FORMED = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,\s=]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})"
)


def _parse_authorization(req: HttpRequest, header: str) -> SignatureInfo:
    found = _WELL_FORMED.fullmatch(header)
    if found is not None:
        amz_date = req.headers.get("x-amz-date")
        if amz_date:
            key, date, region, service, signed, signature = found.groups()
            return SignatureInfo(
                access_key_id=key,
                date=date,
                region=region,
                service=service,
                terminator="aws4_request",
                signed_headers=tuple(signed.split(";")),
                signature=signature,
                amz_date=amz_date,
                security_token=req.headers.get("x-amz-security-token"),
            )
    algorithm, _, rest = header.strip().partition(" ")
    fields: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for component in rest.split(","):
            component = component.strip()
            if not component:
                continue
            name, eq, value = component.partition("=")
            if not eq:
                raise IncompleteSignature(
                    f"'{component}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                    f"'{header}'."
                )
            fields[name.strip()] = value.strip()
    amz_date = req.headers.get("x-amz-date") or _date_header_as_basic(req.headers.get("date"))
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if not amz_date:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise IncompleteSignature(" ".join(problems) + f" Authorization={header}")
    access_key, date, region, service, terminator = _split_credential(fields["Credential"])
    return SignatureInfo(
        access_key_id=access_key,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
        amz_date=amz_date,
        security_token=req.headers.get("x-amz-security-token"),
    )


def _parse_presigned(req: HttpRequest, query: dict[str, str]) -> SignatureInfo:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
    missing = [name for name in required if not query.get(name)]
    if missing:
        raise IncompleteSignature(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters."
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'")
    access_key, date, region, service, terminator = _split_credential(query["X-Amz-Credential"])
    return SignatureInfo(
        access_key_id=access_key,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(query["X-Amz-SignedHeaders"].split(";")),
        signature=query["X-Amz-Signature"],
        amz_date=query["X-Amz-Date"],
        security_token=query.get("X-Amz-Security-Token") or req.headers.get("x-amz-security-token"),
        presigned=True,
        expires=query.get("X-Amz-Expires"),
    )


def _split_credential(credential: str) -> tuple[str, str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'"
        )
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def _date_header_as_basic(value: str | None) -> str:
    if not value:
        return ""
    try:
        return parsedate_to_datetime(value).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError, IndexError):
        return value  # reported as a badly formatted date by verify()


# -- choosing the service -------------------------------------------------------------------------------


# -- verifying ------------------------------------------------------------------------------------------


def verify(
    req: HttpRequest,
    info: SignatureInfo,
    secret_access_key: str,
    now: float,
    *,
    service: str | None = None,
    regions: frozenset[str] | set[str] | None = None,
    max_skew: int | None = None,
) -> None:
    """Raise the AwsError AWS would return unless `info` is a valid signature of `req` by the secret.

    service:  when given, the credential scope must name it ("Credential should be scoped to correct ...").
    regions:  when given, the scope's region must be one of them.
    max_skew: seconds the request time may differ from `now` (default: 15 min for STS, 5 min otherwise).
    """
    # SignedHeaders and the signature are taken exactly as sent: the canonical request names the headers as
    # the signer listed them (lower-case, as every AWS signer writes them), and the signature is compared
    # as the lower-case hex every signer produces, so a re-cased copy of a valid signature is not one.
    if "host" not in info.signed_headers and "host" not in (name.lower() for name in info.signed_headers):
        raise IncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    if not _BASIC_DATE.fullmatch(info.amz_date):
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{info.amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )
    if info.date != info.amz_date[:8]:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{info.date}' != '{info.amz_date[:8]}', from '{info.amz_date}'."
        )
    if info.terminator != "aws4_request":
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{info.terminator}'. "
        )
    if regions is not None and info.region not in regions:
        raise SignatureDoesNotMatch(f"Credential should be scoped to a valid region, not '{info.region}'. ")
    if service is not None and info.service != service:
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{service}'. ")
    _check_time(info, now, max_skew)
    payload_hash = _payload_hash(req, info)
    expected = signature_for(req, info, secret_access_key, payload_hash)
    if not hmac.compare_digest(expected.encode(), info.signature.encode("utf-8", "replace")):
        raise SignatureDoesNotMatch(S3_SIGNATURE_MISMATCH if _is_s3(info) else SIGNATURE_MISMATCH)
    if _is_s3(info):
        signer = aws_chunked.ChunkSigner(
            signing_key(secret_access_key, info.date, info.region, info.service),
            info.amz_date,
            info.credential_scope,
            expected,
        )
        open_payload(req, signer)


@functools.lru_cache(maxsize=256)
def _basic_date_seconds(d: str) -> int:
    """Epoch seconds of a YYYYMMDDTHHMMSSZ time (already checked); cached, as requests signed in the same
    second share it."""
    return calendar.timegm(
        (int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]), int(d[13:15]), 0, 0, 0)
    )


def _check_time(info: SignatureInfo, now: float, max_skew: int | None) -> None:
    signed_at = _basic_date_seconds(info.amz_date)
    if info.presigned and info.service in UNNORMALIZED_PATH_SERVICES:
        _check_s3_expiry(info, signed_at, now)
        return
    # Query and JSON services ignore X-Amz-Expires: a presigned request is good within the skew window.
    window = max_skew if max_skew is not None else MAX_SKEW_BY_SERVICE.get(info.service, DEFAULT_MAX_SKEW)
    if _is_s3(info) and abs(signed_at - now) > window:
        raise AwsError(
            "The difference between the request time and the current time is too large.",
            code="RequestTimeTooSkewed",
            status=403,
        )
    minutes = f"{window // 60} min." if window % 60 == 0 else f"{window} sec."
    if signed_at < now - window:
        raise SignatureDoesNotMatch(
            f"Signature expired: {info.amz_date} is now earlier than {_basic(now - window)} "
            f"({_basic(now)} - {minutes})"
        )
    if signed_at > now + window:
        raise SignatureDoesNotMatch(
            f"Signature not yet current: {info.amz_date} is still later than {_basic(now + window)} "
            f"({_basic(now)} + {minutes})"
        )


def _check_s3_expiry(info: SignatureInfo, signed_at: float, now: float) -> None:
    try:
        expires = int(info.expires or "")
    except ValueError:
        raise AwsError(
            "X-Amz-Expires should be a number", code="AuthorizationQueryParametersError", status=400
        ) from None
    if expires > 604800:
        raise AwsError(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            code="AuthorizationQueryParametersError",
            status=400,
        )
    if expires < 0:
        raise AwsError(
            "X-Amz-Expires must be non-negative", code="AuthorizationQueryParametersError", status=400
        )
    if now > signed_at + expires:
        raise AwsError("Request has expired", code="AccessDenied", status=403)
    # A URL dated ahead of the clock (beyond the allowed skew) is not valid yet: otherwise a signer could
    # date it years ahead and stretch the 7-day limit at will.
    if signed_at > now + MAX_SKEW_BY_SERVICE.get(info.service, DEFAULT_MAX_SKEW):
        raise AwsError("Request is not valid yet", code="AccessDenied", status=403)


def _basic(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y%m%dT%H%M%SZ")


def _is_s3(info: SignatureInfo) -> bool:
    return info.service in UNNORMALIZED_PATH_SERVICES


def _payload_hash(req: HttpRequest, info: SignatureInfo) -> str:
    declared = req.headers.get("x-amz-content-sha256")
    if _is_s3(info):
        return _s3_payload_hash(declared, info)
    actual = hashlib.sha256(req.body).hexdigest() if req.body else EMPTY_SHA256
    if declared is None:
        return actual
    if declared == UNSIGNED_PAYLOAD or declared.startswith("STREAMING-"):
        return str(declared)
    if declared.lower() != actual:
        # The header is what was signed; a body that does not hash to it was not.
        raise SignatureDoesNotMatch(SIGNATURE_MISMATCH)
    return str(declared)


def _s3_payload_hash(declared: str | None, info: SignatureInfo) -> str:
    """S3 signs whatever x-amz-content-sha256 says; the body is held to it once the signature holds."""
    if declared is None:
        if info.presigned:
            return UNSIGNED_PAYLOAD
        raise AwsError(
            "Missing required header for this request: x-amz-content-sha256",
            code="InvalidRequest",
            status=400,
        )
    if declared == UNSIGNED_PAYLOAD or declared in aws_chunked.FORMS or _SHA256_HEX.fullmatch(declared):
        return declared
    raise AwsError(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
        "or a valid sha256 value.",
        code="InvalidArgument",
        status=400,
    )


def open_payload(req: HttpRequest, signer: aws_chunked.ChunkSigner | None = None) -> None:
    """Hold an S3 request's body to its x-amz-content-sha256, decoding an aws-chunked body in place.

    A real hash must match the body (XAmzContentSHA256Mismatch). A streaming body is decoded, its chunk
    signatures verified when `signer` is given (None: --auth off), and the request rewritten to what it
    stands for: the decoded body, its trailing headers (checksums) as headers, "aws-chunked" dropped from
    Content-Encoding and the hash marked UNSIGNED-PAYLOAD, so later readers (and a second call) see a
    plain upload.
    """
    declared = req.headers.get("x-amz-content-sha256") or ""
    if _SHA256_HEX.fullmatch(declared):
        if hashlib.sha256(req.body).hexdigest() != declared.lower():
            raise AwsError(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                code="XAmzContentSHA256Mismatch",
                status=400,
            )
        return
    if declared not in aws_chunked.FORMS:
        return
    payload, trailers = aws_chunked.decode(req.body, declared, signer)
    decoded_length = req.headers.get("x-amz-decoded-content-length")
    if decoded_length is not None and decoded_length.strip() != str(len(payload)):
        raise aws_chunked.incomplete_body(
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        )
    req.body = payload
    for name, value in trailers.items():
        req.headers[name] = value
    encodings = [
        e.strip()
        for e in (req.headers.get("content-encoding") or "").split(",")
        if e.strip() != "aws-chunked"
    ]
    if any(encodings):
        req.headers["content-encoding"] = ",".join(e for e in encodings if e)
    else:
        req.headers.pop("content-encoding", None)
    req.headers["content-length"] = str(len(payload))
    req.headers["x-amz-content-sha256"] = UNSIGNED_PAYLOAD


def signature_for(req: HttpRequest, info: SignatureInfo, secret_access_key: str, payload_hash: str) -> str:
    """The hex signature of `req` under `info`'s scope and signed headers."""
    canonical = canonical_request(req, info, payload_hash)
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            info.amz_date,
            info.credential_scope,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        )
    )
    key = signing_key(secret_access_key, info.date, info.region, info.service)
    # Not hmac.digest: its one-shot C call releases the GIL around even a tiny HMAC, and taking the GIL back
    # from another busy thread (the trail writer) costs far more than the HMAC (92 us against 2 us here).
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def canonical_request(req: HttpRequest, info: SignatureInfo, payload_hash: str) -> str:
    headers = req.headers
    lines = []
    for name in info.signed_headers:
        # Headers.get's own first step, inline: signers list names lower-cased, as they are stored, and the
        # method call per signed header cost this hot path 1% of a GetCallerIdentity's instructions.
        value = dict.get(headers, name)
        if value is None:
            value = headers.get(name) or ""
        lines.append(f"{name}:{' '.join(value.split())}\n")
    canonical_headers = "".join(lines)
    return "\n".join(
        (
            req.method.upper(),
            canonical_uri(req.path, info.service),
            canonical_query(req.query_string, drop_signature=info.presigned),
            canonical_headers,
            ";".join(info.signed_headers),
            payload_hash,
        )
    )


def canonical_uri(raw_path: str, service: str) -> str:
    if raw_path == "/" or not raw_path:  # every query and JSON protocol request
        return "/"
    if service in UNNORMALIZED_PATH_SERVICES:
        # Encoded exactly once, whatever escaping the client chose on the wire ("!" or "%21").
        return quote(unquote_to_bytes(raw_path or "/"), safe="/~")
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal, also collapsing empty segments (as AWS and botocore do)."""
    output: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    head = "/" if path.startswith("/") else ""
    tail = "/" if path.endswith("/") and output else ""
    return head + "/".join(output) + tail


def canonical_query(raw: str, *, drop_signature: bool = False) -> str:
    """Each name and value decoded and re-encoded as SigV4 requires (RFC 3986), sorted by name then value.

    A "+" on the wire is a space: botocore signs a space as %20 but its HTTP layer sends it as "+".
    """
    if not raw:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = quote(unquote_plus(name), safe="-_.~")
        if drop_signature and name == "X-Amz-Signature":
            continue
        pairs.append((name, quote(unquote_plus(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date, region, service, "aws4_request" (cached; bounded)."""
    cache_key = (secret_access_key, date, region, service)
    key = _SIGNING_KEYS.get(cache_key)
    if key is None:
        key = ("AWS4" + secret_access_key).encode("utf-8")
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
        if len(_SIGNING_KEYS) >= _SIGNING_KEY_LIMIT:
            _SIGNING_KEYS.pop(next(iter(_SIGNING_KEYS)))
        _SIGNING_KEYS[cache_key] = key
    return key
