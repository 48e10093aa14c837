"""AWS Security Token Service: AssumeRole and the session credentials it hands out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rolecall import ids
from rolecall.authz.messages import decode_authorization_message
from rolecall.authz.principals import compiled, managed_policy_document
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.credentials.mfa_devices import code_is_valid, find_device
from rolecall.credentials.sessions import Session, packed_size, role_session, seal
from rolecall.errors import AccessDenied, InvalidParameterValue, MalformedPolicyDocument, ValidationError
from rolecall.policy import MalformedPolicy, Policy
from rolecall.services.sts.errors import InvalidAuthorizationMessageException, PackedPolicyTooLarge

# Trusts no principal that can exist: what a missing role (or a role ARN with the wrong path) amounts to.
NOBODY_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"no-principal.rolecall.amazonaws.com"},'
    '"Action":"sts:AssumeRole"}]}'
)
CHAINED_MAX = 3600
SESSION_POLICY_MAX = 2048


def split_role_arn(arn: str) -> tuple[str, str] | None:
    """(account, role name) of arn:aws:iam::ACCOUNT:role/PATH/NAME, or None when it is not a role ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    return parts[4], parts[5].rsplit("/", 1)[-1]


def target_role(ctx: OpContext, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(owning account, role document or None) of RoleArn; a path that differs from the role's is no role."""
    split = split_role_arn(params["RoleArn"])
    if split is None:
        return "", None
    account, name = split
    role = ctx.tx.get(account, "role", name)
    if role is None or role["Arn"] != params["RoleArn"]:
        return account, None
    return account, role


def trust_policy(ctx: OpContext, params: dict[str, Any]) -> tuple[Policy, str | None]:

    account, role = target_role(ctx, params)
    # No role, no trust: an empty trust policy allows nobody, which AWS reports as AccessDenied.
    text = role["AssumeRolePolicyDocument"] if role else NOBODY_TRUST
    return compiled(text, "trust", f"trust policy of {params['RoleArn']}"), account or None


MFA_UNVALIDATED = "MultiFactorAuthentication failed, unable to validate MFA code."
MFA_INVALID = "MultiFactorAuthentication failed with invalid MFA one time pass code."


def mfa_verified(ctx: OpContext, params: dict[str, Any]) -> bool:
    """Whether the request brings a valid MFA code (SerialNumber + TokenCode) of a device enabled for the
    calling IAM user; False when it brings none; AccessDenied, as STS answers, for a code that fails."""
    serial, token = params.get("SerialNumber"), params.get("TokenCode")
    if not serial and not token:
        return False
    tx = getattr(ctx, "tx", None)
    if not serial or not token or tx is None or find_device(tx, serial) is None:
        raise AccessDenied(MFA_UNVALIDATED)
    caller = ctx.caller
    if caller.type != "IAMUser" or caller.session is not None:
        raise AccessDenied(MFA_UNVALIDATED)
    box = ctx.config.secret_box
    if not code_is_valid(tx, box, caller.account, caller.user_name, serial, token, ctx.clock.time()):
        raise AccessDenied(MFA_INVALID)
    return True


def assume_role_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {"sts:RoleSessionName": params.get("RoleSessionName")}
    if mfa_verified(ctx, params):  # the trust policy sees the MFA this request brings
        keys["aws:MultiFactorAuthPresent"] = "true"
        keys["aws:MultiFactorAuthAge"] = "0"
    if params.get("ExternalId") is not None:
        keys["sts:ExternalId"] = params["ExternalId"]
    if params.get("SourceIdentity") is not None:
        keys["sts:SourceIdentity"] = params["SourceIdentity"]
    if params.get("TransitiveTagKeys"):
        keys["sts:TransitiveTagKeys"] = list(params["TransitiveTagKeys"])
    tags = params.get("Tags") or []
    if tags:
        keys["aws:TagKeys"] = [t["Key"] for t in tags]
        for t in tags:
            keys[f"aws:RequestTag/{t['Key']}"] = t["Value"]
    return keys


def assume_role_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    more: list[tuple[str, str, dict[str, Any]]] = []
    if params.get("Tags") or params.get("TransitiveTagKeys"):
        more.append(("sts:TagSession", params["RoleArn"], {}))
    if params.get("SourceIdentity") is not None:
        more.append(("sts:SetSourceIdentity", params["RoleArn"], {}))
    return more


def credentials_of(session: Session, token: str) -> dict[str, Any]:

    return {
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "SessionToken": token,
        "Expiration": datetime.fromtimestamp(session.expires, UTC),
    }


class STSOperations(Family):
    @operation("sts:GetCallerIdentity", public=True)
    def GetCallerIdentity(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        # Needs no permission and works even under an explicit deny, as on AWS.
        caller = ctx.caller
        return {"UserId": caller.principal_id, "Account": caller.account, "Arn": caller.arn}

    @operation(
        "sts:AssumeRole",
        resource=lambda ctx, p: p["RoleArn"],
        context=assume_role_context,
        resource_policy=trust_policy,
        extra=assume_role_extra,
        read_only=True,
        trail_response=True,
        # Trusted context assertions come from IAM Identity Center, which rolecall does not have; tokens are
        # as long as their content (0 asks for no padding).
        unsupported={"ProvidedContexts": (), "MinimumSessionTokenSize": (0,)},
    )
    def AssumeRole(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        account, role = target_role(ctx, params)
        if role is None:
            raise AccessDenied(
                f"User: {ctx.caller.arn} is not authorized to perform: sts:AssumeRole on resource: {params['RoleArn']}"
            )
        caller_session = ctx.caller.session if ctx.caller.type == "AssumedRole" else None
        chained = caller_session is not None
        duration = params.get("DurationSeconds", 3600)
        if chained and duration > CHAINED_MAX:
            raise ValidationError(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
            )
        if duration > role.get("MaxSessionDuration", 3600):
            raise ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        policy_text = params.get("Policy")
        policy_arns = [p["arn"] for p in params.get("PolicyArns") or [] if p.get("arn")]
        self._check_session_policies(ctx, policy_text, policy_arns)
        tags, transitive = self._session_tags(params, caller_session)
        packed = None
        if policy_text or params.get("Tags"):
            packed = packed_size((policy_text or "") + json.dumps(params.get("Tags") or []))
            if packed > 100:
                raise PackedPolicyTooLarge(
                    f"Packed policy consumes {packed}% of allotted space, please use smaller policy for this request."
                )
        source_identity = params.get("SourceIdentity")
        if caller_session and caller_session.get("source_identity"):
            if source_identity and source_identity != caller_session["source_identity"]:
                raise AccessDenied("SourceIdentity cannot be changed once it is set by a previous session.")
            source_identity = caller_session["source_identity"]
        now = ctx.clock.time()
        # MFA checked now, or carried by the calling session (GetSessionToken's with a code, say).
        inherited = ctx.caller.session  # a role session's or GetSessionToken's
        mfa_time: float | None = None
        if mfa_verified(ctx, params):
            mfa, mfa_time = True, now
        elif inherited and inherited.get("mfa"):
            mfa, mfa_time = True, inherited.get("mfa_time")
        else:
            mfa, mfa_time = False, None
        session = role_session(
            role,
            account,
            params["RoleSessionName"],
            now,
            duration,
            policy=policy_text,
            policy_arns=policy_arns,
            tags=tags,
            transitive=transitive,
            source_identity=source_identity,
            chained=chained,
            mfa=mfa,
            mfa_time=mfa_time,
        )
        assert ctx.config.token_box is not None
        token = seal(ctx.config.token_box, session)
        out: dict[str, Any] = {
            "Credentials": credentials_of(session, token),
            "AssumedRoleUser": {"AssumedRoleId": session.principal_id, "Arn": session.arn},
        }
        if packed is not None:
            out["PackedPolicySize"] = packed
        if source_identity:
            out["SourceIdentity"] = source_identity
        return out

    def _check_session_policies(self, ctx: OpContext, text: str | None, arns: list[str]) -> None:

        if text is not None:
            if len(text) > SESSION_POLICY_MAX:
                raise ValidationError(
                    "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {SESSION_POLICY_MAX}"
                )
            try:
                Policy.parse(text, kind="session")
            except MalformedPolicy as exc:
                raise MalformedPolicyDocument(str(exc)) from None
        if len(arns) > 10:
            raise ValidationError(
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
                "Member must have length less than or equal to 10"
            )
        for arn in arns:
            if managed_policy_document(ctx.tx, ctx.caller.account, arn) is None:
                raise InvalidParameterValue(f"Policy {arn} does not exist or is not attachable.")

    def _session_tags(
        self, params: dict[str, Any], caller_session: dict[str, Any] | None
    ) -> tuple[dict[str, str], list[str]]:
        """Session tags: those passed now, plus the transitive ones the calling session carries."""
        tags: dict[str, str] = {}
        transitive: list[str] = []
        if caller_session:
            inherited = {k.lower() for k in caller_session.get("transitive") or []}
            for k, v in (caller_session.get("session_tags") or {}).items():
                if k.lower() in inherited:
                    tags[k] = v
                    transitive.append(k.lower())
        seen: set[str] = set()
        for t in params.get("Tags") or []:
            key = t["Key"].lower()
            if key in seen:
                raise InvalidParameterValue(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive."
                )
            seen.add(key)
            if key in transitive:
                raise InvalidParameterValue(
                    f"One of the specified tag keys, {t['Key']}, is a transitive tag key set by a previous session "
                    "and cannot be overridden."
                )
            tags[t["Key"]] = t["Value"]
        for key in params.get("TransitiveTagKeys") or []:
            if key.lower() not in seen:
                raise InvalidParameterValue(
                    "The specified transitive tag key must be included in the requested tags."
                )
            transitive.append(key.lower())
        return tags, transitive

    # Needs no permission: policies cannot control authentication operations (AWS STS API reference).
    @operation(
        "sts:GetSessionToken",
        public=True,
        read_only=True,
        trail_response=True,
        unsupported={"MinimumSessionTokenSize": (0,)},
    )
    def GetSessionToken(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        caller = ctx.caller
        if caller.session is not None:
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        mfa = mfa_verified(ctx, params)
        duration = params.get("DurationSeconds", 43200)
        if caller.is_root and duration > 3600:
            duration = 3600  # AWS caps root's session tokens at one hour
        now = ctx.clock.time()
        session = Session(
            access_key_id=ids.access_key_id(ids.TEMPORARY_KEY, caller.account),
            secret_access_key=ids.secret_access_key(),
            account=caller.account,
            issued=now,
            expires=now + duration,
            kind="user",
            user_name=caller.user_name,
            user_id=caller.principal_id,
            tags={},
            mfa=mfa,
            mfa_time=now if mfa else None,
        )
        assert ctx.config.token_box is not None
        return {"Credentials": credentials_of(session, seal(ctx.config.token_box, session))}

    @operation("sts:GetAccessKeyInfo")
    def GetAccessKeyInfo(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        key_id = params["AccessKeyId"]
        account = ids.account_of_key(key_id)
        if account is None:
            found = ctx.tx.find("access_key", key_id)
            account = found[0] if found else None
        if account is None:
            raise InvalidParameterValue(f"The access key {key_id} is not a valid access key id.")
        return {"Account": account}

    @operation("sts:DecodeAuthorizationMessage")
    def DecodeAuthorizationMessage(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:

        try:
            decoded = decode_authorization_message(ctx.config.token_box, params["EncodedMessage"])
        except ValueError:
            raise InvalidAuthorizationMessageException("The message is invalid.") from None
        return {"DecodedMessage": decoded}
