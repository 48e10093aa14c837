"""The default store: one SQLite database file, DATA_DIR/rolecall.db, shared by threads and processes.

Durability and concurrency choices:
  * WAL journal with synchronous=FULL. In WAL mode, NORMAL only syncs the log at checkpoints, so a
    power loss or OS crash can undo transactions that were already reported committed; FULL syncs
    the log on every commit, which is what "acknowledged means kept" requires. (A mere process crash
    loses nothing under either setting; FULL also covers the machine going down.)
  * Every transaction() starts with BEGIN IMMEDIATE, taking the single write lock up front. A deferred
    transaction that reads and then writes cannot be retried once another writer has committed in
    between (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not wait out), so we wait for the lock
    at BEGIN instead, where the busy timeout applies. Writers thus queue for up to BUSY_TIMEOUT_S.
  * Each thread has its own two connections: a writer for transaction(), and a query-only reader for
    generation(), lookup_events() and read_transaction(), which never waits for writers (WAL readers
    see the last committed state).
  * Reads cost no SQL while nothing changes (rolecall.store.readcache): generation() is a memory read of
    DATA_DIR/rolecall.generation, which every process announces its commits in, and read transactions
    answer from the documents cached at that generation, opening a snapshot only for what is not cached.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rolecall.store import keys, schema
from rolecall.store.blobs import BlobSql, read_chunks
from rolecall.store.events import build_lookup, encode_token, time_text
from rolecall.store.readcache import CachedReadTx, DocCache, GenerationFile, LazySnapshot
from rolecall.store.transaction import Dialect, SqlStore, SqlTx

DB_FILE = "rolecall.db"
GENERATION_FILE = "rolecall.generation"
BUSY_TIMEOUT_S = 30.0

BLOB_SQL = BlobSql.build(lambda sql: sql, row_locks=False, binary=False)
DIALECT = Dialect.build(
    lambda sql: sql,
    event_time=time_text,
    returning_seq=False,
    blobs=BLOB_SQL,
    bulk_events=("", schema.SQLITE_INSERT_EVENT_RESOURCES_JSON),
    events_values=schema.sqlite_insert_events_values,
)


class SqliteStore(SqlStore):
    kind = "sqlite"

    def __init__(self, data_dir: str, *, relaxed_commits: bool = False):
        """relaxed_commits: synchronous=NORMAL for this store's connections (a commit is not synced to disk
        before it returns; the log is synced at checkpoints): for the trail writer process, whose records
        of reads and denials are written after their responses anyway, where a sync per batch would cost
        most of its time. A machine crash may then lose the last records; it corrupts nothing."""
        self._synchronous = "NORMAL" if relaxed_commits else "FULL"
        if not os.path.isdir(data_dir):
            os.makedirs(data_dir, mode=0o700, exist_ok=True)
        self.data_dir = data_dir
        self.path = os.path.join(data_dir, DB_FILE)
        self.location = self.path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._master_key: tuple[bytes, bool] | None = None
        # Created 0600 before SQLite opens it: the database holds sealed secrets, and SQLite gives the
        # -wal and -shm files the database file's permissions.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = self._writer()
        _enable_wal(conn)
        migrate(conn)
        self._generation = GenerationFile(os.path.join(data_dir, GENERATION_FILE))
        self._cache = DocCache(-1)

    # --- connections ----------------------------------------------------------------------------------

    def _connect(self, query_only: bool) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("store is closed")
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. check_same_thread=False only so close()
        # can close every thread's connections; each connection is used by its own thread alone.
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=64,
        )
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        if self._synchronous == "NORMAL":
            # The trail writer's connection: a batch of records touches pages of every index on `events`,
            # which SQLite's default 2 MiB cache kept reading back and spilling mid-transaction.
            conn.execute("PRAGMA cache_size = -65536")
        if query_only:
            conn.execute("PRAGMA query_only = ON")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _writer(self) -> sqlite3.Connection:
        try:
            return self._local.writer
        except AttributeError:
            self._local.writer = self._connect(query_only=False)
            self._local.in_transaction = False
            return self._local.writer

    def _reader(self) -> sqlite3.Connection:
        try:
            return self._local.reader
        except AttributeError:
            self._local.reader = self._connect(query_only=True)
            return self._local.reader

    # --- transactions ---------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        conn = self._writer()
        if self._local.in_transaction:
            raise RuntimeError("transaction() is not reentrant: this thread already has one open")
        conn.execute("BEGIN IMMEDIATE")
        self._local.in_transaction = True
        tx = SqlTx(conn, DIALECT)
        committed = None
        try:
            yield tx
            if tx.wrote_documents:
                committed = conn.execute(schema.BUMP_GENERATION_RETURNING).fetchone()[0]
            conn.execute("COMMIT")
        finally:
            tx.end()
            self._local.in_transaction = False
            if conn.in_transaction:  # the block raised, or COMMIT failed
                conn.execute("ROLLBACK")
        if committed is not None:
            self._generation.announce(committed)

    @contextmanager
    def read_transaction(self, generation: int | None = None) -> Iterator[SqlTx]:
        """Reads on a consistent state, without the write lock: documents cached at the store's generation
        (or `generation`, one the caller just read), and a snapshot taken at the first read they lack."""
        if generation is None:
            generation = self.generation()
        cache = self._cache
        if cache.generation != generation:
            cache = DocCache(generation)
            if generation > self._cache.generation:
                self._cache = cache
        snapshot = LazySnapshot(self._reader(), _begin_snapshot)
        tx = CachedReadTx(snapshot, DIALECT, cache)
        try:
            yield tx
        finally:
            tx.end()
            if snapshot.open:
                snapshot.execute("COMMIT")

    def generation(self) -> int:
        return self._generation.current(self._read_generation)

    def _read_generation(self) -> int:
        try:
            conn = self._local.reader
        except AttributeError:
            conn = self._reader()
        return conn.execute(schema.READ_GENERATION).fetchone()[0]

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
        query = build_lookup(account, attribute, start, end, max_results, next_token, time_text)
        rows = self._reader().execute(query.sql, query.params).fetchall()
        records = [json.loads(record) for _, _, record in rows[: query.limit]]
        token = None
        if len(rows) > query.limit:
            seq, when, _ = rows[query.limit - 1]
            moment = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            token = encode_token(moment, seq)
        return records, token

    def events_by_request_id(self, request_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._reader().execute(schema.EVENTS_BY_REQUEST_ID, (request_id,)).fetchall()
        return [(account, json.loads(record)) for account, record in rows]

    # --- the rest -------------------------------------------------------------------------------------

    def blob_stream(self, blob_id: str, start: int, end: int) -> Iterator[bytes]:
        # The thread's reader: each chunk is read in a statement of its own, on the last committed state.
        return read_chunks(BLOB_SQL.fetcher(self._reader), BLOB_SQL, blob_id, start, end)

    def master_key(self) -> tuple[bytes, bool]:
        if self._master_key is None:
            from_env = keys.key_from_env()
            if from_env is not None:
                self._master_key = (from_env, False)
            else:
                self._master_key = (keys.file_key(self.data_dir), True)
        return self._master_key


def _begin_snapshot(conn: sqlite3.Connection) -> int:
    """Start a read snapshot (WAL: its first statement fixes it) and return the generation it sees."""
    conn.execute("BEGIN")
    return conn.execute(schema.READ_GENERATION).fetchone()[0]


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (persistent; a no-op once done). Another process may hold a lock while it
    creates the same database; the busy timeout covers that."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(
            f"SQLite refused WAL journal mode (got {mode!r}); is the data dir on a network filesystem?"
        )


def current_version(conn: sqlite3.Connection) -> int:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return 0
    row = conn.execute(schema.READ_SCHEMA_VERSION).fetchone()
    return 0 if row is None else row[0]


def migrate(conn: sqlite3.Connection, target: int = schema.LATEST_VERSION) -> int:
    """Bring the database up to `target`, one migration per transaction; returns the version reached.
    Safe when several processes start at once: the version is re-read under the write lock."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(conn)
            if version > schema.LATEST_VERSION:
                raise RuntimeError(
                    f"database schema version {version} is newer than this rolecall ({schema.LATEST_VERSION})"
                )
            if version >= target:
                conn.execute("COMMIT")
                return version
            for statement in schema.SQLITE_MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(schema.SET_SCHEMA_VERSION, (version + 1,))
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
