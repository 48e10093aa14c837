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


class MasterKeyMismatch(Exception):
    """The box's master key is not the one the store's secrets are sealed with."""


def _check_master_key(tx: Tx, box: SecretBox) -> None:
    """MasterKeyMismatch unless a secret the store already holds opens with `box`: a key sealed under
    another master key (say, a command run without the server's ROLECALL_MASTER_KEY) would never verify."""
    for account in tx.list(GLOBAL, "account"):
        for key in tx.list(account["AccountId"], "access_key"):
            if key.get("SecretSealed"):
                try:
                    box.open(key["SecretSealed"])
                except ValueError:
                    raise MasterKeyMismatch(
                        "this master key is not the one the store's secrets are sealed with: run with the "
                        "server's ROLECALL_MASTER_KEY (or without it, if the server has none)"
                    ) from None
                return


def create_account(store: Store, box: SecretBox, account_id: str | None = None) -> RootCredentials:
    """A new account with one root access key. Conflict when the id is taken; MasterKeyMismatch when
    `box` could not open the secrets the store already holds."""
    if account_id is None:
        account_id = "".join(secrets.choice("0123456789") for _ in range(12))
        if account_id[0] == "0":
            account_id = "1" + account_id[1:]
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise ValueError(f"account id must be 12 digits: {account_id!r}")
    key_id, secret = ids.access_key_id(ids.LONG_TERM_KEY, account_id), ids.secret_access_key()
    with store.transaction() as tx:
        _check_master_key(tx, box)
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


# The AWS shared-credentials file in the data dir: profile `rolecall` holds the default account's root keys
# (written at first start), `rolecall-ACCOUNTID` those of each account `rolecall account create` made.
CREDENTIALS_FILE = "credentials"
DEFAULT_PROFILE = "rolecall"


def account_profile(account_id: str) -> str:
    return f"{DEFAULT_PROFILE}-{account_id}"


def credentials_path(data_dir: str | Path) -> Path:
    return Path(data_dir).expanduser() / CREDENTIALS_FILE


class CredentialsFileError(Exception):
    """The credentials file cannot be read as an AWS shared-credentials file."""


def write_credentials_file(
    data_dir: str | Path, creds: RootCredentials, profile: str = DEFAULT_PROFILE
) -> Path:
    """Add `profile` to DATA_DIR/credentials, or replace it, leaving every other line of the file as it was.

    The file holds root keys, so it is only ever readable by its owner: the new text is written 0600 beside
    it and renamed over it, under a lock, so a crash or a concurrent writer never leaves half a file.
    """
    import fcntl

    path = credentials_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    section = [
        f"[{profile}]\n",
        f"aws_access_key_id = {creds.access_key_id}\n",
        f"aws_secret_access_key = {creds.secret_access_key}\n",
    ]
    lock_fd = os.open(path.with_name(f".{CREDENTIALS_FILE}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        lines = path.read_text().splitlines(keepends=True) if path.exists() else []
        text = "".join(_with_section(lines, profile, section))
        tmp = path.with_name(f".{CREDENTIALS_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        os.close(lock_fd)
    return path


def _with_section(lines: list[str], profile: str, section: list[str]) -> list[str]:
    """`lines` with the keys of [profile] replaced by `section` (appended when there is none). Comments
    are kept wherever they are."""
    out: list[str] = []
    replaced = skipping = False
    for line in lines:
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            skipping = text[1:-1].strip() == profile
            if skipping:
                if not replaced:
                    out += section
                    replaced = True
                continue
            if replaced and out and out[-1].strip():
                out.append("\n")  # a blank line between the new section and the next
        if not skipping or text.startswith(("#", ";")):
            out.append(line)
    if not replaced:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        if out and out[-1].strip():
            out.append("\n")
        out += section
    return out


def read_profiles(path: str | Path) -> dict[str, tuple[str, str]]:
    """Every profile of a shared-credentials file that has both keys: name -> (access key id, secret).
    Empty when the file does not exist; CredentialsFileError when it is not in the format."""

    path = Path(path).expanduser()
    if not path.exists():
        return {}
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read(path)
    except configparser.Error as exc:
        raise CredentialsFileError(f"{path} is not an AWS credentials file: {exc.message}") from None
    return {
        name: (cp[name]["aws_access_key_id"], cp[name]["aws_secret_access_key"])
        for name in cp.sections()
        if cp[name].get("aws_access_key_id") and cp[name].get("aws_secret_access_key")
    }


def read_credentials_file(data_dir: str | Path, profile: str = DEFAULT_PROFILE) -> tuple[str, str] | None:
    """The keys of `profile` in DATA_DIR/credentials, or None."""
    return read_profiles(credentials_path(data_dir)).get(profile)


@dataclass
class AccountSummary:
    account_id: str
    create_date: str
    root_access_key_ids: list[str]  # active root keys (ids only: never a secret)


def list_accounts(store: Store) -> list[AccountSummary]:
    """Every account of the store, with the ids of its active root access keys."""
    with store.read_transaction() as tx:
        return [
            AccountSummary(
                doc["AccountId"],
                doc.get("CreateDate", ""),
                [
                    key["AccessKeyId"]
                    for key in tx.list(doc["AccountId"], "access_key")
                    if key.get("UserName") is None and key.get("Status") == "Active"
                ],
            )
            for doc in tx.list(GLOBAL, "account")
        ]
