"""Federation: roles assumed with an identity from outside IAM (an OIDC token), and federated users
(GetFederationToken: a proxy's IAM user hands out credentials of a named federated user whose permissions
are the user's, capped by the session policies it passes -- none passed, none granted).

AssumeRoleWithWebIdentity is unsigned; the pipeline asks the service who the request speaks for
(STS.federated_caller -> rolecall.services.sts.web_identity) before it authorizes the call, so the trust
policy is evaluated as for any operation: the principal is the role account's OIDC provider, the claims are
the condition keys. What is left here is what AssumeRole does too: duration, session policies, tags.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall import ids
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.credentials.sessions import Session, packed_size, role_session, seal
from rolecall.errors import AccessDenied, ValidationError
from rolecall.services.sts.errors import PackedPolicyTooLarge
from rolecall.services.sts.operations import STSOperations, credentials_of, target_role, trust_policy

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
SAML = "sts:AssumeRoleWithSAML"
ROOT_FEDERATION_MAX = 3600  # root's federated users get an hour at most


def federated_user_arn(account: str, name: str) -> str:
    return f"arn:aws:sts::{account}:federated-user/{name}"


def _federation_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    keys: dict[str, Any] = {}
    if tags:
        keys["aws:TagKeys"] = [t["Key"] for t in tags]
        for t in tags:
            keys[f"aws:RequestTag/{t['Key']}"] = t["Value"]
    return keys


def _federation_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    if params.get("Tags"):
        return [("sts:TagSession", federated_user_arn(ctx.caller.account, params["Name"]), {})]
    return []


def _federated_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """sts:TagSession when the token asks for session tags, sts:SetSourceIdentity for a source identity."""
    session = ctx.caller.session or {}
    more: list[tuple[str, str, dict[str, Any]]] = []
    if session.get("tags"):
        more.append(("sts:TagSession", params["RoleArn"], {}))
    if session.get("source_identity"):
        more.append(("sts:SetSourceIdentity", params["RoleArn"], {}))
    return more


class FederationOperations(Family):
    @operation(
        WEB_IDENTITY,
        resource=lambda ctx, p: p["RoleArn"],
        resource_policy=trust_policy,
        extra=_federated_extra,
        read_only=True,
        trail_response=True,
        # ProviderId names an OAuth 2.0 provider (www.amazon.com, graph.facebook.com), whose access tokens
        # rolecall cannot verify without a network; tokens are as long as their content.
        unsupported={"ProviderId": (), "MinimumSessionTokenSize": (0,)},
    )
    def AssumeRoleWithWebIdentity(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        fed = self._federated(ctx, "WebIdentityUser", WEB_IDENTITY)
        out = self._assume(ctx, params, fed, params["RoleSessionName"], WEB_IDENTITY)
        out.update(
            SubjectFromWebIdentityToken=fed["subject"], Provider=fed["provider"], Audience=fed["audience"]
        )
        return out

    @operation(
        SAML,
        resource=lambda ctx, p: p["RoleArn"],
        resource_policy=trust_policy,
        extra=_federated_extra,
        read_only=True,
        trail_response=True,
        unsupported={"MinimumSessionTokenSize": (0,)},
    )
    def AssumeRoleWithSAML(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        fed = self._federated(ctx, "SAMLUser", SAML)
        if "DurationSeconds" not in params and fed.get("duration"):
            # The assertion's SessionDuration attribute, when the request gives none (IAM User Guide).
            params = {**params, "DurationSeconds": fed["duration"]}
        out = self._assume(ctx, params, fed, fed["session_name"], SAML)
        out.update(
            Subject=fed["subject"],
            SubjectType=fed["subject_type"],
            Issuer=fed["issuer"],
            Audience=fed["audience"],
            NameQualifier=fed["identity_provider"],
        )
        return out

    @staticmethod
    def _federated(ctx: OpContext, kind: str, action: str) -> dict[str, Any]:
        fed = ctx.caller.session or {}
        if ctx.caller.type != kind or not fed.get("provider"):  # the pipeline always sets it
            raise AccessDenied(f"Not authorized to perform {action}")
        return fed

    def _assume(
        self, ctx: OpContext, params: dict[str, Any], fed: dict[str, Any], session_name: str, action: str
    ) -> dict[str, Any]:
        """A session of the role for a verified federated caller: what AssumeRole does after the trust."""
        account, role = target_role(ctx, params)
        if role is None:
            raise AccessDenied(f"Not authorized to perform {action}")
        duration = params.get("DurationSeconds", 3600)
        if duration > role.get("MaxSessionDuration", 3600):
            raise ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        policy_text = params.get("Policy")
        policy_arns = [p["arn"] for p in params.get("PolicyArns") or [] if p.get("arn")]
        STSOperations(self.service)._check_session_policies(ctx, policy_text, policy_arns)
        tags: dict[str, str] = dict(fed.get("tags") or {})
        packed = None
        if policy_text or tags:
            packed = packed_size((policy_text or "") + json.dumps(tags))
            if packed > 100:
                raise PackedPolicyTooLarge(
                    f"Packed policy consumes {packed}% of allotted space, please use smaller policy for this request."
                )
        source_identity = fed.get("source_identity")
        session = role_session(
            role,
            account,
            session_name,
            ctx.clock.time(),
            duration,
            policy=policy_text,
            policy_arns=policy_arns,
            tags=tags,
            transitive=list(fed.get("transitive") or []),
            source_identity=source_identity,
            # Requests made with the session carry the provider (IAM User Guide, aws:FederatedProvider).
            context={"aws:FederatedProvider": fed["provider"]},
        )
        assert ctx.config.token_box is not None
        out: dict[str, Any] = {
            "Credentials": credentials_of(session, seal(ctx.config.token_box, session)),
            "AssumedRoleUser": {"AssumedRoleId": session.principal_id, "Arn": session.arn},
        }
        if packed is not None:
            out["PackedPolicySize"] = packed
        if source_identity:
            out["SourceIdentity"] = source_identity
        return out

    @operation(
        "sts:GetFederationToken",
        resource=lambda ctx, p: federated_user_arn(ctx.caller.account, p["Name"]),
        context=_federation_context,
        extra=_federation_extra,
        read_only=True,
        trail_response=True,
        unsupported={"MinimumSessionTokenSize": (0,)},
    )
    def GetFederationToken(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        caller = ctx.caller
        if caller.session is not None:
            raise AccessDenied("Cannot call GetFederationToken with session credentials")
        duration = params.get("DurationSeconds", 43200)
        if caller.is_root:
            duration = min(duration, ROOT_FEDERATION_MAX)  # "defaults to one hour" (STS API Reference)
        policy_text = params.get("Policy")
        policy_arns = [p["arn"] for p in params.get("PolicyArns") or [] if p.get("arn")]
        sts = STSOperations(self.service)
        sts._check_session_policies(ctx, policy_text, policy_arns)
        tags, _ = sts._session_tags({"Tags": params.get("Tags")}, None)
        packed = None
        if policy_text or tags:
            packed = packed_size((policy_text or "") + json.dumps(params.get("Tags") or []))
            if packed > 100:
                raise PackedPolicyTooLarge(
                    f"Packed policy consumes {packed}% of allotted space, please use smaller policy for this request."
                )
        now = ctx.clock.time()
        session = Session(
            access_key_id=ids.access_key_id(ids.TEMPORARY_KEY, caller.account),
            secret_access_key=ids.secret_access_key(),
            account=caller.account,
            issued=now,
            expires=now + duration,
            kind="federated",
            session_name=params["Name"],
            user_name=caller.user_name,
            user_id=None if caller.is_root else caller.principal_id,
            policy=policy_text,
            policy_arns=policy_arns,
            tags=tags,
        )
        assert ctx.config.token_box is not None
        out: dict[str, Any] = {
            "Credentials": credentials_of(session, seal(ctx.config.token_box, session)),
            "FederatedUser": {"FederatedUserId": session.principal_id, "Arn": session.arn},
        }
        if packed is not None:
            out["PackedPolicySize"] = packed
        return out
