"""DATA_DIR/credentials: profiles are added and replaced one at a time, and nothing else in the file is lost;
accounts are listed with their root key ids; a master key other than the store's creates nothing."""

from __future__ import annotations

import stat

import pytest

from rolecall.app import boxes
from rolecall.credentials.accounts import (
    CredentialsFileError,
    MasterKeyMismatch,
    RootCredentials,
    create_account,
    ensure_default_account,
    list_accounts,
    read_profiles,
    write_credentials_file,
)
from rolecall.store import open_store

USERS_OWN = """# keys of my own, kept by hand
[dev]
aws_access_key_id = AKIADEV
aws_secret_access_key = dev-secret
"""


def test_profiles_are_added_and_replaced_keeping_the_rest(tmp_path):
    (tmp_path / "credentials").write_text(USERS_OWN.rstrip("\n"))  # no final newline, as editors leave it
    write_credentials_file(tmp_path, RootCredentials("123456789012", "AKIAONE", "one"))
    write_credentials_file(
        tmp_path, RootCredentials("210987654321", "AKIATWO", "two"), "rolecall-210987654321"
    )
    write_credentials_file(tmp_path, RootCredentials("123456789012", "AKIAONE2", "one2"))  # replaced in place
    path = tmp_path / "credentials"
    assert path.read_text() == USERS_OWN + (
        "\n[rolecall]\naws_access_key_id = AKIAONE2\naws_secret_access_key = one2\n"
        "\n[rolecall-210987654321]\naws_access_key_id = AKIATWO\naws_secret_access_key = two\n"
    )
    assert read_profiles(path) == {
        "dev": ("AKIADEV", "dev-secret"),
        "rolecall": ("AKIAONE2", "one2"),
        "rolecall-210987654321": ("AKIATWO", "two"),
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".credentials.lock", "credentials"]  # no temp left


def test_a_file_that_is_not_a_credentials_file_is_an_error(tmp_path):
    (tmp_path / "credentials").write_text("aws_access_key_id = outside any section\n")
    with pytest.raises(CredentialsFileError, match="is not an AWS credentials file"):
        read_profiles(tmp_path / "credentials")
    assert read_profiles(tmp_path / "missing") == {}


def test_accounts_are_listed_with_their_root_keys_and_a_foreign_master_key_creates_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("ROLECALL_ROOT_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ROLECALL_ROOT_SECRET_ACCESS_KEY", raising=False)
    store = open_store(data_dir=str(tmp_path))
    try:
        box, _ = boxes(b"k" * 32)
        first = ensure_default_account(store, box, "123456789012")
        second = create_account(store, box, "210987654321")
        listed = [(a.account_id, a.root_access_key_ids) for a in list_accounts(store)]
        assert listed == [("123456789012", [first.access_key_id]), ("210987654321", [second.access_key_id])]
        foreign, _ = boxes(b"x" * 32)
        with pytest.raises(MasterKeyMismatch):
            create_account(store, foreign, "333333333333")
        assert [a.account_id for a in list_accounts(store)] == ["123456789012", "210987654321"]
    finally:
        store.close()
