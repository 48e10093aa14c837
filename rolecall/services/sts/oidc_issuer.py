"""rolecall's local OpenID Connect issuers: the only issuers whose keys rolecall has without a network.

An issuer is named by its URL without the scheme (token.actions.githubusercontent.com, or
oidc.eks.us-east-1.amazonaws.com/id/...), is created the first time a token is minted for it, and keeps one
RSA key in the store (kind "oidc_issuer" of the pseudo-account "rolecall"; the private half sealed with the
store's secret key), so every node verifies its tokens. The server publishes, for each issuer:

    GET  /_rolecall/oidc/NAME/.well-known/openid-configuration   the discovery document
    GET  /_rolecall/oidc/NAME/.well-known/jwks                    its keys (JWKS)
    POST /_rolecall/oidc-token                                    mint a token (signed by an account's root)

Tokens are shaped like the real issuer's where rolecall knows it: GitHub Actions' (the repository, ref,
workflow... claims derived from `sub`), EKS service accounts' (the kubernetes.io claim), otherwise plain
OIDC ID tokens (iss, sub, aud, iat, nbf, exp, jti).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rolecall.core.host import Host
from rolecall.errors import AccessDenied, AwsError, InvalidParameterValue
from rolecall.http import HttpRequest, HttpResponse
from rolecall.store import Conflict, Tx

ACCOUNT = "rolecall"  # the store's pseudo-account for server-wide documents
KIND = "oidc_issuer"
ROUTE = "/_rolecall/oidc/"
MINT_ROUTE = "/_rolecall/oidc-token"
ALGORITHM = "RS256"
GITHUB = "token.actions.githubusercontent.com"
EKS_DEFAULT = "oidc.eks.us-east-1.amazonaws.com/id/5E5510E1A2B3C4D5E6F708192A3B4C5D"
ALIASES = {"github": GITHUB, "eks": EKS_DEFAULT}
_EKS = re.compile(r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[0-9A-Za-z]+$")
_NAME = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~%-]+)*$")
DEFAULT_TTL = 3600
MAX_TTL = 86400


def issuer_name(text: str) -> str:
    """An issuer's name from what a user types: an alias (github, eks), a URL or a bare host[/path]."""
    name = ALIASES.get(text.lower(), text)
    if name.lower().startswith("https://"):
        name = name[len("https://") :]
    name = name.rstrip("/")
    if not _NAME.match(name) or "." not in name.split("/", 1)[0]:
        raise InvalidParameterValue(
            f"Invalid issuer {text!r}: give a host name with an optional path "
            "(token.actions.githubusercontent.com), or github or eks."
        )
    return name


def issuer_url(name: str) -> str:
    return f"https://{name}"


def get_issuer(tx: Tx, name: str) -> dict[str, Any] | None:
    return tx.get(ACCOUNT, KIND, name)


def public_jwks(doc: dict[str, Any]) -> dict[str, Any]:
    return {"keys": [dict(doc["Jwk"])]}


def _new_issuer(host: Host, name: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kty": "RSA", "alg": ALGORITHM, "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}
    # The key id as GitHub's and Kubernetes' are: a digest of the public key.
    jwk["kid"] = hashlib.sha256(json.dumps(jwk, sort_keys=True).encode()).hexdigest()[:40]
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "Name": name,
        "Issuer": issuer_url(name),
        "Jwk": jwk,
        "PrivateKeySealed": host.config.secret_box.seal(pem),
        "Created": host.clock.time(),
    }


def ensure_issuer(host: Host, name: str) -> dict[str, Any]:
    """The issuer named `name`, created with a new key if it does not exist yet."""
    with host.store.read_transaction() as tx:
        doc = get_issuer(tx, name)
    if doc is not None:
        return doc
    fresh = _new_issuer(host, name)
    with host.store.transaction() as tx:
        doc = get_issuer(tx, name)
        if doc is not None:  # another request created it meanwhile
            return doc
        try:
            tx.insert(ACCOUNT, KIND, name, fresh)
        except Conflict:
            pass
    return fresh


def _shape(name: str, sub: str, now: int) -> dict[str, Any]:
    """The claims the real issuer adds to every token, derived from the subject where it encodes them."""
    claims: dict[str, Any] = {}
    if name == GITHUB:
        # repo:OWNER/REPO:ref:refs/heads/main | repo:OWNER/REPO:environment:prod | repo:OWNER/REPO:pull_request
        m = re.match(r"^repo:(?P<repo>[^:]+/[^:]+):(?P<kind>[a-z_]+)(?::(?P<value>.+))?$", sub)
        repo = m.group("repo") if m else "octo-org/octo-repo"
        owner = repo.split("/", 1)[0]
        ref = "refs/heads/main"
        if m and m.group("kind") == "ref" and m.group("value"):
            ref = m.group("value")
        claims.update(
            {
                "repository": repo,
                "repository_id": str(int(hashlib.sha256(repo.encode()).hexdigest()[:8], 16)),
                "repository_owner": owner,
                "repository_owner_id": str(int(hashlib.sha256(owner.encode()).hexdigest()[:8], 16)),
                "repository_visibility": "private",
                "ref": ref,
                "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
                "sha": hashlib.sha1(f"{repo}{ref}{now}".encode()).hexdigest(),
                "actor": owner,
                "actor_id": str(int(hashlib.sha256(owner.encode()).hexdigest()[:8], 16)),
                "event_name": "pull_request" if m and m.group("kind") == "pull_request" else "push",
                "workflow": "ci",
                "workflow_ref": f"{repo}/.github/workflows/ci.yml@{ref}",
                "job_workflow_ref": f"{repo}/.github/workflows/ci.yml@{ref}",
                "run_id": str(now),
                "run_number": "1",
                "run_attempt": "1",
                "runner_environment": "github-hosted",
            }
        )
        if m and m.group("kind") == "environment" and m.group("value"):
            claims["environment"] = m.group("value")
    elif _EKS.match(name):
        # system:serviceaccount:NAMESPACE:NAME
        parts = sub.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            claims["kubernetes.io"] = {
                "namespace": parts[2],
                "serviceaccount": {"name": parts[3], "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, sub))},
            }
    return claims


def mint(
    host: Host,
    name: str,
    sub: str,
    aud: str | list[str],
    extra: dict[str, Any] | None = None,
    ttl: int = DEFAULT_TTL,
) -> str:
    """A signed ID token of the local issuer `name` (created on first use), valid from now for `ttl`."""
    doc = ensure_issuer(host, name)
    now = int(host.clock.time())
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "sub": sub,
        "aud": aud,
        **_shape(name, sub, now),
        "iss": doc["Issuer"],
        "nbf": now,
        "iat": now,
        "exp": now + ttl,
    }
    claims.update(extra or {})
    pem = host.config.secret_box.open(doc["PrivateKeySealed"])
    headers = {"kid": doc["Jwk"]["kid"], "typ": "JWT"}
    return jwt.encode(claims, pem, algorithm=ALGORITHM, headers=headers)


# -- the routes ----------------------------------------------------------------------------------------


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def _error(err: AwsError) -> HttpResponse:
    return _json(err.status, {"Error": {"Code": err.code, "Message": err.message}})


def discovery(doc: dict[str, Any], base: str) -> dict[str, Any]:
    here = f"{base}{ROUTE}{doc['Name']}"
    return {
        "issuer": doc["Issuer"],
        "jwks_uri": f"{here}/.well-known/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "scopes_supported": ["openid"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
    }


def serve_issuer(host: Host, req: HttpRequest) -> HttpResponse:
    """GET .../NAME/.well-known/openid-configuration or .../NAME/.well-known/jwks (no signature needed:
    they are public, as a real issuer's are)."""
    rest = req.path[len(ROUTE) :]
    name, sep, what = rest.partition("/.well-known/")
    if req.method != "GET" or not sep or what not in ("openid-configuration", "jwks"):
        return _json(404, {"Error": {"Code": "NotFound", "Message": f"No such path: {req.path}"}})
    with host.store.read_transaction() as tx:
        doc = get_issuer(tx, name)
    if doc is None:
        return _json(
            404,
            {
                "Error": {
                    "Code": "NotFound",
                    "Message": f"rolecall has no local OIDC issuer {name}: "
                    "`rolecall oidc issue-token --issuer NAME` creates one.",
                }
            },
        )
    if what == "jwks":
        return _json(200, public_jwks(doc))
    scheme = "https" if req.headers.get("x-forwarded-proto") == "https" else "http"
    base = f"{scheme}://{req.headers.get('host', '127.0.0.1')}"
    return _json(200, discovery(doc, base))


def serve_mint(host: Host, req: HttpRequest) -> HttpResponse:
    """POST /_rolecall/oidc-token, signed by an account's root user, JSON {"issuer", "sub", "aud",
    "claims"?, "ttl"?}: {"token": JWT, "issuer": URL}. Only a root user may mint: a token of a local issuer
    passes every trust policy that trusts that issuer."""
    try:
        if req.method != "POST":
            raise InvalidParameterValue(f"Use POST {MINT_ROUTE}.")
        caller = host.authenticate(req)
        if not caller.is_root:
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to mint tokens of rolecall's local OIDC issuers: "
                "only an account's root user may."
            )
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            raise InvalidParameterValue("The request body is not JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("sub"), str) or not body.get("sub"):
            raise InvalidParameterValue("sub is required (a string).")
        aud = body.get("aud") or "sts.amazonaws.com"
        if not (isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))):
            raise InvalidParameterValue("aud must be a string or a list of strings.")
        extra = body.get("claims") or {}
        if not isinstance(extra, dict):
            raise InvalidParameterValue("claims must be an object.")
        ttl = body.get("ttl", DEFAULT_TTL)
        if not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
            raise InvalidParameterValue(f"ttl must be a number of seconds from 1 to {MAX_TTL}.")
        name = issuer_name(str(body.get("issuer") or ""))
        token = mint(host, name, body["sub"], aud, extra, ttl)
        return _json(200, {"token": token, "issuer": issuer_url(name)})
    except AwsError as err:
        return _error(err)
