"""The shared store: one PostgreSQL database that several rolecall processes (nodes) use at once.

* One autocommit connection per thread. transaction() wraps it in BEGIN/COMMIT (READ COMMITTED,
  PostgreSQL's default); generation() and lookup_events() are single statements outside any
  transaction block, so they cost one round trip. psycopg prepares a statement server-side after
  a few executions, so the hot queries run prepared.
* Inserting an existing name or uid uses ON CONFLICT DO NOTHING and raises Conflict when no row went
  in: no error reaches the server, so the caller's transaction stays usable after catching Conflict
  (and rolls back as usual if the Conflict propagates out of the `with`). When two nodes insert the
  same name at once, the second insert waits for the first transaction: it gets Conflict if that
  one commits and succeeds if it rolls back, so exactly one wins.
* The generation row is bumped just before COMMIT, so document-writing transactions hold its row
  lock only for the commit itself. The same statement NOTIFYs the new generation, which every node's
  listener takes in (rolecall.store.pg_generation): generation() costs no query while nothing changes,
  and a write returns once every node has the generation it made.
* A connection found broken (server restart) is replaced on the thread's next call.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from rolecall.store import keys, schema
from rolecall.store.blobs import BlobSql, read_chunks
from rolecall.store.events import build_lookup, encode_token
from rolecall.store.pg_generation import (
    BUMP_AND_NOTIFY,
    GenerationListener,
    channel,
    store_tag,
    wait_for_listeners,
)
from rolecall.store.readcache import CachedReadTx, DocCache, LazySnapshot
from rolecall.store.transaction import Dialect, SqlStore, SqlTx

BLOB_SQL = BlobSql.build(schema.pg, row_locks=True, binary=True)
DIALECT = Dialect.build(
    schema.pg,
    event_time=lambda moment: moment,
    returning_seq=True,
    blobs=BLOB_SQL,
    bulk_events=(schema.PG_INSERT_EVENTS_JSON, schema.PG_INSERT_EVENT_RESOURCES_JSON),
)

log = logging.getLogger("rolecall.store")

_READ_GENERATION = schema.pg(schema.READ_GENERATION)
# One round trip: with no parameters psycopg sends both in one simple query and returns the last result.
_BEGIN_SNAPSHOT = f"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; {_READ_GENERATION}"
_EVENTS_BY_REQUEST_ID = schema.pg(schema.EVENTS_BY_REQUEST_ID)
_INSERT_MASTER_KEY = "INSERT INTO secrets (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING"
_READ_MASTER_KEY = "SELECT value FROM secrets WHERE name = %s"


class PostgresStore(SqlStore):
    kind = "postgresql"

    def __init__(self, database_url: str, *, relaxed_commits: bool = False):
        """relaxed_commits: synchronous_commit off on this store's connections, for the trail writer process
        (see SqliteStore): a server crash may lose the last commits, never corrupt the database."""
        self._relaxed = relaxed_commits
        self.database_url = database_url
        self.location = without_password(database_url)
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._master_key: tuple[bytes, bool] | None = None
        self._cache = DocCache(-1)
        conn = self._conn()
        migrate(conn)
        self._tag = store_tag(conn)
        self._channel = channel(self._tag)
        # Started by the first generation(): a store that only writes (a CLI command) holds no listener.
        self._listener: GenerationListener | None = None

    # --- connections ----------------------------------------------------------------------------------

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not (conn.closed or conn.broken):
            return conn
        if self._closed:
            raise RuntimeError("store is closed")
        conn = psycopg.connect(self.database_url, autocommit=True)
        if self._relaxed:
            conn.execute("SET synchronous_commit TO off")
        with self._connections_lock:
            self._connections = [c for c in self._connections if not c.closed]
            self._connections.append(conn)
        self._local.conn = conn
        self._local.in_transaction = False
        return conn

    # --- transactions ---------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        conn = self._conn()
        if self._local.in_transaction:
            raise RuntimeError("transaction() is not reentrant: this thread already has one open")
        self._local.in_transaction = True
        tx = SqlTx(conn, DIALECT)
        committed = None
        try:
            with conn.transaction():
                yield tx
                if tx.wrote_documents:
                    row = conn.execute(BUMP_AND_NOTIFY, (self._channel,)).fetchone()
                    assert row is not None
                    committed = int(row[0])
        finally:
            tx.end()
            self._local.in_transaction = False
        if committed is not None:
            self._announced(conn, committed)

    def _announced(self, conn: psycopg.Connection, committed: int) -> None:
        """After the COMMIT that made `committed`: this node knows it at once; the others' listeners were
        notified, and the write returns once they have taken it in."""
        if self._listener is not None:
            self._listener.raise_to(committed)
        try:
            wait_for_listeners(conn, self._tag, committed)
        except psycopg.Error as err:  # the change stands; the other nodes still got the notification
            log.warning("could not confirm that every node has generation %d: %s", committed, err)

    @contextmanager
    def read_transaction(self, generation: int | None = None) -> Iterator[SqlTx]:
        """Reads on a consistent state: documents cached at the generation (rolecall.store.readcache), and a
        snapshot (REPEATABLE READ, READ ONLY) begun at the first read they lack."""
        if generation is None:
            generation = self.generation()
        conn = self._conn()
        if self._local.in_transaction:
            raise RuntimeError("transaction() is not reentrant: this thread already has one open")
        cache = self._cache
        if cache.generation != generation:
            cache = DocCache(generation)
            if generation > self._cache.generation:
                self._cache = cache
        self._local.in_transaction = True
        snapshot = LazySnapshot(conn, _begin_snapshot)
        tx = CachedReadTx(snapshot, DIALECT, cache)
        try:
            yield tx
        finally:
            tx.end()
            self._local.in_transaction = False
            if snapshot.open and not conn.broken:
                conn.execute("ROLLBACK")  # it only read

    def generation(self) -> int:
        listener = self._listener
        if listener is None:
            with self._connections_lock:
                if self._listener is None and not self._closed:
                    self._listener = GenerationListener(self.database_url, self._tag)
                listener = self._listener
            if listener is None:
                raise RuntimeError("store is closed")
        return listener.current(self._read_generation)

    def _read_generation(self) -> int:
        row = self._conn().execute(_READ_GENERATION).fetchone()
        assert row is not None  # the meta row exists from the first migration on
        return int(row[0])

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        super().close()

    # --- events ---------------------------------------------------------------------------------------

    def lookup_events(
        self,
        account: str,
        *,
        attribute: tuple[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_results: int = 50,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = build_lookup(account, attribute, start, end, max_results, next_token, DIALECT.event_time)
        rows = self._conn().execute(schema.pg(query.sql), query.params).fetchall()
        records = [json.loads(record) for _, _, record in rows[: query.limit]]
        token = None
        if len(rows) > query.limit:
            seq, when, _ = rows[query.limit - 1]
            token = encode_token(when, seq)
        return records, token

    def events_by_request_id(self, request_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._conn().execute(_EVENTS_BY_REQUEST_ID, (request_id,)).fetchall()
        return [(account, json.loads(record)) for account, record in rows]

    # --- the rest -------------------------------------------------------------------------------------

    def blob_stream(self, blob_id: str, start: int, end: int) -> Iterator[bytes]:
        # The thread's autocommit connection: each chunk is read in a statement of its own.
        return read_chunks(BLOB_SQL.fetcher(self._conn), BLOB_SQL, blob_id, start, end)

    def master_key(self) -> tuple[bytes, bool]:
        """From the environment, else the `secrets` row: the first node to ask inserts a fresh key,
        everyone (that node included) then reads whichever key won."""
        if self._master_key is None:
            from_env = keys.key_from_env()
            if from_env is not None:
                self._master_key = (from_env, False)
            else:
                conn = self._conn()
                conn.execute(_INSERT_MASTER_KEY, (schema.MASTER_KEY_NAME, keys.new_key_text()))
                row = conn.execute(_READ_MASTER_KEY, (schema.MASTER_KEY_NAME,)).fetchone()
                assert row is not None  # inserted just above, or by another node before
                (stored,) = row
                self._master_key = (keys.decode_stored(stored, "the secrets table"), True)
        return self._master_key


def current_version(conn: psycopg.Connection) -> int:
    found = conn.execute("SELECT to_regclass('meta')").fetchone()
    if found is None or found[0] is None:
        return 0
    row = conn.execute(schema.READ_SCHEMA_VERSION).fetchone()
    return 0 if row is None else row[0]


def migrate(conn: psycopg.Connection, target: int = schema.LATEST_VERSION) -> int:
    """Bring the database up to `target`, one migration per transaction; returns the version reached.
    Each step holds a transaction-scoped advisory lock and re-reads the version under it, so nodes
    starting together apply every migration exactly once."""
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.MIGRATION_LOCK_ID,))
            version = current_version(conn)
            if version > schema.LATEST_VERSION:
                raise RuntimeError(
                    f"database schema version {version} is newer than this rolecall ({schema.LATEST_VERSION})"
                )
            if version >= target:
                return version
            for statement in schema.POSTGRES_MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(schema.pg(schema.SET_SCHEMA_VERSION), (version + 1,))


def _begin_snapshot(conn: psycopg.Connection) -> int:
    cursor = conn.execute(_BEGIN_SNAPSHOT, prepare=False)  # never prepared: two statements
    cursor.nextset()  # past BEGIN's result to the SELECT's
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def without_password(database_url: str) -> str:
    """The URL (or key=value conninfo) with any password removed, for logs and `location`."""
    if "://" not in database_url:
        params = conninfo_to_dict(database_url)
        params.pop("password", None)
        return make_conninfo("", **params)
    parts = urlsplit(database_url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = userinfo.split(":", 1)[0] + "@" + host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))
