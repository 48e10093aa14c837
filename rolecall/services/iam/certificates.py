"""X.509 signing certificates of users, server certificates of the account, and users' SSH public keys.

Bodies are checked as IAM checks them, with the `cryptography` library: a certificate must be one PEM X.509
certificate, a server certificate's private key must be the certificate's key (kept sealed, never returned),
its chain PEM certificates; an SSH key must be an RSA key of at least 2048 bits, in OpenSSH ("ssh-rsa ...")
or PEM form. Fingerprints and expirations are computed from the bodies.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.iam.access_keys import key_owner
from rolecall.services.iam.common import (
    arn_of,
    caller_user_arn,
    entity_arn,
    entity_context,
    get_user,
    insert_entity,
    iso_now,
    paginate,
    path_matches,
    path_prefix_arn,
    request_tag_context,
    retag_document,
    touched,
    validate_tags,
)
from rolecall.services.iam.errors import (
    DuplicateCertificate,
    DuplicateSSHPublicKey,
    EntityAlreadyExists,
    InvalidPublicKey,
    KeyPairMismatch,
    LimitExceeded,
    MalformedCertificate,
    NoSuchEntity,
    UnrecognizedPublicKeyEncoding,
)

SIGNING_CERTS_PER_USER = 2
SSH_KEYS_PER_USER = 5
SERVER_CERTIFICATES = 20
SIGNING_KIND, SERVER_KIND, SSH_KIND = "signing_certificate", "server_certificate", "ssh_public_key"
MALFORMED = "Unable to parse certificate. Please ensure the certificate is in PEM format."


def _random_id(prefix: str = "", length: int = 24) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def parse_certificate(body: str) -> x509.Certificate:
    try:
        certificates = x509.load_pem_x509_certificates(body.strip().encode())
    except ValueError:
        raise MalformedCertificate(MALFORMED) from None
    if len(certificates) != 1:
        raise MalformedCertificate(MALFORMED)
    return certificates[0]


def _expiration(cert: x509.Certificate) -> str:
    return cert.not_valid_after_utc.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- SSH keys


def parse_ssh_key(body: str) -> rsa.RSAPublicKey:
    text = body.strip()
    key: Any
    try:
        if text.startswith("ssh-"):
            key = serialization.load_ssh_public_key(text.encode())
        elif text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raise UnrecognizedPublicKeyEncoding(
                "The request was rejected because the public key encoding format is unsupported or unrecognized."
            )
    except (ValueError, TypeError):
        raise InvalidPublicKey(
            "The request was rejected because the public key is malformed or otherwise invalid."
        ) from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise InvalidPublicKey(
            "The request was rejected because the public key is malformed or otherwise invalid."
        )
    return key


def ssh_fingerprint(key: rsa.RSAPublicKey) -> str:
    """The MD5 fingerprint of the key's OpenSSH encoding, colon-separated, as IAM shows it."""
    blob = base64.b64decode(
        key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1]
    )
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _user_of(ctx: OpContext, params: dict[str, Any]) -> str | None:
    """The user an operation on signing certificates addresses: UserName, else the calling user (None: root)."""
    return key_owner(ctx, params)


def _ssh_key(ctx: OpContext, user: str, key_id: str) -> dict[str, Any]:
    key = ctx.tx.get(ctx.account, SSH_KIND, key_id)
    if key is None or key["UserName"] != user:
        raise NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")
    return key


def _ssh_shape(key: dict[str, Any], *, body: str | None = None) -> dict[str, Any]:
    return {
        "UserName": key["UserName"],
        "SSHPublicKeyId": key["SSHPublicKeyId"],
        "Fingerprint": key["Fingerprint"],
        "SSHPublicKeyBody": body if body is not None else key["SSHPublicKeyBody"],
        "Status": key["Status"],
        "UploadDate": key["UploadDate"],
    }


def _server_meta(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        k: doc[k]
        for k in ("Path", "ServerCertificateName", "ServerCertificateId", "Arn", "UploadDate", "Expiration")
    }


def _server_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")


def _get_server(ctx: OpContext, name: str) -> dict[str, Any]:
    doc = ctx.tx.get(ctx.account, SERVER_KIND, name)
    if doc is None:
        raise _server_missing(name)
    return doc


server_arn = arn_of(SERVER_KIND, "ServerCertificateName")


def server_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    context = request_tag_context(params)
    tx = getattr(ctx, "tx", None)
    doc = (
        tx.get(ctx.account, SERVER_KIND, params.get("ServerCertificateName") or "")
        if tx is not None
        else None
    )
    context.update({f"aws:ResourceTag/{t['Key']}": t["Value"] for t in (doc or {}).get("Tags") or []})
    return context


class CertificateOperations(Family):
    # ------------------------------------------------------------ signing certificates

    @operation("iam:UploadSigningCertificate", caller_user_arn, entity_context("user"))
    def UploadSigningCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = _user_of(ctx, params)
        body = params["CertificateBody"]
        cert = parse_certificate(body)
        cert_id = cert.fingerprint(_sha1()).hex().upper()[:32]
        if ctx.tx.get(ctx.account, SIGNING_KIND, cert_id) is not None:
            raise DuplicateCertificate(f"The Certificate with id {cert_id} already exists.")
        owned = [c for c in ctx.tx.list(ctx.account, SIGNING_KIND) if c.get("UserName") == user]
        if len(owned) >= SIGNING_CERTS_PER_USER:
            raise LimitExceeded(f"Cannot exceed quota for CertificatesPerUser: {SIGNING_CERTS_PER_USER}")
        doc = {
            "UserName": user,
            "CertificateId": cert_id,
            "CertificateBody": body,
            "Status": "Active",
            "UploadDate": iso_now(ctx),
        }
        ctx.tx.insert(ctx.account, SIGNING_KIND, cert_id, doc)
        self._touch_user(ctx, user)
        return {"Certificate": self._signing_shape(doc)}

    @operation("iam:ListSigningCertificates", caller_user_arn, entity_context("user"))
    def ListSigningCertificates(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = _user_of(ctx, params)
        owned = sorted(
            (c for c in ctx.tx.list(ctx.account, SIGNING_KIND) if c.get("UserName") == user),
            key=lambda c: (c["UploadDate"], c["CertificateId"]),
        )
        page = paginate(owned, params, "Certificates")
        page["Certificates"] = [self._signing_shape(c) for c in page["Certificates"]]
        return page

    @operation("iam:UpdateSigningCertificate", caller_user_arn, entity_context("user"))
    def UpdateSigningCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._signing(ctx, params)
        doc["Status"] = params["Status"]
        ctx.tx.update(ctx.account, SIGNING_KIND, doc["CertificateId"], doc)
        self._touch_user(ctx, doc.get("UserName"))
        return {}

    @operation("iam:DeleteSigningCertificate", caller_user_arn, entity_context("user"))
    def DeleteSigningCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._signing(ctx, params)
        ctx.tx.delete(ctx.account, SIGNING_KIND, doc["CertificateId"])
        self._touch_user(ctx, doc.get("UserName"))
        return {}

    @staticmethod
    def _signing_shape(doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: doc[k] for k in ("CertificateId", "CertificateBody", "Status", "UploadDate")}
        out["UserName"] = doc.get("UserName") or ""  # the root's certificates belong to no user
        return out

    @staticmethod
    def _signing(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = _user_of(ctx, params)
        doc = ctx.tx.get(ctx.account, SIGNING_KIND, params["CertificateId"])
        if doc is None or doc.get("UserName") != user:
            raise NoSuchEntity(f"The Certificate with id {params['CertificateId']} cannot be found.")
        return doc

    @staticmethod
    def _touch_user(ctx: OpContext, user: str | None) -> None:
        doc = ctx.tx.get(ctx.account, "user", user) if user else None
        if doc is not None:
            touched(ctx, "user", doc["Arn"])

    # ------------------------------------------------------------ SSH public keys

    @operation("iam:UploadSSHPublicKey", arn_of("user"), entity_context("user"))
    def UploadSSHPublicKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = get_user(ctx.tx, ctx.account, params["UserName"])["UserName"]
        key = parse_ssh_key(params["SSHPublicKeyBody"])
        fingerprint = ssh_fingerprint(key)
        owned = [k for k in ctx.tx.list(ctx.account, SSH_KIND) if k["UserName"] == user]
        if any(k["Fingerprint"] == fingerprint for k in owned):
            raise DuplicateSSHPublicKey(
                "The request was rejected because the SSH public key is already associated with the specified IAM user."
            )
        if len(owned) >= SSH_KEYS_PER_USER:
            raise LimitExceeded(f"Cannot exceed quota for PublicKeysPerUser: {SSH_KEYS_PER_USER}")
        key_id = _random_id("APKA", 16)
        doc = {
            "UserName": user,
            "SSHPublicKeyId": key_id,
            "Fingerprint": fingerprint,
            "SSHPublicKeyBody": key.public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            ).decode(),
            "Status": "Active",
            "UploadDate": iso_now(ctx),
        }
        ctx.tx.insert(ctx.account, SSH_KIND, key_id, doc)
        self._touch_user(ctx, user)
        return {"SSHPublicKey": _ssh_shape(doc)}

    @operation("iam:GetSSHPublicKey", arn_of("user"), entity_context("user"))
    def GetSSHPublicKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = get_user(ctx.tx, ctx.account, params["UserName"])["UserName"]
        doc = _ssh_key(ctx, user, params["SSHPublicKeyId"])
        if params["Encoding"] == "PEM":
            key = serialization.load_ssh_public_key(doc["SSHPublicKeyBody"].encode())
            pem = key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return {"SSHPublicKey": _ssh_shape(doc, body=pem.decode())}
        return {"SSHPublicKey": _ssh_shape(doc)}

    @operation("iam:ListSSHPublicKeys", caller_user_arn, entity_context("user"))
    def ListSSHPublicKeys(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = key_owner(ctx, params)
        owned = sorted(
            (k for k in ctx.tx.list(ctx.account, SSH_KIND) if k["UserName"] == user),
            key=lambda k: (k["UploadDate"], k["SSHPublicKeyId"]),
        )
        page = paginate(owned, params, "SSHPublicKeys")
        page["SSHPublicKeys"] = [
            {k: d[k] for k in ("UserName", "SSHPublicKeyId", "Status", "UploadDate")}
            for d in page["SSHPublicKeys"]
        ]
        return page

    @operation("iam:UpdateSSHPublicKey", arn_of("user"), entity_context("user"))
    def UpdateSSHPublicKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = get_user(ctx.tx, ctx.account, params["UserName"])["UserName"]
        doc = _ssh_key(ctx, user, params["SSHPublicKeyId"])
        doc["Status"] = params["Status"]
        ctx.tx.update(ctx.account, SSH_KIND, doc["SSHPublicKeyId"], doc)
        self._touch_user(ctx, user)
        return {}

    @operation("iam:DeleteSSHPublicKey", arn_of("user"), entity_context("user"))
    def DeleteSSHPublicKey(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        user = get_user(ctx.tx, ctx.account, params["UserName"])["UserName"]
        doc = _ssh_key(ctx, user, params["SSHPublicKeyId"])
        ctx.tx.delete(ctx.account, SSH_KIND, doc["SSHPublicKeyId"])
        self._touch_user(ctx, user)
        return {}

    # ------------------------------------------------------------ server certificates

    @operation("iam:UploadServerCertificate", server_arn, server_context)
    def UploadServerCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["ServerCertificateName"], params.get("Path") or "/"
        tags = validate_tags(params.get("Tags"))
        cert = parse_certificate(params["CertificateBody"])
        try:
            key = serialization.load_pem_private_key(params["PrivateKey"].strip().encode(), password=None)
        except (ValueError, TypeError):
            raise MalformedCertificate(
                "Unable to parse private key. Please ensure the key is in PEM format."
            ) from None
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(
            serialization.Encoding.DER, public
        ) != cert.public_key().public_bytes(serialization.Encoding.DER, public):
            raise KeyPairMismatch("Public key certificate and private key doesn't match.")
        chain = params.get("CertificateChain")
        if chain:
            try:
                x509.load_pem_x509_certificates(chain.strip().encode())
            except ValueError:
                raise MalformedCertificate(
                    "Unable to parse certificate chain. Please ensure the chain is in PEM format."
                ) from None
        if len(ctx.tx.list(ctx.account, SERVER_KIND)) >= SERVER_CERTIFICATES:
            raise LimitExceeded(
                f"Cannot exceed quota for ServerCertificatesPerAccount: {SERVER_CERTIFICATES}"
            )
        doc = {
            "Path": path,
            "ServerCertificateName": name,
            "ServerCertificateId": _random_id("ASCA", 17),
            "Arn": entity_arn(ctx.account, SERVER_KIND, path, name),
            "UploadDate": iso_now(ctx),
            "Expiration": _expiration(cert),
            "CertificateBody": params["CertificateBody"],
            "PrivateKeySealed": ctx.config.secret_box.seal(params["PrivateKey"].encode()),
            "Tags": tags,
        }
        if chain:
            doc["CertificateChain"] = chain
        exists = f"The Server Certificate with name {name} already exists."
        insert_entity(ctx.tx, ctx.account, SERVER_KIND, name, doc, doc["ServerCertificateId"], exists)
        touched(ctx, SERVER_KIND, doc["Arn"])
        out: dict[str, Any] = {"ServerCertificateMetadata": _server_meta(doc)}
        if tags:
            out["Tags"] = tags
        return out

    @operation("iam:GetServerCertificate", server_arn, server_context)
    def GetServerCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _get_server(ctx, params["ServerCertificateName"])
        out: dict[str, Any] = {
            "ServerCertificateMetadata": _server_meta(doc),
            "CertificateBody": doc["CertificateBody"],
        }
        if doc.get("CertificateChain"):
            out["CertificateChain"] = doc["CertificateChain"]
        out["Tags"] = [dict(t) for t in doc.get("Tags") or []]
        return {"ServerCertificate": out}

    @operation("iam:ListServerCertificates", path_prefix_arn(SERVER_KIND))
    def ListServerCertificates(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        docs = [
            d
            for d in ctx.tx.list(ctx.account, SERVER_KIND)
            if path_matches(d["Path"], params.get("PathPrefix"))
        ]
        page = paginate(
            docs, params, "ServerCertificateMetadataList", cursor=lambda d: d["ServerCertificateName"].lower()
        )
        page["ServerCertificateMetadataList"] = [
            _server_meta(d) for d in page["ServerCertificateMetadataList"]
        ]
        return page

    @operation("iam:UpdateServerCertificate", server_arn, server_context)
    def UpdateServerCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _get_server(ctx, params["ServerCertificateName"])
        new_name = params.get("NewServerCertificateName") or doc["ServerCertificateName"]
        new_path = params.get("NewPath") or doc["Path"]
        old_name = doc["ServerCertificateName"]
        if (
            new_name.lower() != old_name.lower()
            and ctx.tx.get(ctx.account, SERVER_KIND, new_name) is not None
        ):
            raise EntityAlreadyExists(f"The Server Certificate with name {new_name} already exists.")
        doc.update(
            ServerCertificateName=new_name,
            Path=new_path,
            Arn=entity_arn(ctx.account, SERVER_KIND, new_path, new_name),
        )
        ctx.tx.delete(ctx.account, SERVER_KIND, old_name)
        ctx.tx.insert(ctx.account, SERVER_KIND, new_name, doc, uid=doc["ServerCertificateId"])
        touched(ctx, SERVER_KIND, doc["Arn"])
        return {}

    @operation("iam:DeleteServerCertificate", server_arn, server_context)
    def DeleteServerCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _get_server(ctx, params["ServerCertificateName"])
        ctx.tx.delete(ctx.account, SERVER_KIND, doc["ServerCertificateName"])
        touched(ctx, SERVER_KIND, doc["Arn"])
        return {}

    @operation("iam:TagServerCertificate", server_arn, server_context)
    def TagServerCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _get_server(ctx, params["ServerCertificateName"])
        name = doc["ServerCertificateName"]
        return retag_document(ctx, SERVER_KIND, name, doc, params, "TagsPerServerCertificate", doc["Arn"])

    @operation("iam:UntagServerCertificate", server_arn, server_context)
    def UntagServerCertificate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _get_server(ctx, params["ServerCertificateName"])
        name = doc["ServerCertificateName"]
        return retag_document(ctx, SERVER_KIND, name, doc, params, "TagsPerServerCertificate", doc["Arn"])

    @operation("iam:ListServerCertificateTags", server_arn, server_context)
    def ListServerCertificateTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _get_server(ctx, params["ServerCertificateName"])
        return paginate(doc.get("Tags") or [], params, "Tags")


def _sha1() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA1()  # noqa: S303 -- an identifier, as IAM derives certificate ids, not a security use
