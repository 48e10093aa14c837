"""The Tx both backends use: the same statements over a DB-API-like connection.

sqlite3 and psycopg connections both offer `execute(sql, params)` returning a cursor with
`fetchone()`, `fetchall()` and `rowcount`, which is all the document operations need. What differs
(placeholder style, how an event's time is stored, how the new event's seq comes back) is supplied
by the backend as a `Dialect`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rolecall.store import schema
from rolecall.store.base import Blob, BlobCheck, BlobLock, Conflict, Store, Tx
from rolecall.store.blobs import BlobRows, BlobSql
from rolecall.store.events import index_record, time_text
from rolecall.store.volatile import is_volatile


@dataclass(frozen=True, slots=True)
class Dialect:
    get: str
    list: str
    list_after: str
    insert: str
    update: str
    delete: str
    find: str
    by_uid: str
    insert_event: str  # for PostgreSQL with RETURNING seq
    insert_event_resource: str
    event_time: Callable[[datetime], Any]  # a UTC datetime as the event_time column stores it
    returning_seq: bool  # insert_event returns the seq as a row (else cursor.lastrowid)
    blobs: BlobSql | None = None  # the blob statements (rolecall.store.blobs)
    # (events, event_resources) statements that insert a batch given as one JSON array, else None; with
    # events_values, the events go in multi-row VALUES (schema.sqlite_insert_events_values) instead
    bulk_events: tuple[str, str] | None = None
    events_values: Callable[[int], str] | None = None

    @classmethod
    def build(
        cls,
        translate: Callable[[str], str],
        event_time: Callable[[datetime], Any],
        returning_seq: bool,
        blobs: BlobSql | None = None,
        bulk_events: tuple[str, str] | None = None,
        events_values: Callable[[int], str] | None = None,
    ):
        insert_event = schema.INSERT_EVENT + (" RETURNING seq" if returning_seq else "")
        return cls(
            get=translate(schema.GET),
            list=translate(schema.LIST),
            list_after=translate(schema.LIST_AFTER),
            insert=translate(schema.INSERT),
            update=translate(schema.UPDATE),
            delete=translate(schema.DELETE),
            find=translate(schema.FIND),
            by_uid=translate(schema.BY_UID),
            insert_event=translate(insert_event),
            insert_event_resource=translate(schema.INSERT_EVENT_RESOURCE),
            event_time=event_time,
            returning_seq=returning_seq,
            blobs=blobs,
            bulk_events=bulk_events,
            events_values=events_values,
        )


class _Ended:
    """Stands in for the connection once the transaction is over, so a leaked Tx fails loudly."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("this transaction has ended")

    def cursor(self) -> Any:
        raise RuntimeError("this transaction has ended")


ENDED = _Ended()


class SqlTx(Tx):
    __slots__ = ("_conn", "_sql", "wrote_documents", "_read")

    def __init__(self, conn: Any, dialect: Dialect):
        self._conn = conn
        self._sql = dialect
        # the store bumps the generation at commit when set: by every document write but those of volatile
        # kinds (rolecall.store.volatile), which no cache holds
        self.wrote_documents = False
        # Documents read in this transaction, as stored text: a request that resolves its target for
        # authorization and again in its handler reads the row once. Writes drop the entry.
        self._read: dict[tuple[str, str, str], str | None] = {}

    def end(self) -> None:
        self._conn = ENDED
        self._read = {}

    def get(self, account: str, kind: str, name: str) -> dict[str, Any] | None:
        key = (account, kind, name.lower())
        try:
            text = self._read[key]
        except KeyError:
            row = self._conn.execute(self._sql.get, key).fetchone()
            text = self._read[key] = None if row is None else row[0]
        return None if text is None else json.loads(text)

    def list(self, account: str, kind: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(self._sql.list, (account, kind)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def list_page(self, account: str, kind: str, after: str | None, limit: int) -> Sequence[dict[str, Any]]:
        rows = self._conn.execute(self._sql.list_after, (account, kind, after or "", limit)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def insert(
        self,
        account: str,
        kind: str,
        name: str,
        doc: dict[str, Any],
        uid: str | None = None,
    ) -> None:
        if uid is not None and is_volatile(
            kind
        ):  # by_uid's answers, misses included, are cached per generation
            raise ValueError(f"documents of the volatile kind {kind!r} carry no unique id")
        params = (account, kind, name, name.lower(), uid, schema.dump(doc), time.time())
        self._read.pop((account, kind, name.lower()), None)
        if self._conn.execute(self._sql.insert, params).rowcount != 1:
            what = f"{kind} {name!r}" + (f" or id {uid}" if uid else "")
            raise Conflict(f"{what} already exists in account {account!r}")
        self.wrote_documents = self.wrote_documents or not is_volatile(kind)

    def update(self, account: str, kind: str, name: str, doc: dict[str, Any]) -> None:
        params = (schema.dump(doc), time.time(), account, kind, name.lower())
        self._read.pop((account, kind, name.lower()), None)
        if self._conn.execute(self._sql.update, params).rowcount != 1:
            raise KeyError((account, kind, name))
        self.wrote_documents = self.wrote_documents or not is_volatile(kind)

    def delete(self, account: str, kind: str, name: str) -> bool:
        self._read.pop((account, kind, name.lower()), None)
        if self._conn.execute(self._sql.delete, (account, kind, name.lower())).rowcount != 1:
            return False
        self.wrote_documents = self.wrote_documents or not is_volatile(kind)
        return True

    def find(self, kind: str, name: str) -> tuple[str, dict[str, Any]] | None:
        row = self._conn.execute(self._sql.find, (kind, name.lower())).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def by_uid(self, uid: str) -> tuple[str, str, dict[str, Any]] | None:
        row = self._conn.execute(self._sql.by_uid, (uid,)).fetchone()
        return None if row is None else (row[0], row[1], json.loads(row[2]))

    def append_event(self, account: str, record: dict[str, Any]) -> None:
        """Store a record; ValueError if it lacks eventID/eventTime, Conflict if its eventID is taken.
        Does not count as a document write: the generation stays."""
        event = index_record(record)
        when = self._sql.event_time(event.event_time)
        params = (*event.columns(account, when), schema.dump(record))
        cursor = self._conn.execute(self._sql.insert_event, params)
        if self._sql.returning_seq:
            row = cursor.fetchone()
            seq = None if row is None else row[0]
        else:
            seq = cursor.lastrowid if cursor.rowcount == 1 else None
        if seq is None:
            raise Conflict(f"event {event.event_id} already exists")
        if event.resources:
            rows = [(account, attr, value, when, seq) for attr, value in event.resources]
            self._conn.cursor().executemany(self._sql.insert_event_resource, rows)

    def append_events(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store a batch of (account, record); as append_event for each, in fewer statements where the
        dialect has them. Conflict if any eventID is taken (nothing of the batch is then kept by a caller
        that lets the transaction roll back)."""
        if self._sql.bulk_events is None or len(items) < 2:
            for account, record in items:
                self.append_event(account, record)
            return
        rows: list[list[Any]] = []
        resources: list[list[str]] = []
        for account, record in items:
            event = index_record(record)
            # The time as text in JSON; PostgreSQL casts it back.
            rows.append([*event.columns(account, time_text(event.event_time)), schema.dump(record)])
            resources += [[account, attr, value, event.event_id] for attr, value in event.resources]
        insert_events, insert_resources = self._sql.bulk_events
        if self._sql.events_values is None:
            inserted = self._conn.execute(insert_events, (json.dumps(rows),)).rowcount
        else:
            inserted = self._insert_rows(rows, self._sql.events_values)
        if inserted != len(rows):
            raise Conflict("an event of the batch already exists")
        if resources:
            self._conn.execute(insert_resources, (json.dumps(resources),))

    def _insert_rows(self, rows: Sequence[Sequence[Any]], statement: Callable[[int], str]) -> int:
        """Insert rows in statements of schema.INSERT_EVENTS_ROWS rows, the rest in halving sizes (so a few
        statement shapes serve every batch); how many rows went in. In order: seq follows the batch."""
        done = inserted = 0
        size = schema.INSERT_EVENTS_ROWS
        while done < len(rows):
            while size > len(rows) - done:
                size //= 2
            chunk = rows[done : done + size]
            inserted += self._conn.execute(statement(size), [v for row in chunk for v in row]).rowcount
            done += size
        return inserted

    # -- blobs (rolecall.store.blobs): not document writes, so the generation stays -------------------------

    def _blobs(self) -> BlobRows:
        assert self._sql.blobs is not None, "this dialect has no blob statements"
        return BlobRows(lambda: self._conn, self._sql.blobs)

    def hold(self, account: str, kind: str, name: str) -> bool:
        return self._blobs().hold(account, kind, name)

    def put_blob(
        self,
        space: str,
        name: str,
        meta: dict[str, Any],
        chunks: Iterable[bytes],
        *,
        check: BlobCheck | None = None,
    ) -> Blob:
        return self._blobs().put(space, name, meta, chunks, check)

    def compose_blob(
        self,
        space: str,
        name: str,
        meta: dict[str, Any],
        sources: Sequence[Blob],
        *,
        move: bool = False,
        check: BlobCheck | None = None,
    ) -> Blob:
        return self._blobs().compose(space, name, meta, sources, move, check)

    def blob(self, space: str, name: str, *, lock: BlobLock | None = None) -> Blob | None:
        return self._blobs().get(space, name, lock)

    def blobs(self, space: str, *, prefix: str = "", after: str | None = None) -> Iterator[Blob]:
        return self._blobs().list(space, prefix, after)

    def read_blob(self, blob: Blob, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self._blobs().read(blob, start, end)

    def delete_blob(self, space: str, name: str) -> bool:
        return self._blobs().delete(space, name)

    def delete_blobs(self, space: str, *, prefix: str = "") -> int:
        return self._blobs().delete_all(space, prefix)


class ReadOnlyTx(SqlTx):
    """A Tx that only reads (Store.read_transaction)."""

    __slots__ = ()

    def insert(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("read-only transaction")

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("read-only transaction")

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("read-only transaction")

    def append_event(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("read-only transaction")

    def append_events(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("read-only transaction")

    def hold(self, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("read-only transaction")

    def put_blob(self, *args: Any, **kwargs: Any) -> Blob:
        raise RuntimeError("read-only transaction")

    def compose_blob(self, *args: Any, **kwargs: Any) -> Blob:
        raise RuntimeError("read-only transaction")

    def delete_blob(self, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("read-only transaction")

    def delete_blobs(self, *args: Any, **kwargs: Any) -> int:
        raise RuntimeError("read-only transaction")


class SqlStore(Store):
    """What the SQLite and PostgreSQL stores share: per-thread connections kept in `_connections`."""

    _connections: list[Any]
    _connections_lock: threading.Lock
    _local: threading.local
    _closed: bool

    def reset(self) -> None:
        with self.transaction() as tx:
            assert isinstance(tx, SqlTx)
            for statement in schema.RESET:
                tx._conn.execute(statement)
            tx.wrote_documents = True

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
