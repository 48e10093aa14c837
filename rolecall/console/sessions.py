"""Console sign-in and sessions.

Two ways in, as on AWS: the account's root, and an IAM user's console password (the user's login profile,
IAM's CreateLoginProfile). rolecall's root has no email and password: its credentials are the root access
key pair it generates on first start (the banner's, DATA_DIR/credentials' profile `rolecall`, or
ROLECALL_ROOT_ACCESS_KEY_ID / ROLECALL_ROOT_SECRET_ACCESS_KEY), so root signs in with those.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure over TLS). The store keeps only
its SHA-256 (whoever reads the database cannot sign in with it), with the principal, the expiry and the
session's CSRF token, so every `--workers` process and every node on one PostgreSQL database knows it, and
signing out ends it everywhere. The principal is read again on every request: a user deleted, or whose
login profile was deleted, is signed out at once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from rolecall.authn import root_caller, user_caller
from rolecall.core.context import Caller
from rolecall.services.iam.users import hash_password, verify_password
from rolecall.store import GLOBAL, Store

KIND = "console_session"
COOKIE = "rolecall_console"
SIGNIN_COOKIE = "rolecall_console_signin"  # the sign-in form's CSRF token (there is no session yet)
# An IAM user's console session lasts 12 hours unless its login profile's MaxSigninSessionDuration says
# otherwise; the root user's one hour, as AWS holds every session of the account's root to an hour at most.
USER_SESSION_SECONDS = 12 * 3600
ROOT_SESSION_SECONDS = 3600


# A hash of a password nobody has, checked when the user does not exist, so that a wrong user name
# costs as long as a wrong password and the answer's timing does not say which users exist.
@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


class SignInFailed(Exception):
    """Wrong credentials (the message never says which part was wrong), or a sign-in rolecall refuses."""


@dataclass
class Session:
    token_hash: str
    caller: Caller
    csrf: str
    expires: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_root(store: Store, secret_box: Any, access_key_id: str, secret: str) -> Caller:
    """The root caller whose active root access key this is."""
    with store.read_transaction() as tx:
        found = tx.find("access_key", access_key_id.strip()) if access_key_id.strip() else None
    stored = ""
    if found is not None and found[1].get("UserName") is None and found[1].get("Status") == "Active":
        try:
            stored = secret_box.open(found[1]["SecretSealed"]).decode()
        except ValueError:
            stored = ""
    if not stored or not hmac.compare_digest(stored.encode(), secret.strip().encode()):
        raise SignInFailed("Your authentication information is incorrect. Please try again.")
    assert found is not None
    return root_caller(found[0], None)


def root_key_owner(store: Store, access_key_id: str) -> Caller | None:
    """The root user whose access key id this is (whatever secret came with it), for the trail of a failed
    root sign-in; None when it is no root key."""
    with store.read_transaction() as tx:
        found = tx.find("access_key", access_key_id.strip()) if access_key_id.strip() else None
    if found is None or found[1].get("UserName") is not None:
        return None
    return root_caller(found[0], None)


def check_user(store: Store, account: str, user_name: str, password: str) -> tuple[Caller, int | None]:
    """The IAM user whose console password this is, and its login profile's MaxSigninSessionDuration."""
    account, user_name = account.strip(), user_name.strip()
    user = None
    if len(account) == 12 and account.isdigit() and user_name:
        with store.read_transaction() as tx:
            user = tx.get(account, "user", user_name)
    profile = (user or {}).get("LoginProfile") or {}
    ok = verify_password(profile.get("PasswordHash") or _dummy_hash(), password)
    if user is None or not profile or not ok:
        raise SignInFailed("Your authentication information is incorrect. Please try again.")
    if profile.get("PasswordResetRequired"):
        raise SignInFailed(
            "This user must set a new password before signing in, and rolecall does not implement "
            "iam:ChangePassword yet: an administrator can set one with UpdateLoginProfile "
            "(--no-password-reset-required)."
        )
    return user_caller(account, user, None), profile.get("MaxSigninSessionDuration")


class Sessions:
    """Console sessions kept in the store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, caller: Caller, now: float, lifetime: int) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        doc: dict[str, Any] = {
            "Account": caller.account,
            "Type": caller.type,
            "UserName": caller.user_name,
            "PrincipalId": caller.principal_id,
            "Csrf": secrets.token_urlsafe(32),
            "Issued": now,
            "Expires": now + lifetime,
        }
        with self.store.transaction() as tx:
            tx.insert(GLOBAL, KIND, _digest(token), doc)
        return token, Session(_digest(token), caller, doc["Csrf"], doc["Expires"])

    def find(self, token: str | None, now: float) -> Session | None:
        """The live session of a cookie's token; None when there is none, it expired or its principal
        is gone (the expired or orphaned session is removed)."""
        if not token:
            return None
        name = _digest(token)
        with self.store.read_transaction() as tx:
            doc = tx.get(GLOBAL, KIND, name)
            if doc is None:
                return None
            caller = None
            if now < doc["Expires"]:
                caller = self._caller(tx, doc)
        if caller is None:
            self.end(name)
            return None
        return Session(name, caller, doc["Csrf"], doc["Expires"])

    @staticmethod
    def _caller(tx: Any, doc: dict[str, Any]) -> Caller | None:
        if doc["Type"] == "Root":
            return root_caller(doc["Account"], None)
        user = tx.get(doc["Account"], "user", doc["UserName"])
        # The same user (not one deleted and created again under the name) with a console password still.
        if user is None or user.get("UserId") != doc["PrincipalId"] or not user.get("LoginProfile"):
            return None
        return user_caller(doc["Account"], user, None)

    def end(self, token_hash: str) -> None:
        with self.store.transaction() as tx:
            tx.delete(GLOBAL, KIND, token_hash)
