"""What the store's blob tables (rolecall.store.blobs) hold, read straight from the database a server uses."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from rolecall.store import schema


def query(srv: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` (written with ? placeholders) on `srv`'s database: its PostgreSQL database, or the SQLite
    file in its data dir. A statement that returns no rows gives []."""
    if srv.database_url:
        with psycopg.connect(srv.database_url, autocommit=True) as conn:
            cursor = conn.execute(schema.pg(sql), params)
            return cursor.fetchall() if cursor.description is not None else []
    conn = sqlite3.connect(srv.data_dir / "rolecall.db", isolation_level=None)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def as_previous_version(srv: Any) -> None:
    """Turn `srv`'s (stopped) database into what rolecall before schema version 4 left: no blob tables."""
    for statement in (
        "DROP TABLE blob_chunks",
        "DROP TABLE blobs",
        "UPDATE meta SET value = 3 WHERE key = 'schema_version'",
    ):
        query(srv, statement)


def names(srv: Any, space_prefix: str) -> list[str]:
    """The names held in spaces starting with `space_prefix` ("s3:", "s3-parts:", "lambda:", ...)."""
    rows = query(
        srv,
        "SELECT name FROM blobs WHERE substr(space, 1, ?) = ? ORDER BY name",
        (len(space_prefix), space_prefix),
    )
    return [bytes(name).decode() for (name,) in rows]


def chunks(srv: Any, space_prefix: str | None = None) -> int:
    """Chunk rows in all, or of the bodies named in spaces starting with `space_prefix`."""
    if space_prefix is None:
        return query(srv, "SELECT count(*) FROM blob_chunks")[0][0]
    sql = (
        "SELECT count(*) FROM blob_chunks WHERE blob IN (SELECT id FROM blobs WHERE substr(space, 1, ?) = ?)"
    )
    return query(srv, sql, (len(space_prefix), space_prefix))[0][0]


def orphans(srv: Any) -> int:
    """Chunk rows of no body a name holds: what a leaking write or delete would leave."""
    return query(srv, "SELECT count(*) FROM blob_chunks WHERE blob NOT IN (SELECT id FROM blobs)")[0][0]
