"""Blob storage: bodies kept in the database as chunked rows, committed with the transaction that writes them.

Two tables (schema version 4):

    blobs        (space, name) -> id, size, meta     what each name holds; name is the UTF-8 bytes
    blob_chunks  (blob, off)   -> data               a body, in chunks of at most CHUNK bytes at offset `off`

Why chunked rows, on PostgreSQL as on SQLite, rather than PostgreSQL's large objects: a chunk row is deleted
with the statement that deletes it, inside the transaction that deletes the object, while a large object must
be unlinked separately and outlives every row that forgets to (an orphan that only vacuumlo finds); rows
follow the table's grants and logical replication, large objects neither; psycopg 3 has no large-object API,
so both would stream through one round trip per chunk anyway; and rows can be re-pointed at another body
(compose_blob with move=True), which lets a multipart upload's parts become the object without copying a
byte. SQLite gets the same tables and the same code, so there is one code path, tested on both.

A write never changes a body: it writes a new one under a fresh id, then (under the name's row lock) points
the name at it and deletes the replaced body's chunks. So:
  * atomic with the metadata: the body, its name and the caller's records commit together; a refused or
    failed write rolls back, leaving no chunk behind;
  * last commit wins: two writers of one name each write their own body; the second to lock the name waits
    for the first to commit, then replaces (and deletes) the first one's body. Readers see one whole body;
  * a reader holding a Blob reads exactly that body, or BlobMissing once a later write or a delete removed it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.store.base import Blob, BlobCheck, BlobLock, BlobMissing

CHUNK = 1024 * 1024  # bytes per chunk row
PAGE = 500  # names per query when listing

Fetch = Callable[[str, tuple[Any, ...]], Any]  # one row of a query, or None


@dataclass(frozen=True, slots=True)
class BlobSql:
    """The blob statements in one backend's dialect."""

    get: str
    get_locked: dict[str, str]  # by BlobLock
    insert: str
    update: str
    delete: str
    delete_space: str
    delete_from: str  # names >= a bound
    delete_range: str  # names in [low, high)
    list_from: str
    list_range: str
    hold: str
    chunk_insert: str
    chunk_first: str
    chunk_at: str
    chunk_delete: str
    chunk_measure: str
    chunk_copy: str
    chunk_move: str
    binary: bool  # ask for binary results (psycopg): a chunk then arrives as its bytes, not as hex text

    @classmethod
    def build(cls, translate: Callable[[str], str], *, row_locks: bool, binary: bool) -> BlobSql:
        """row_locks: the backend has SELECT ... FOR UPDATE (PostgreSQL); SQLite's writers are serialized by
        BEGIN IMMEDIATE, so a plain read there is already as good as a lock."""
        get = "SELECT id, size, meta FROM blobs WHERE space = ? AND name = ?"
        listing = "SELECT name, id, size, meta FROM blobs WHERE space = ? AND name >= ?"
        hold = "SELECT 1 FROM documents WHERE account = ? AND kind = ? AND name_lower = ?"
        # FOR KEY SHARE: blocks deletes (and other FOR UPDATE lockers) but not ordinary updates of the row.
        share, update = (" FOR KEY SHARE", " FOR UPDATE") if row_locks else ("", "")
        statements = {
            "get": get,
            "insert": "INSERT INTO blobs (space, name, id, size, meta, updated) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            "update": "UPDATE blobs SET id = ?, size = ?, meta = ?, updated = ? WHERE space = ? AND name = ?",
            "delete": "DELETE FROM blobs WHERE space = ? AND name = ? RETURNING id",
            "delete_space": "DELETE FROM blobs WHERE space = ? RETURNING id",
            "delete_from": "DELETE FROM blobs WHERE space = ? AND name >= ? RETURNING id",
            "delete_range": "DELETE FROM blobs WHERE space = ? AND name >= ? AND name < ? RETURNING id",
            "list_from": listing + " ORDER BY name LIMIT ?",
            "list_range": listing + " AND name < ? ORDER BY name LIMIT ?",
            "hold": hold + share,
            "chunk_insert": "INSERT INTO blob_chunks (blob, off, data) VALUES (?, ?, ?)",
            "chunk_first": "SELECT off, data FROM blob_chunks WHERE blob = ? AND off <= ? ORDER BY off DESC LIMIT 1",
            "chunk_at": "SELECT data FROM blob_chunks WHERE blob = ? AND off = ?",
            "chunk_delete": "DELETE FROM blob_chunks WHERE blob = ?",
            "chunk_measure": "SELECT count(*), coalesce(sum(length(data)), 0) FROM blob_chunks WHERE blob = ?",
            "chunk_copy": "INSERT INTO blob_chunks (blob, off, data) SELECT ?, off + ?, data FROM blob_chunks "
            "WHERE blob = ?",
            "chunk_move": "UPDATE blob_chunks SET blob = ?, off = off + ? WHERE blob = ?",
        }
        translated = {name: translate(sql) for name, sql in statements.items()}
        locked = {"share": translate(get + share), "update": translate(get + update)}
        return cls(get_locked=locked, binary=binary, **translated)

    def fetcher(self, connection: Callable[[], Any]) -> Fetch:
        """How to fetch a chunk on the connection `connection()` gives at the time of each call."""
        if self.binary:
            return lambda sql, params: connection().execute(sql, params, binary=True).fetchone()
        return lambda sql, params: connection().execute(sql, params).fetchone()


def new_id() -> str:
    return secrets.token_hex(16)


def encode_name(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def decode_name(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass")


def successor(prefix: bytes) -> bytes | None:
    """The least byte string greater than every string starting with `prefix` (None: there is none)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def rechunk(pieces: Iterable[bytes], size: int | None = None) -> Iterator[bytes | memoryview]:
    """`pieces` regrouped into chunks of exactly `size` (default CHUNK) bytes, the last one shorter, copying
    as little as possible: a piece of at least `size` bytes is sliced, not copied."""
    size = size or CHUNK
    pending = bytearray()
    for piece in pieces:
        if not pending and len(piece) >= size:
            view = memoryview(piece)
            while len(view) >= size:
                yield view[:size]
                view = view[size:]
            pending += view
            continue
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


class BlobRows:
    """The blob operations of one transaction, over a DB-API-like connection (see rolecall.store.transaction)."""

    __slots__ = ("_conn", "_sql", "_fetch")

    def __init__(self, connection: Callable[[], Any], sql: BlobSql) -> None:
        self._conn = connection  # looked up at each statement, so a Tx used after its end fails loudly
        self._sql = sql
        self._fetch = sql.fetcher(connection)

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, space: str, name: str, lock: BlobLock | None = None) -> Blob | None:
        sql = self._sql.get if lock is None else self._sql.get_locked[lock]
        row = self._conn().execute(sql, (space, encode_name(name))).fetchone()
        if row is None:
            return None
        return Blob(space, name, row[0], int(row[1]), json.loads(row[2]))

    def list(self, space: str, prefix: str, after: str | None) -> Iterator[Blob]:
        low = encode_name(prefix)
        if after is not None:
            low = max(low, encode_name(after) + b"\x00")  # the least string after `after`
        high = successor(encode_name(prefix))
        page = PAGE
        while True:
            if high is None:
                rows = self._conn().execute(self._sql.list_from, (space, low, page)).fetchall()
            else:
                rows = self._conn().execute(self._sql.list_range, (space, low, high, page)).fetchall()
            for name, blob_id, size, meta in rows:
                yield Blob(space, decode_name(name), blob_id, int(size), json.loads(meta))
            if len(rows) < page:
                return
            low = bytes(rows[-1][0]) + b"\x00"

    def read(self, blob: Blob, start: int, end: int | None) -> Iterator[bytes]:
        stop = blob.size if end is None else min(end, blob.size)
        return read_chunks(self._fetch, self._sql, blob.id, start, stop)

    def hold(self, account: str, kind: str, name: str) -> bool:
        return self._conn().execute(self._sql.hold, (account, kind, name.lower())).fetchone() is not None

    # -- writing -------------------------------------------------------------------------------------------

    def put(
        self, space: str, name: str, meta: dict[str, Any], chunks: Iterable[bytes], check: BlobCheck | None
    ) -> Blob:
        blob_id = new_id()
        size = 0
        for chunk in rechunk(chunks):
            self._conn().execute(self._sql.chunk_insert, (blob_id, size, chunk))
            size += len(chunk)
        return self._bind(Blob(space, name, blob_id, size, meta), check)

    def compose(
        self,
        space: str,
        name: str,
        meta: dict[str, Any],
        sources: Sequence[Blob],
        move: bool,
        check: BlobCheck | None,
    ) -> Blob:
        blob_id = new_id()
        size = 0
        for source in sources:
            count, measured = self._conn().execute(self._sql.chunk_measure, (source.id,)).fetchone()
            if int(measured) != source.size:
                raise BlobMissing(
                    f"{source.space}/{source.name}: {measured} of {source.size} bytes left", source
                )
            statement = self._sql.chunk_move if move else self._sql.chunk_copy
            if self._conn().execute(statement, (blob_id, size, source.id)).rowcount != count:
                raise BlobMissing(f"{source.space}/{source.name} changed while it was being read", source)
            size += source.size
        return self._bind(Blob(space, name, blob_id, size, meta), check)

    def _bind(self, blob: Blob, check: BlobCheck | None) -> Blob:
        """Point blob.space/blob.name at blob.id (whose chunks are written), replacing and deleting what it held."""
        conn, sql = self._conn(), self._sql
        key = encode_name(blob.name)
        meta = json.dumps(blob.meta, separators=(",", ":"))
        while True:
            current = self.get(blob.space, blob.name, lock="update")
            if check is not None:
                check(current)
            if current is not None:
                conn.execute(sql.update, (blob.id, blob.size, meta, time.time(), blob.space, key))
                conn.execute(sql.chunk_delete, (current.id,))
                return blob
            row = (blob.space, key, blob.id, blob.size, meta, time.time())
            if conn.execute(sql.insert, row).rowcount == 1:
                return blob
            # Another transaction inserted the name and committed after our look: lock theirs, replace it.

    def delete(self, space: str, name: str) -> bool:
        return self._drop(self._sql.delete, (space, encode_name(name))) > 0

    def delete_all(self, space: str, prefix: str) -> int:
        if not prefix:
            return self._drop(self._sql.delete_space, (space,))
        low = encode_name(prefix)
        high = successor(low)
        if high is None:
            return self._drop(self._sql.delete_from, (space, low))
        return self._drop(self._sql.delete_range, (space, low, high))

    def _drop(self, statement: str, params: tuple[Any, ...]) -> int:
        """Delete names (RETURNING their bodies' ids), then those bodies: a name is never left without its
        body, nor a body without its name, whatever commits between the two statements."""
        ids = [row[0] for row in self._conn().execute(statement, params).fetchall()]
        for blob_id in ids:
            self._conn().execute(self._sql.chunk_delete, (blob_id,))
        return len(ids)


def read_chunks(fetch: Fetch, sql: BlobSql, blob_id: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of body `blob_id`, a chunk (or the part of one the range wants) at a time."""
    if end <= start:
        return
    row = fetch(sql.chunk_first, (blob_id, start))
    if row is None:
        raise BlobMissing(f"body {blob_id} is gone")
    off, data = int(row[0]), row[1]
    while True:
        if not data or off + len(data) <= start:  # a gap: the chunk holding `start` is missing
            raise BlobMissing(f"body {blob_id} is gone")
        if start == off and off + len(data) <= end:
            yield data
        else:
            yield bytes(memoryview(data)[start - off : end - off])
        off += len(data)
        if off >= end:
            return
        start = off
        row = fetch(sql.chunk_at, (blob_id, off))
        if row is None:
            raise BlobMissing(f"body {blob_id} is gone")
        data = row[0]
