"""Reads that cost no SQL when nothing changed: documents cached per store generation, read transactions
that open their snapshot only when the cache cannot answer, and (SQLite) the generation itself announced
through a shared memory-mapped file instead of a query.

Every committed document write bumps the store's generation (rolecall.store.base), but those of the
volatile kinds (rolecall.store.volatile), which this cache never holds. A cache filled at
generation g holds exactly what a snapshot at g reads, so it answers any read transaction that starts
at g; the first read transaction at another generation starts a new cache. An entry goes in only when
the snapshot it was read from is at the cache's generation, so an entry never mixes states.
"""

from __future__ import annotations

import json
import marshal
import mmap
import os
import struct
from collections.abc import Callable
from typing import Any

from rolecall.store.transaction import ENDED, Dialect, ReadOnlyTx
from rolecall.store.volatile import is_volatile

# Entries one generation's cache holds before it starts over: bounds memory for a store of any size.
MAX_ENTRIES = 50_000

_MISSING = object()
_GENERATION = struct.Struct("<q")


class GenerationFile:
    """The SQLite store's generation, announced to every process on the data dir through 8 bytes of a
    shared memory-mapped file (DATA_DIR/rolecall.generation).

    A process that commits a document write stores the generation it committed into the file, after the
    COMMIT and before its request is answered. A reader compares the file's bytes with what they were
    when it last read the generation from the database: unchanged, the database's generation is what it
    read then, because whichever commit moved it to a later value writes that value (never the one the
    reader saw, which belongs to an earlier commit) once it has committed. Changed, it reads the database
    again. So generation() costs a memory read, and a query only after another commit.
    """

    def __init__(self, path: str):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _GENERATION.size:
                os.ftruncate(fd, _GENERATION.size)  # zeros; several processes doing this at once is harmless
            self._map = mmap.mmap(fd, _GENERATION.size)
        finally:
            os.close(fd)
        # (the file's value, the database's generation read after it): one tuple, replaced whole, so a thread
        # never pairs one reading's signal with another's generation
        self._state = (-1, -1)

    def current(self, read_database: Callable[[], int]) -> int:
        signal = _GENERATION.unpack_from(self._map)[0]
        seen, known = self._state
        if signal == seen:
            return known
        # Read after the signal: a commit that lands in between changes the file again, so it is not missed.
        known = read_database()
        self._state = (signal, known)
        return known

    def announce(self, generation: int) -> None:
        """Called after the COMMIT that made `generation`."""
        _GENERATION.pack_into(self._map, 0, generation)

    def close(self) -> None:
        try:
            self._map.close()
        except (BufferError, ValueError):
            pass


class DocCache:
    """Documents at one generation, parsed once (the answers of get/find/by_uid), for every thread. Each read
    hands out its own copy (_thaw), so a caller that changes what it got changes nothing cached."""

    __slots__ = ("generation", "entries")

    def __init__(self, generation: int):
        self.generation = generation
        self.entries: dict[tuple[Any, ...], Any] = {}

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = value


class LazySnapshot:
    """Stands in for the connection of a read transaction: the snapshot (BEGIN and the generation it sees)
    is taken at the first statement, so a request the cache answers whole never touches the database."""

    __slots__ = ("_conn", "_begin", "generation", "open")

    def __init__(self, conn: Any, begin: Callable[[Any], int]):
        self._conn = conn
        self._begin = begin  # starts the snapshot on conn; returns the generation it sees
        self.generation = -1
        self.open = False

    def _start(self) -> Any:
        if not self.open:
            self.generation = self._begin(self._conn)
            self.open = True
        return self._conn

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._start().execute(*args, **kwargs)

    def cursor(self) -> Any:
        return self._start().cursor()


class CachedReadTx(ReadOnlyTx):
    """A read-only Tx that answers from the generation's DocCache and reads (lazily) what it lacks."""

    __slots__ = ("_cache", "_snapshot")

    def __init__(self, snapshot: LazySnapshot, dialect: Dialect, cache: DocCache):
        super().__init__(snapshot, dialect)
        self._snapshot = snapshot
        self._cache = cache

    def end(self) -> None:
        super().end()
        self._snapshot = ENDED  # type: ignore[assignment]

    def _fill(self, key: tuple[Any, ...], value: Any) -> None:
        if self._snapshot.generation == self._cache.generation:
            self._cache.put(key, value)

    def get(self, account: str, kind: str, name: str) -> dict[str, Any] | None:
        if is_volatile(kind):  # its writes leave the generation alone: always read
            return super().get(account, kind, name)
        key = ("get", account, kind, name.lower())
        doc = self._cache.entries.get(key, _MISSING)
        if doc is _MISSING:
            row = self._snapshot.execute(self._sql.get, key[1:]).fetchone()
            doc = None if row is None else _frozen(row[0])
            self._fill(key, doc)
        return None if doc is None else _thaw(doc)

    def find(self, kind: str, name: str) -> tuple[str, dict[str, Any]] | None:
        if is_volatile(kind):
            return super().find(kind, name)
        key = ("find", kind, name.lower())
        row = self._cache.entries.get(key, _MISSING)
        if row is _MISSING:
            found = self._snapshot.execute(self._sql.find, key[1:]).fetchone()
            row = None if found is None else (found[0], _frozen(found[1]))
            self._fill(key, row)
        return None if row is None else (row[0], _thaw(row[1]))

    def by_uid(self, uid: str) -> tuple[str, str, dict[str, Any]] | None:
        key = ("uid", uid)
        row = self._cache.entries.get(key, _MISSING)
        if row is _MISSING:
            found = self._snapshot.execute(self._sql.by_uid, (uid,)).fetchone()
            if found is not None and is_volatile(found[1]):
                return (found[0], found[1], json.loads(found[2]))
            row = None if found is None else (found[0], found[1], _frozen(found[2]))
            self._fill(key, row)
        return None if row is None else (row[0], row[1], _thaw(row[2]))


def _frozen(text: str) -> bytes:
    """A document's stored text as it is kept in the cache: parsed once, in marshal's form, which hands each
    reader a fresh copy (marshal.loads) several times faster than json.loads, and than copying the parsed
    object in Python or with copy.deepcopy. JSON's values (dict, list, str, int, float, bool, None) are all
    marshal's, and dicts keep their order."""
    return marshal.dumps(json.loads(text))


_thaw = marshal.loads
