"""SAML 2.0 identity providers: the IdPs whose signed assertions sts:AssumeRoleWithSAML accepts.

Stored per account under kind "saml_provider", named by the provider's Name (its ARN is
arn:aws:iam::ACCOUNT:saml-provider/NAME). The metadata document is parsed when it is given: it must be an
EntityDescriptor with an IDPSSODescriptor holding at least one signing certificate, which STS verifies
assertions with (STS reads these documents; it does not import this module). Quotas: 100 providers per
account, 50 tags. Assertion encryption and Identity Center integration are not implemented.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.iam.common import (
    iso_now,
    paginate,
    request_tag_context,
    retag_document,
    touched,
    validate_tags,
)
from rolecall.services.iam.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from rolecall.store import Conflict

KIND = "saml_provider"
NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}
MAX_PROVIDERS = 100
_ARN = re.compile(r"^arn:aws:iam::(\d{12}):saml-provider/([\w._-]+)$")
# What rolecall does not implement: encrypted assertions, Identity Center.
UNSUPPORTED = ("AssertionEncryptionMode", "AddPrivateKey", "ContextProvider", "IdentityCenterInstanceArn")


def parse_metadata(text: str) -> tuple[str, list[str], str | None]:
    """(entityID, signing certificates as PEM, validUntil or None) of SAML metadata; ValueError otherwise."""
    try:
        root = etree.fromstring(
            text.encode(), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        )
    except etree.XMLSyntaxError as exc:
        raise ValueError(str(exc)) from None
    descriptors = [root] if root.tag == f"{{{NS['md']}}}EntityDescriptor" else []
    descriptors += root.findall(".//md:EntityDescriptor", NS)
    for entity in descriptors:
        idp = entity.find("md:IDPSSODescriptor", NS)
        if idp is None:
            continue
        certs = []
        for key in idp.findall("md:KeyDescriptor", NS):
            if key.get("use") not in (None, "signing"):
                continue
            for cert in key.findall(".//ds:X509Certificate", NS):
                body = "".join((cert.text or "").split())
                try:
                    loaded = x509.load_der_x509_certificate(base64.b64decode(body))
                except ValueError:
                    raise ValueError("a signing certificate is not an X.509 certificate") from None
                certs.append(loaded.public_bytes(serialization.Encoding.PEM).decode())
        if not certs:
            raise ValueError("the IDPSSODescriptor has no signing certificate")
        return entity.get("entityID") or "", certs, entity.get("validUntil") or root.get("validUntil")
    raise ValueError("no EntityDescriptor with an IDPSSODescriptor")


def _metadata(text: str) -> tuple[list[str], str]:
    """(signing certificates, ValidUntil) of a metadata document, with IAM's error."""
    try:
        _, certs, valid_until = parse_metadata(text)
    except ValueError:
        raise InvalidInput("Could not parse metadata") from None
    if valid_until:
        try:
            moment = datetime.fromisoformat(valid_until.replace("Z", "+00:00"))
            return certs, moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise InvalidInput("Could not parse metadata") from None
    return certs, ""


def _arn_param(ctx: OpContext, params: dict[str, Any]) -> str:
    return str(params.get("SAMLProviderArn") or "*")


def _provider(ctx: OpContext, arn: str) -> dict[str, Any]:
    m = _ARN.match(arn)
    if m is None:
        raise InvalidInput(f"ARN {arn} is not valid.")
    doc = ctx.tx.get(ctx.account, KIND, m.group(2)) if m.group(1) == ctx.account else None
    if doc is None or doc["Arn"] != arn:
        raise NoSuchEntity(f"Manifest not found for arn {arn}")
    return doc


def _tag_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    context = request_tag_context(params)
    m = _ARN.match(str(params.get("SAMLProviderArn") or ""))
    tx = getattr(ctx, "tx", None)
    if m and tx is not None and m.group(1) == ctx.account:
        for t in (tx.get(ctx.account, KIND, m.group(2)) or {}).get("Tags") or []:
            context[f"aws:ResourceTag/{t['Key']}"] = t["Value"]
    return context


def _retag(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    doc = _provider(ctx, params["SAMLProviderArn"])
    return retag_document(ctx, KIND, doc["Name"], doc, params, "TagsPerSAMLProvider", doc["Arn"])


def _create_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return f"arn:aws:iam::{ctx.account}:saml-provider/{params.get('Name', '')}"


class SAMLProviderOperations(Family):
    @operation(
        "iam:CreateSAMLProvider",
        _create_arn,
        lambda ctx, p: request_tag_context(p),
        extra=lambda ctx, p: [("iam:TagSAMLProvider", _create_arn(ctx, p), {})] if p.get("Tags") else [],
        unsupported=UNSUPPORTED,
    )
    def CreateSAMLProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if not re.fullmatch(r"[\w._-]+", name):
            raise InvalidInput(f"Invalid SAML provider name {name}: letters, digits and ._- only.")
        certs, valid_until = _metadata(params["SAMLMetadataDocument"])
        tags = validate_tags(params.get("Tags"))
        arn = _create_arn(ctx, params)
        exists = f"SAMLProvider {name} already exists"
        if ctx.tx.get(ctx.account, KIND, name) is not None:
            raise EntityAlreadyExists(exists)
        if len(ctx.tx.list(ctx.account, KIND)) >= MAX_PROVIDERS:
            raise LimitExceeded(f"Cannot exceed quota for SAMLProvidersPerAccount: {MAX_PROVIDERS}")
        created = iso_now(ctx)
        doc = {
            "Arn": arn,
            "Name": name,
            "SAMLProviderUUID": uuid.uuid4().hex,
            "SAMLMetadataDocument": params["SAMLMetadataDocument"],
            "SigningCertificates": certs,
            "CreateDate": created,
            "ValidUntil": valid_until or f"{int(created[:4]) + 100}{created[4:]}",
            "Tags": tags,
        }
        try:
            ctx.tx.insert(ctx.account, KIND, name, doc)
        except Conflict:
            raise EntityAlreadyExists(exists) from None
        touched(ctx, KIND, arn)
        out: dict[str, Any] = {"SAMLProviderArn": arn}
        if tags:
            out["Tags"] = tags
        return out

    @operation("iam:GetSAMLProvider", _arn_param, _tag_context)
    def GetSAMLProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["SAMLProviderArn"])
        return {
            "SAMLProviderUUID": doc["SAMLProviderUUID"],
            "SAMLMetadataDocument": doc["SAMLMetadataDocument"],
            "CreateDate": doc["CreateDate"],
            "ValidUntil": doc["ValidUntil"],
            "Tags": [dict(t) for t in doc.get("Tags") or []],
            "AssertionEncryptionMode": "Allowed",
            "PrivateKeyList": [],
        }

    @operation("iam:ListSAMLProviders")
    def ListSAMLProviders(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "SAMLProviderList": [
                {"Arn": d["Arn"], "ValidUntil": d["ValidUntil"], "CreateDate": d["CreateDate"]}
                for d in ctx.tx.list(ctx.account, KIND)
            ]
        }

    @operation(
        "iam:UpdateSAMLProvider",
        _arn_param,
        _tag_context,
        unsupported=(
            *UNSUPPORTED,
            "RemovePrivateKey",
            "RemoveContextProvider",
            "RemoveIdentityCenterInstance",
        ),
    )
    def UpdateSAMLProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["SAMLProviderArn"])
        if params.get("SAMLMetadataDocument"):
            certs, valid_until = _metadata(params["SAMLMetadataDocument"])
            doc.update(SAMLMetadataDocument=params["SAMLMetadataDocument"], SigningCertificates=certs)
            if valid_until:
                doc["ValidUntil"] = valid_until
            ctx.tx.update(ctx.account, KIND, doc["Name"], doc)
        touched(ctx, KIND, doc["Arn"])
        return {"SAMLProviderArn": doc["Arn"]}

    @operation("iam:DeleteSAMLProvider", _arn_param, _tag_context)
    def DeleteSAMLProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["SAMLProviderArn"])
        ctx.tx.delete(ctx.account, KIND, doc["Name"])
        touched(ctx, KIND, doc["Arn"])
        return {}

    @operation("iam:TagSAMLProvider", _arn_param, _tag_context)
    def TagSAMLProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _retag(ctx, params)

    @operation("iam:UntagSAMLProvider", _arn_param, _tag_context)
    def UntagSAMLProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _retag(ctx, params)

    @operation("iam:ListSAMLProviderTags", _arn_param, _tag_context)
    def ListSAMLProviderTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["SAMLProviderArn"])
        return paginate(doc.get("Tags") or [], params, "Tags")
