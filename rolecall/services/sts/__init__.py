"""AWS Security Token Service (query protocol): AssumeRole, the session credentials it hands out, and
the one step every AWS service uses to assume a role on behalf of a resource (service_sessions);
federation (AssumeRoleWithWebIdentity, AssumeRoleWithSAML, GetFederationToken), with the local OIDC issuers
(oidc_issuer) and SAML identity providers (saml) whose tokens and assertions it verifies."""

from __future__ import annotations

from typing import Any

from rolecall.core.context import Caller, Check, OpContext
from rolecall.core.host import Host, InternalRoute
from rolecall.core.operations import Service
from rolecall.errors import AccessDenied, AwsError
from rolecall.services.sts import saml
from rolecall.services.sts.federation import SAML, WEB_IDENTITY, FederationOperations
from rolecall.services.sts.oidc_issuer import MINT_ROUTE, ROUTE, serve_issuer, serve_mint
from rolecall.services.sts.operations import STSOperations
from rolecall.services.sts.web_identity import web_identity_caller


class STS(Service):
    name = "sts"
    model = "sts"
    families = (STSOperations, FederationOperations)
    federated_operations = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})

    def federated_caller(self, host: Host, operation: str, params: dict[str, Any]) -> Caller:
        if operation == "AssumeRoleWithSAML":
            return saml.saml_caller(host, params)
        return web_identity_caller(host, params)

    def denial(self, ctx: OpContext, check: Check) -> AwsError:
        # AWS names neither the principal nor the resource when it refuses a federated assumption.
        if check.action in (WEB_IDENTITY, SAML):
            return AccessDenied(f"Not authorized to perform {check.action}")
        return super().denial(ctx, check)

    def internal_routes(self) -> dict[str, InternalRoute]:
        # The local OIDC issuers' discovery documents and keys, and the route that mints their tokens.
        return {
            ROUTE: lambda req: serve_issuer(self._host(), req),
            MINT_ROUTE: lambda req: serve_mint(self._host(), req),
            # The local SAML identity providers' metadata, and the route that mints their assertions.
            saml.ROUTE: lambda req: saml.serve_metadata(self._host(), req),
            saml.MINT_ROUTE: lambda req: saml.serve_mint(self._host(), req),
        }

    def _host(self) -> Host:
        assert self.host is not None, "STS was not started"
        return self.host


__all__ = ["STS"]
