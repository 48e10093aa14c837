"""The master key: from the environment, else generated once and kept with the store."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest

KEY = bytes(range(32))


def test_generated_once_and_stable_across_instances(store, open_second):
    key, generated = store.master_key()
    assert generated is True
    assert len(key) == 32
    assert store.master_key() == (key, True)
    other = open_second()
    assert other.master_key() == (key, True)


def test_stable_across_close_and_reopen(store, store_backend):
    key, _ = store.master_key()
    store.close()
    assert store_backend.open().master_key() == (key, True)


def test_sqlite_key_file_is_private(sqlite_backend):
    store_backend = sqlite_backend
    store = store_backend.open()
    store.master_key()
    path = os.path.join(store_backend.data_dir, "master.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store_backend.data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.location).st_mode) & 0o077 == 0


@pytest.mark.postgres
def test_postgres_nodes_share_the_row(pg_backend):
    store_backend = pg_backend
    store, other = store_backend.open(), store_backend.open()
    # Whichever instance asks first, both get the same key.
    assert other.master_key() == store.master_key()
    with store_backend.raw() as conn:
        (stored,) = conn.execute("SELECT value FROM secrets WHERE name = 'master_key'").fetchone()
    assert base64.b64decode(stored) == store.master_key()[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (KEY.hex(), KEY),
        (KEY.hex().upper(), KEY),
        (base64.b64encode(KEY).decode(), KEY),
        (base64.urlsafe_b64encode(bytes([251] * 32)).decode(), bytes([251] * 32)),
        ("correct horse battery staple", hashlib.sha256(b"correct horse battery staple").digest()),
        (base64.b64encode(bytes(16)).decode(), hashlib.sha256(base64.b64encode(bytes(16))).digest()),
    ],
)
def test_from_the_environment(store, monkeypatch, value, expected):
    monkeypatch.setenv("ROLECALL_MASTER_KEY", value)
    assert store.master_key() == (expected, False)


def test_environment_key_wins_and_the_stored_key_is_untouched(store_backend, monkeypatch):
    stored, _ = store_backend.open().master_key()
    monkeypatch.setenv("ROLECALL_MASTER_KEY", KEY.hex())
    assert store_backend.open().master_key() == (KEY, False)
    monkeypatch.delenv("ROLECALL_MASTER_KEY")
    assert store_backend.open().master_key() == (stored, True)


def test_a_damaged_key_file_is_refused_not_replaced(sqlite_backend):
    store_backend = sqlite_backend
    store = store_backend.open()
    path = os.path.join(store_backend.data_dir, "master.key")
    with open(path, "w") as f:
        f.write("not a key\n")
    with pytest.raises(RuntimeError):
        store.master_key()
    with open(path) as f:
        assert f.read() == "not a key\n"
