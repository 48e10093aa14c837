"""Schema versions: a new database, an upgrade from version 1, and refusing a newer schema."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime

import pytest

from rolecall.store import postgres, schema, sqlite
from rolecall.store.sqlite import SqliteStore

A = "111111111111"


def version_of(store_backend) -> int:
    if store_backend.name == "sqlite":
        conn = sqlite3.connect(os.path.join(store_backend.data_dir, "rolecall.db"))
        try:
            return sqlite.current_version(conn)
        finally:
            conn.close()
    with store_backend.raw() as conn:
        return postgres.current_version(conn)


def build_at(store_backend, version: int) -> None:
    """A database left at `version`, holding one version-1 document with a bumped generation."""
    if store_backend.name == "sqlite":
        os.makedirs(store_backend.data_dir, exist_ok=True)
        conn = sqlite3.connect(os.path.join(store_backend.data_dir, "rolecall.db"), isolation_level=None)
        run, sql = conn.execute, (lambda s: s)
        migrate = sqlite.migrate
    else:
        conn = store_backend.raw()
        run, sql = conn.execute, schema.pg
        migrate = postgres.migrate
    try:
        assert migrate(conn, target=version) == version
        if version >= 1:
            doc = json.dumps({"RoleName": "Legacy"})
            run(sql(schema.INSERT), (A, "role", "Legacy", "legacy", "AROALEGACY", doc, 0.0))
            run(sql(schema.BUMP_GENERATION))
    finally:
        conn.close()


def test_a_new_database_is_created_at_the_latest_version(store, store_backend):
    assert version_of(store_backend) == schema.LATEST_VERSION == 4
    assert store.generation() == 0


def test_an_empty_database_version_0_is_initialised(store_backend):
    build_at(store_backend, 0)
    assert version_of(store_backend) == 0
    store = store_backend.open()
    assert version_of(store_backend) == schema.LATEST_VERSION
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {})


def test_upgrade_from_version_1_keeps_documents_and_generation(store_backend):
    build_at(store_backend, 1)
    assert version_of(store_backend) == 1
    store = store_backend.open()
    assert version_of(store_backend) == schema.LATEST_VERSION
    assert store.generation() == 1
    with store.transaction() as tx:
        assert tx.get(A, "role", "LEGACY") == {"RoleName": "Legacy"}
        assert tx.by_uid("AROALEGACY") == (A, "role", {"RoleName": "Legacy"})
        tx.append_event(A, {"eventID": "after-upgrade", "eventTime": "2026-11-28T18:00:00Z"})
    assert [r["eventID"] for r in store.events(A)] == ["after-upgrade"]
    assert len(store.master_key()[0]) == 32
    # Opening again is a no-op.
    store_backend.open()
    assert version_of(store_backend) == schema.LATEST_VERSION


def test_upgrade_from_version_2_finds_earlier_records_by_request_id(store_backend):
    build_at(store_backend, 2)
    old = {"eventID": "e-old", "eventTime": "2026-11-28T18:00:00Z", "requestID": "req-old"}
    columns = "INSERT INTO events (event_id, account, event_time, record) VALUES (?, ?, ?, ?)"
    if store_backend.name == "sqlite":
        conn = sqlite3.connect(os.path.join(store_backend.data_dir, "rolecall.db"), isolation_level=None)
        conn.execute(columns, ("e-old", A, "2026-11-28T18:00:00.000000Z", json.dumps(old)))
        conn.close()
    else:
        with store_backend.raw() as conn:
            conn.execute(
                schema.pg(columns), ("e-old", A, datetime(2026, 11, 28, 18, tzinfo=UTC), json.dumps(old))
            )
    store = store_backend.open()
    assert version_of(store_backend) == schema.LATEST_VERSION
    assert store.events_by_request_id("req-old") == [(A, old)]
    new = {"eventID": "e-new", "eventTime": "2026-11-28T18:01:00Z", "requestID": "req-new"}
    with store.transaction() as tx:
        tx.append_event(A, new)
        tx.append_event("222222222222", {**new, "eventID": "e-new-copy"})
    assert [account for account, _ in store.events_by_request_id("req-new")] == [A, "222222222222"]
    assert store.events_by_request_id("req-none") == []


def test_a_newer_schema_is_refused(store, store_backend):
    newer = schema.LATEST_VERSION + 1
    if store_backend.name == "sqlite":
        conn = sqlite3.connect(store.location, isolation_level=None)
        conn.execute(schema.SET_SCHEMA_VERSION, (newer,))
        conn.close()
    else:
        with store_backend.raw() as conn:
            conn.execute(schema.pg(schema.SET_SCHEMA_VERSION), (newer,))
    with pytest.raises(RuntimeError, match="newer"):
        store_backend.open()


def test_sqlite_creates_a_private_data_dir(tmp_path):
    target = tmp_path / "nested" / "data"
    store = SqliteStore(str(target))
    try:
        assert store.location == str(target / "rolecall.db")
        assert (target.stat().st_mode & 0o777) == 0o700
        assert sqlite3.connect(store.location).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()
