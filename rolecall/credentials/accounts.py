"""Accounts and their root credentials."""

from __future__ import annotations

import configparser
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rolecall import ids
from rolecall.credentials.secretbox import SecretBox
from rolecall.store import GLOBAL, Conflict, Store, Tx


@dataclass
class RootCredentials:
    account_id: str
    access_key_id: str
    secret_access_key: str


def _now_iso() -> str:

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_exists(tx: Tx, account_id: str) -> bool:
    return tx.get(GLOBAL, "account", account_id) is not None


def _add_root_key(tx: Tx, box: SecretBox, account_id: str, key_id: str, secret: str) -> None:
    tx.insert(
        account_id,
        "access_key",
        key_id,
        {
            "AccessKeyId": key_id,
            "UserName": None,
            "Status": "Active",
            "CreateDate": _now_iso(),
            "SecretSealed": box.seal(secret),
        },
    )


def create_account(store: Store, box: SecretBox, account_id: str | None = None) -> RootCredentials:
    """A new account with one root access key. Conflict when the id is taken."""
    if account_id is None:
        account_id = "".join(secrets.choice("0123456789") for _ in range(12))
        if account_id[0] == "0":
            account_id = "1" + account_id[1:]
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise ValueError(f"account id must be 12 digits: {account_id!r}")
    key_id, secret = ids.access_key_id(ids.LONG_TERM_KEY, account_id), ids.secret_access_key()
    with store.transaction() as tx:
        tx.insert(GLOBAL, "account", account_id, {"AccountId": account_id, "CreateDate": _now_iso()})
        _add_root_key(tx, box, account_id, key_id, secret)
    return RootCredentials(account_id, key_id, secret)


def ensure_default_account(store: Store, box: SecretBox, account_id: str) -> RootCredentials | None:
    """Make sure the default account exists with usable root credentials.

    Root keys come from ROLECALL_ROOT_ACCESS_KEY_ID / ROLECALL_ROOT_SECRET_ACCESS_KEY when set (added or
    updated on start); otherwise they are generated once, on first start. Returns the credentials when
    they were generated now (so the caller prints them once), else None.
    """
    env_key = os.environ.get("ROLECALL_ROOT_ACCESS_KEY_ID")
    env_secret = os.environ.get("ROLECALL_ROOT_SECRET_ACCESS_KEY")
    with store.transaction() as tx:
        known = account_exists(tx, account_id)
        if not known:
            try:
                tx.insert(GLOBAL, "account", account_id, {"AccountId": account_id, "CreateDate": _now_iso()})
            except Conflict:  # another node created it at the same moment
                known = True
        if env_key and env_secret:
            found = tx.find("access_key", env_key)
            if found is None:
                _add_root_key(tx, box, account_id, env_key, env_secret)
            elif found[0] == account_id and found[1].get("UserName") is None:
                doc = dict(found[1], SecretSealed=box.seal(env_secret), Status="Active")
                tx.update(account_id, "access_key", env_key, doc)
            return None
        if known:
            return None
        creds = RootCredentials(
            account_id, ids.access_key_id(ids.LONG_TERM_KEY, account_id), ids.secret_access_key()
        )
        _add_root_key(tx, box, account_id, creds.access_key_id, creds.secret_access_key)
        return creds


def write_credentials_file(data_dir: str | Path, creds: RootCredentials, profile: str = "rolecall") -> Path:
    """DATA_DIR/credentials in the AWS shared-credentials format, readable by the owner only."""
    path = Path(data_dir) / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f"[{profile}]\n"
        f"aws_access_key_id = {creds.access_key_id}\n"
        f"aws_secret_access_key = {creds.secret_access_key}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def read_credentials_file(data_dir: str | Path, profile: str = "rolecall") -> tuple[str, str] | None:

    path = Path(data_dir) / "credentials"
    if not path.exists():
        return None
    cp = configparser.ConfigParser()
    cp.read(path)
    if profile not in cp:
        return None
    return cp[profile]["aws_access_key_id"], cp[profile]["aws_secret_access_key"]
