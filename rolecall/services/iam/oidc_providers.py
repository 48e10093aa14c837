"""OpenID Connect identity providers: the issuers whose tokens sts:AssumeRoleWithWebIdentity accepts.

A provider is stored per account under kind "oidc_provider", named by its URL without the scheme
(token.actions.githubusercontent.com), which is also the tail of its ARN
(arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com) and the prefix of the condition
keys its tokens bring (token.actions.githubusercontent.com:sub). STS reads these documents; it does not
import this module.

AWS's rules (IAM API Reference, CreateOpenIDConnectProvider): the URL begins with https://, may have a
path but no query or fragment, and is registered once per account; up to 100 client IDs (audiences) of
at most 255 characters; up to 5 thumbprints of 40 hex characters (optional: IAM no longer needs them for
well-known CAs, and rolecall reaches no network); 50 tags; 100 providers per account.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

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

KIND = "oidc_provider"
MAX_PROVIDERS = 100
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
_ARN = re.compile(r"^arn:aws:iam::(\d{12}):oidc-provider/(.+)$")


def provider_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{name}"


def provider_name(url: str) -> str:
    """The provider's name (its URL without https:// and a trailing slash), checked as IAM checks it."""
    parsed = urllib.parse.urlsplit(url)
    if (
        parsed.scheme.lower() != "https"
        or not parsed.hostname
        or parsed.query
        or parsed.fragment
        or "?" in url
        or any(c.isspace() for c in url)
    ):
        raise InvalidInput("Invalid Open ID Connect Provider URL")
    return url.split("://", 1)[1].rstrip("/")


def _check_thumbprints(thumbprints: list[str]) -> list[str]:
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise InvalidInput(f"Thumbprint list must contain at most {MAX_THUMBPRINTS} thumbprints.")
    for t in thumbprints:
        if not _THUMBPRINT.match(t):
            raise InvalidInput(
                f"Thumbprint {t} is not a valid thumbprint: it must be 40 hexadecimal characters."
            )
    return list(dict.fromkeys(thumbprints))


def _check_client_ids(client_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(client_ids))
    if len(unique) > MAX_CLIENT_IDS:
        raise LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
    return unique


def _arn_param(ctx: OpContext, params: dict[str, Any]) -> str:
    return str(params.get("OpenIDConnectProviderArn") or "*")


def _provider(ctx: OpContext, arn: str) -> dict[str, Any]:
    """The caller's account's provider this ARN names, with IAM's errors."""
    m = _ARN.match(arn)
    if m is None:
        raise InvalidInput(f"ARN {arn} is not valid.")
    doc = ctx.tx.get(ctx.account, KIND, m.group(2)) if m.group(1) == ctx.account else None
    if doc is None or doc["Arn"] != arn:
        raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")
    return doc


def _provider_tag_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    context = request_tag_context(params)
    m = _ARN.match(str(params.get("OpenIDConnectProviderArn") or ""))
    tx = getattr(ctx, "tx", None)
    if m and tx is not None and m.group(1) == ctx.account:
        doc = tx.get(ctx.account, KIND, m.group(2))
        for t in (doc or {}).get("Tags") or []:
            context[f"aws:ResourceTag/{t['Key']}"] = t["Value"]
    return context


def _retag(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    doc = _provider(ctx, params["OpenIDConnectProviderArn"])
    return retag_document(ctx, KIND, doc["Url"], doc, params, "TagsPerOpenIdConnectProvider", doc["Arn"])


def _create_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    try:
        return provider_arn(ctx.account, provider_name(params.get("Url") or ""))
    except InvalidInput:
        return "*"


class OIDCProviderOperations(Family):
    @operation(
        "iam:CreateOpenIDConnectProvider",
        _create_arn,
        lambda ctx, p: request_tag_context(p),
        extra=lambda ctx, p: (
            [("iam:TagOpenIDConnectProvider", _create_arn(ctx, p), {})] if p.get("Tags") else []
        ),
    )
    def CreateOpenIDConnectProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        url = params["Url"]
        name = provider_name(url)
        client_ids = _check_client_ids(params.get("ClientIDList") or [])
        thumbprints = _check_thumbprints(params.get("ThumbprintList") or [])
        tags = validate_tags(params.get("Tags"))
        arn = provider_arn(ctx.account, name)
        exists = f"Provider with url {url} already exists."
        if ctx.tx.get(ctx.account, KIND, name) is not None:
            raise EntityAlreadyExists(exists)
        if len(ctx.tx.list(ctx.account, KIND)) >= MAX_PROVIDERS:
            raise LimitExceeded(f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}")
        doc = {
            "Arn": arn,
            "Url": name,
            "ClientIDList": client_ids,
            "ThumbprintList": thumbprints,
            "CreateDate": iso_now(ctx),
            "Tags": tags,
        }
        try:
            ctx.tx.insert(ctx.account, KIND, name, doc)
        except Conflict:
            raise EntityAlreadyExists(exists) from None
        touched(ctx, KIND, arn)
        out: dict[str, Any] = {"OpenIDConnectProviderArn": arn}
        if tags:
            out["Tags"] = tags
        return out

    @operation("iam:GetOpenIDConnectProvider", _arn_param, _provider_tag_context)
    def GetOpenIDConnectProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["OpenIDConnectProviderArn"])
        return {
            "Url": doc["Url"],
            "ClientIDList": list(doc["ClientIDList"]),
            "ThumbprintList": list(doc["ThumbprintList"]),
            "CreateDate": doc["CreateDate"],
            "Tags": [dict(t) for t in doc.get("Tags") or []],
        }

    @operation("iam:ListOpenIDConnectProviders")
    def ListOpenIDConnectProviders(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"OpenIDConnectProviderList": [{"Arn": d["Arn"]} for d in ctx.tx.list(ctx.account, KIND)]}

    @operation("iam:DeleteOpenIDConnectProvider", _arn_param, _provider_tag_context)
    def DeleteOpenIDConnectProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["OpenIDConnectProviderArn"]
        # Idempotent (IAM API Reference): deleting a provider that does not exist is no error.
        try:
            doc = _provider(ctx, arn)
        except NoSuchEntity:
            return {}
        ctx.tx.delete(ctx.account, KIND, doc["Url"])
        touched(ctx, KIND, arn)
        return {}

    @operation("iam:UpdateOpenIDConnectProviderThumbprint", _arn_param, _provider_tag_context)
    def UpdateOpenIDConnectProviderThumbprint(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["OpenIDConnectProviderArn"])
        doc["ThumbprintList"] = _check_thumbprints(params.get("ThumbprintList") or [])
        ctx.tx.update(ctx.account, KIND, doc["Url"], doc)
        touched(ctx, KIND, doc["Arn"])
        return {}

    @operation("iam:AddClientIDToOpenIDConnectProvider", _arn_param, _provider_tag_context)
    def AddClientIDToOpenIDConnectProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["OpenIDConnectProviderArn"])
        if params["ClientID"] not in doc["ClientIDList"]:  # adding one that is there changes nothing
            doc["ClientIDList"] = _check_client_ids([*doc["ClientIDList"], params["ClientID"]])
            ctx.tx.update(ctx.account, KIND, doc["Url"], doc)
        touched(ctx, KIND, doc["Arn"])
        return {}

    @operation("iam:RemoveClientIDFromOpenIDConnectProvider", _arn_param, _provider_tag_context)
    def RemoveClientIDFromOpenIDConnectProvider(
        self, ctx: OpContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        doc = _provider(ctx, params["OpenIDConnectProviderArn"])
        if params["ClientID"] in doc["ClientIDList"]:  # removing one that is not there is no error
            doc["ClientIDList"] = [c for c in doc["ClientIDList"] if c != params["ClientID"]]
            ctx.tx.update(ctx.account, KIND, doc["Url"], doc)
        touched(ctx, KIND, doc["Arn"])
        return {}

    @operation("iam:TagOpenIDConnectProvider", _arn_param, _provider_tag_context)
    def TagOpenIDConnectProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _retag(ctx, params)

    @operation("iam:UntagOpenIDConnectProvider", _arn_param, _provider_tag_context)
    def UntagOpenIDConnectProvider(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return _retag(ctx, params)

    @operation("iam:ListOpenIDConnectProviderTags", _arn_param, _provider_tag_context)
    def ListOpenIDConnectProviderTags(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = _provider(ctx, params["OpenIDConnectProviderArn"])
        return paginate(doc.get("Tags") or [], params, "Tags")
