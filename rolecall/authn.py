"""Authentication: who signed this request.

Long-term keys (AKIA...) are looked up in the store and their sealed secret opened to verify the
SigV4 signature. Lookups are cached per store generation, so a deactivated or deleted key stops
working on every node at the next request.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rolecall.core.context import Caller
from rolecall.credentials.sessions import Session, open_token
from rolecall.errors import (
    ExpiredToken,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
)
from rolecall.store import Store
from rolecall.wire import HttpRequest
from rolecall.wire.sigv4 import SignatureInfo, parse_signature, verify

INVALID_TOKEN = "The security token included in the request is invalid."
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


@dataclass(frozen=True)
class KeyRecord:
    account: str
    secret: str
    active: bool
    caller: Caller


class Authenticator:
    def __init__(self, store: Store, config: Any):
        self.store = store
        self.config = config
        self._keys: dict[str, KeyRecord | None] = {}
        self._generation = -1
        self._lock = threading.Lock()

    def _key(self, key_id: str, generation: int) -> KeyRecord | None:
        with self._lock:
            if generation != self._generation:
                self._keys.clear()
                self._generation = generation
            if key_id in self._keys:
                return self._keys[key_id]
        rec = None
        with self.store.read_transaction(generation) as tx:
            found = tx.find("access_key", key_id)
            if found is not None:
                account, doc = found
                user = tx.get(account, "user", doc["UserName"]) if doc.get("UserName") else None
                try:
                    secret = self.config.secret_box.open(doc["SecretSealed"]).decode()
                except ValueError:
                    secret = None
                if secret is not None and (user is not None or doc.get("UserName") is None):
                    caller = user_caller(account, user, key_id) if user else root_caller(account, key_id)
                    rec = KeyRecord(account, secret, doc.get("Status") == "Active", caller)
        with self._lock:
            if len(self._keys) > 10000:
                self._keys.clear()
            self._keys[key_id] = rec
        return rec

    def _session(self, info: SignatureInfo) -> Session:
        try:
            session = open_token(self.config.token_box, info.security_token or "")
        except ValueError:
            raise InvalidClientTokenId(INVALID_TOKEN) from None
        if session.access_key_id != info.access_key_id:
            raise InvalidClientTokenId(INVALID_TOKEN)
        return session

    def signature(self, request: HttpRequest) -> SignatureInfo:
        info = parse_signature(request)
        if info is None:
            raise MissingAuthenticationToken("Request is missing Authentication Token")
        if not _REGION.match(info.region or ""):
            raise SignatureDoesNotMatch(
                f"Credential should be scoped to a valid region, not '{info.region}'. "
            )
        return info

    def authenticate(self, request: HttpRequest, info: SignatureInfo, generation: int, now: float) -> Caller:
        """Who signed the request, or an AwsError (InvalidClientTokenId, SignatureDoesNotMatch, ...)."""
        if info.security_token:
            session = self._session(info)
            if now >= session.expires:
                raise ExpiredToken("The security token included in the request is expired")
            verify(request, info, session.secret_access_key, now)
            return session_caller(session)
        rec = self._key(info.access_key_id, generation)
        if rec is None or not rec.active:
            raise InvalidClientTokenId(INVALID_TOKEN)
        verify(request, info, rec.secret, now)
        return rec.caller

    def identify(
        self, info: SignatureInfo | None, generation: int, now: float, default_account: str
    ) -> Caller:
        """Who a request says it is, without checking its signature (--auth off): a session token that opens
        is its session, a known access key its user (or root); anything else is the default account's root,
        as moto_server takes any key. An expired token, or a deactivated key, is refused as when checking."""
        if info is None:
            return root_caller(default_account, None)
        if info.security_token:
            try:
                session = self._session(info)
            except InvalidClientTokenId:
                return root_caller(default_account, info.access_key_id)
            if now >= session.expires:
                raise ExpiredToken("The security token included in the request is expired")
            return session_caller(session)
        rec = self._key(info.access_key_id, generation)
        if rec is None:
            return root_caller(default_account, info.access_key_id)
        if not rec.active:
            raise InvalidClientTokenId(INVALID_TOKEN)
        return rec.caller


def root_caller(account: str, access_key_id: str | None) -> Caller:
    return Caller(
        account=account,
        arn=f"arn:aws:iam::{account}:root",
        type="Root",
        principal_id=account,
        access_key_id=access_key_id,
    )


def user_caller(account: str, user_doc: dict[str, Any], access_key_id: str | None) -> Caller:
    return Caller(
        account=account,
        arn=user_doc["Arn"],
        type="IAMUser",
        principal_id=user_doc["UserId"],
        access_key_id=access_key_id,
        user_name=user_doc["UserName"],
        tags={t["Key"]: t["Value"] for t in user_doc.get("Tags", [])},
    )


def session_caller(session: Session) -> Caller:
    """The caller a set of temporary credentials stands for."""
    # Milliseconds matter: a revocation at 12:00:00.500 must cut a session issued at 12:00:00.300.
    issued = datetime.fromtimestamp(session.issued, UTC)
    context: dict[str, Any] = {
        "aws:TokenIssueTime": issued.strftime("%Y-%m-%dT%H:%M:%S.") + f"{issued.microsecond // 1000:03d}Z"
    }
    context.update(session.context)
    info: dict[str, Any] = {
        "kind": session.kind,
        "role_name": session.role_name,
        "role_id": session.role_id,
        "role_arn": session.role_arn,
        "session_name": session.session_name,
        "issued": session.issued,
        "issued_iso": session.issued_iso,
        "expires": session.expires,
        "policy": session.policy,
        "policy_arns": session.policy_arns,
        "source_identity": session.source_identity,
        "chained": session.chained,
        "transitive": session.transitive,
        "session_tags": session.tags,
        "invoked_by": session.invoked_by,
        "context": context,
        "mfa": session.mfa,
        "mfa_time": session.mfa_time,
        "user_name": session.user_name,
        "user_id": session.user_id,
    }
    if session.kind == "user":
        return Caller(
            account=session.account,
            arn=session.arn,
            type="IAMUser" if session.user_name else "Root",
            principal_id=session.principal_id,
            access_key_id=session.access_key_id,
            user_name=session.user_name,
            tags=dict(session.tags),
            session=info,
        )
    if session.kind == "federated":  # GetFederationToken's: the user (or root) that federated it
        return Caller(
            account=session.account,
            arn=session.arn,
            type="FederatedUser",
            principal_id=session.principal_id,
            access_key_id=session.access_key_id,
            tags=dict(session.tags),
            session=info,
        )
    if session.context.get("ec2:RoleDelivery"):
        info["ec2_role_delivery"] = session.context["ec2:RoleDelivery"]
    return Caller(
        account=session.account,
        arn=session.arn,
        type="AssumedRole",
        principal_id=session.principal_id,
        access_key_id=session.access_key_id,
        tags=dict(session.tags),
        session=info,
    )
