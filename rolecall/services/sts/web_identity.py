"""Who an AssumeRoleWithWebIdentity request speaks for: its OIDC token, verified.

The request is unsigned (the SDKs send it without credentials); its caller is the token's subject at the
issuer's IAM OIDC provider in the role's account. Verification, in AWS's order and with its error codes:

1. the token is a JWT (InvalidIdentityToken);
2. the role's account has an OIDC provider for the token's `iss` (InvalidIdentityToken);
3. the issuer's keys are known -- rolecall reaches no network, so only its local issuers
   (rolecall.services.sts.oidc_issuer) qualify -- and the signature verifies with them (InvalidIdentityToken);
4. `exp` is in the future (ExpiredTokenException), `nbf`/`iat` not (InvalidIdentityToken);
5. an `aud` is one of the provider's client IDs (InvalidIdentityToken: "Incorrect token audience").

The trust policy is then evaluated (by the pipeline, as for every operation) with the provider's ARN as the
principal and the claims as the condition keys the IAM User Guide lists for OIDC federation:
ISSUER:aud (the `azp` claim when there is one, else `aud`), ISSUER:oaud (`aud`, when there is an `azp`),
ISSUER:sub, ISSUER:amr, ISSUER:email, GitHub's own claims (token.actions.githubusercontent.com:repository,
:ref, :workflow, :actor, :environment, ...), aws:FederatedProvider, and the session tags and source identity the
token asks for (https://aws.amazon.com/tags, https://aws.amazon.com/source_identity).
"""

from __future__ import annotations

from typing import Any

import jwt

from rolecall.core.context import Caller
from rolecall.core.host import Host
from rolecall.errors import ValidationError
from rolecall.services.sts.errors import ExpiredTokenException, InvalidIdentityToken
from rolecall.services.sts.oidc_issuer import get_issuer

PROVIDER_KIND = "oidc_provider"  # rolecall.services.iam.oidc_providers stores them
TAGS_CLAIM = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
# Provider-specific claims STS offers as ISSUER:CLAIM condition keys (AWS, January 2026: GitHub's; used in the
# trust policy only, not carried into the session).
PROVIDER_CLAIMS = {
    "token.actions.githubusercontent.com": (
        "actor",
        "actor_id",
        "job_workflow_ref",
        "repository",
        "repository_id",
        "workflow",
        "ref",
        "environment",
        "enterprise_id",
    ),
}
NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
NO_KEYS = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)


def role_account(role_arn: str) -> str:
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise ValidationError("Request ARN is invalid")
    return parts[4]


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def verified_claims(host: Host, account: str, token: str) -> tuple[str, str, dict[str, Any], str]:
    """(provider name, provider ARN, claims, the audience that matched) of a token the role's account
    trusts; raises STS's errors otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidIdentityToken(NOT_A_JWT) from None
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise InvalidIdentityToken(NOT_A_JWT)
    name = (iss[len("https://") :] if iss.startswith("https://") else iss).rstrip("/")
    with host.store.read_transaction() as tx:
        provider = tx.get(account, PROVIDER_KIND, name)
        issuer = get_issuer(tx, name)
    if provider is None:
        raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {iss}")
    if issuer is None or header.get("kid") not in (None, issuer["Jwk"]["kid"]):
        raise InvalidIdentityToken(
            f"{NO_KEYS} (rolecall reaches no network: it verifies only tokens of its local issuers, "
            "minted by `rolecall oidc issue-token`)"
        )
    try:
        claims = jwt.decode(
            token,
            key=jwt.PyJWK(issuer["Jwk"]).key,
            algorithms=[issuer["Jwk"]["alg"]],
            # Times are checked below against the server's clock, audiences against the provider.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.PyJWTError:
        raise InvalidIdentityToken(
            "The web identity token could not be validated: its signature does not verify with the keys of "
            f"{iss}."
        ) from None
    now = host.clock.time()
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidIdentityToken("The token has no valid exp claim.")
    if now >= exp:
        raise ExpiredTokenException(
            f"Token expired: current date/time {int(now)} must be before the expiration date/time{int(exp)}"
        )
    for name_of_time in ("nbf", "iat"):
        moment = _number(claims, name_of_time)
        if moment is not None and now < moment:
            raise InvalidIdentityToken(
                f"Token is not valid yet: current date/time {int(now)} is before its {name_of_time} {int(moment)}"
            )
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidIdentityToken("The token has no sub claim.")
    matched = next((a for a in _audiences(claims) if a in provider["ClientIDList"]), None)
    if matched is None:
        raise InvalidIdentityToken("Incorrect token audience")
    return name, provider["Arn"], claims, matched


def session_tags(claims: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The session tags (and transitive keys) a token asks for in its https://aws.amazon.com/tags claim."""
    raw = claims.get(TAGS_CLAIM)
    if not isinstance(raw, dict):
        return {}, []
    tags: dict[str, str] = {}
    for key, values in (raw.get("principal_tags") or {}).items():
        value = values[0] if isinstance(values, list) and values else values
        if isinstance(value, str):
            tags[str(key)] = value
    transitive = [k for k in raw.get("transitive_tag_keys") or [] if isinstance(k, str) and k in tags]
    return tags, transitive


def web_identity_caller(host: Host, params: dict[str, Any]) -> Caller:
    """The federated principal an AssumeRoleWithWebIdentity request speaks for, with its claims as
    request context; raises InvalidIdentityToken, ExpiredTokenException or ValidationError."""
    account = role_account(params["RoleArn"])
    name, arn, claims, audience = verified_claims(host, account, params["WebIdentityToken"])
    sub = claims["sub"]
    context: dict[str, Any] = {
        "aws:FederatedProvider": arn,
        "sts:RoleSessionName": params.get("RoleSessionName"),
        f"{name}:sub": sub,
    }
    if isinstance(claims.get("azp"), str):
        context[f"{name}:aud"] = claims["azp"]
        context[f"{name}:oaud"] = claims.get("aud")
    else:
        context[f"{name}:aud"] = claims.get("aud")
    if isinstance(claims.get("amr"), list | str):
        context[f"{name}:amr"] = claims["amr"]
    if isinstance(claims.get("email"), str):
        context[f"{name}:email"] = claims["email"]
    for claim in PROVIDER_CLAIMS.get(name, ()):
        if isinstance(claims.get(claim), str | int) and not isinstance(claims.get(claim), bool):
            context[f"{name}:{claim}"] = str(claims[claim])
    tags, transitive = session_tags(claims)
    if tags:
        context["aws:TagKeys"] = list(tags)
        for k, v in tags.items():
            context[f"aws:RequestTag/{k}"] = v
    if transitive:
        context["sts:TransitiveTagKeys"] = transitive
    source_identity = claims.get(SOURCE_IDENTITY_CLAIM)
    if isinstance(source_identity, str):
        context["sts:SourceIdentity"] = source_identity
    return Caller(
        account=account,
        arn=arn,
        type="WebIdentityUser",
        principal_id=f"{arn}:{audience}:{sub}",
        user_name=sub,
        session={
            "kind": "web_identity",
            "provider": arn,
            "audience": audience,
            "subject": sub,
            "tags": tags,
            "transitive": [k.lower() for k in transitive],
            "source_identity": source_identity if isinstance(source_identity, str) else None,
            "context": context,
        },
    )
