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

An IAM user's sign-in can take more than the password, as on AWS: a user with an MFA device enabled must
then enter a current code of it (the session then carries aws:MultiFactorAuthPresent and
aws:MultiFactorAuthAge, so policies that require MFA hold in console pages); a user whose login profile
says PasswordResetRequired, or whose password is older than the password policy's MaxPasswordAge, must
then choose a new one (ChangePassword, as that user). Between the steps, a `Pending` sign-in (a random
token in a cookie scoped to the sign-in page, its hash in the store) remembers who passed the password.
Five failed attempts in a row (password or code) lock a user's console sign-in for 15 minutes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rolecall.authn import root_caller, user_caller
from rolecall.core.context import Caller
from rolecall.credentials.mfa_devices import KIND as MFA_KIND
from rolecall.credentials.mfa_devices import code_is_valid
from rolecall.credentials.secretbox import SecretBox
from rolecall.services.iam.password_policy import get_policy
from rolecall.services.iam.users import hash_password, verify_password
from rolecall.store import GLOBAL, Conflict, Store

KIND = "console_session"
COOKIE = "rolecall_console"
SIGNIN_COOKIE = "rolecall_console_signin"  # the sign-in form's CSRF token (there is no session yet)
PENDING_COOKIE = "rolecall_console_pending"  # a sign-in past its password, awaiting MFA or a new password
PENDING_KIND = "console_signin"
PENDING_SECONDS = 300  # the time a user has for the MFA code and the new password
LOCK_KIND = "console_lockout"
MAX_FAILURES = 5  # failed attempts in a row (password or MFA code) that lock a user's console sign-in
LOCK_SECONDS = 15 * 60
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


@dataclass
class PasswordChecked:
    """An IAM user whose console password was right, and what the sign-in still needs."""

    caller: Caller
    max_duration: int | None  # the login profile's MaxSigninSessionDuration
    mfa_serials: list[str]  # the user's enabled MFA devices: a code of one is needed next
    new_password: str | None  # why the user must choose a new password next, or None


def _parse_iso(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def lock_key(account: str, user_name: str) -> str:
    return f"{account}/{user_name.strip()[:64]}"


def locked_for(store: Store, account: str, user_name: str, now: float) -> float:
    """The seconds a user's console sign-in stays locked after too many failures (0: not locked)."""
    with store.read_transaction() as tx:
        doc = tx.get(GLOBAL, LOCK_KIND, lock_key(account, user_name))
    return max(0.0, float((doc or {}).get("Until") or 0) - now)


def locked_message(seconds_left: float) -> str:
    """What the sign-in page says while a user's sign-in is locked (whole minutes, rounded up)."""
    minutes = max(1, math.ceil(seconds_left / 60))
    return (
        "Too many failed sign-in attempts: this user's console sign-in is locked for "
        f"{minutes} more minute{'s' if minutes != 1 else ''}."
    )


def count_failure(store: Store, account: str, user_name: str, now: float) -> None:
    """One more failed attempt in a row for the user; the fifth locks its sign-in for LOCK_SECONDS. Kept
    for any name tried (an unknown user's too), so that the lock does not tell which users exist."""
    key = lock_key(account, user_name)
    try:
        _count_failure(store, key, now)
    except Conflict:  # another node's first failure for the name created the counter meanwhile: count on it
        _count_failure(store, key, now)


def _count_failure(store: Store, key: str, now: float) -> None:
    with store.transaction() as tx:
        doc = tx.get(GLOBAL, LOCK_KIND, key)
        fresh = doc is None
        doc = doc or {"Failures": 0, "Until": 0}
        doc["Failures"] = int(doc["Failures"]) + 1
        if doc["Failures"] >= MAX_FAILURES:
            doc.update(Failures=0, Until=now + LOCK_SECONDS)
        if fresh:
            tx.insert(GLOBAL, LOCK_KIND, key, doc)
        else:
            tx.update(GLOBAL, LOCK_KIND, key, doc)


def clear_failures(store: Store, account: str, user_name: str) -> None:
    key = lock_key(account, user_name)
    with store.transaction() as tx:
        if tx.get(GLOBAL, LOCK_KIND, key) is not None:
            tx.delete(GLOBAL, LOCK_KIND, key)


def check_user(store: Store, account: str, user_name: str, password: str, now: float) -> PasswordChecked:
    """The IAM user whose console password this is, and what its sign-in needs next (MFA, a new
    password). A password expired under a policy with HardExpiry cannot sign in: only an administrator
    can set a new one."""
    account, user_name = account.strip(), user_name.strip()
    user = None
    policy: dict[str, Any] = {}
    serials: list[str] = []
    if len(account) == 12 and account.isdigit() and user_name:
        with store.read_transaction() as tx:
            user = tx.get(account, "user", user_name)
            policy = get_policy(tx, account) or {}
            if user is not None:
                serials = sorted(
                    d["SerialNumber"] for d in tx.list(account, MFA_KIND) if d.get("UserName") == user_name
                )
    profile = (user or {}).get("LoginProfile") or {}
    ok = verify_password(profile.get("PasswordHash") or _dummy_hash(), password)
    if user is None or not profile or not ok:
        raise SignInFailed("Your authentication information is incorrect. Please try again.")
    reason = None
    max_age = int(policy.get("MaxPasswordAge") or 0)
    changed = _parse_iso(str(profile.get("PasswordLastChanged") or profile.get("CreateDate") or ""))
    if max_age and changed is not None and now - changed > max_age * 86400:
        if policy.get("HardExpiry"):
            raise SignInFailed(
                "Your password has expired, and the account's password policy (HardExpiry) lets only an "
                "administrator set a new one."
            )
        reason = f"Your password is older than the {max_age} days the account's password policy allows."
    elif profile.get("PasswordResetRequired"):
        reason = "An administrator requires you to choose a new password."
    return PasswordChecked(
        user_caller(account, user, None), profile.get("MaxSigninSessionDuration"), serials, reason
    )


def mfa_code_valid(
    store: Store, box: SecretBox, caller: Caller, serials: list[str], code: str, now: float
) -> bool:
    """Whether `code` is a current code of one of the user's enabled MFA devices."""
    code = code.strip()
    if not (len(code) == 6 and code.isdigit()):
        return False
    with store.read_transaction() as tx:
        return any(code_is_valid(tx, box, caller.account, caller.user_name, s, code, now) for s in serials)


def with_mfa(caller: Caller, mfa_time: float | None, issued: float) -> Caller:
    """The caller of a console session signed in with MFA: its request context has
    aws:MultiFactorAuthPresent (and aws:MultiFactorAuthAge from `mfa_time`), as AWS's console sessions do."""
    if mfa_time is None:
        return caller
    info = {
        "kind": "console",
        "mfa": True,
        "mfa_time": mfa_time,
        "issued": issued,
        "issued_iso": datetime.fromtimestamp(issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "context": {},
    }
    return dataclasses.replace(caller, session=info)


class Pending:
    """Sign-ins past the password, awaiting an MFA code or a new password (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, doc: dict[str, Any], now: float) -> str:
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as tx:
            tx.insert(GLOBAL, PENDING_KIND, _digest(token), {**doc, "Expires": now + PENDING_SECONDS})
        return token

    def find(self, token: str | None, now: float) -> tuple[str, dict[str, Any]] | None:
        if not token:
            return None
        name = _digest(token)
        with self.store.read_transaction() as tx:
            doc = tx.get(GLOBAL, PENDING_KIND, name)
        if doc is None:
            return None
        if now >= doc["Expires"]:
            self.end(name)
            return None
        return name, doc

    def update(self, name: str, doc: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.update(GLOBAL, PENDING_KIND, name, doc)

    def end(self, name: str) -> None:
        with self.store.transaction() as tx:
            if tx.get(GLOBAL, PENDING_KIND, name) is not None:
                tx.delete(GLOBAL, PENDING_KIND, name)


def pending_caller(store: Store, doc: dict[str, Any]) -> Caller | None:
    """The user a pending sign-in is for, if still the same user with a console password."""
    with store.read_transaction() as tx:
        user = tx.get(doc["Account"], "user", doc["UserName"])
    if user is None or user.get("UserId") != doc["UserId"] or not user.get("LoginProfile"):
        return None
    return user_caller(doc["Account"], user, None)


def note_password_used(store: Store, caller: Caller, when: float) -> None:
    """IAM's PasswordLastUsed: the user signed in to the console with the password."""
    with store.transaction() as tx:
        user = tx.get(caller.account, "user", caller.user_name or "")
        if user is not None:
            user["PasswordLastUsed"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            tx.update(caller.account, "user", user["UserName"], user)


class Sessions:
    """Console sessions kept in the store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(
        self, caller: Caller, now: float, lifetime: int, mfa_time: float | None = None
    ) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        doc: dict[str, Any] = {
            "MfaTime": mfa_time,
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
        return token, Session(_digest(token), with_mfa(caller, mfa_time, now), doc["Csrf"], doc["Expires"])

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
        return with_mfa(user_caller(doc["Account"], user, None), doc.get("MfaTime"), doc["Issued"])

    def end(self, token_hash: str) -> None:
        with self.store.transaction() as tx:
            tx.delete(GLOBAL, KIND, token_hash)
