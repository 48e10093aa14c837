"""The one Store interface. SQLite (default) and PostgreSQL implement it.

The data model is deliberately small: every IAM thing (user, group, role, managed policy, instance
profile, access key, account, ...) is a JSON document of some `kind`, owned by an account, with a
name that is unique case-insensitively within (account, kind) and an optional unique id (AIDA...,
AROA..., AKIA...). Relationships live inside the documents. Every change is made in one transaction;
committing a transaction that changed any document (but those of the volatile kinds,
rolecall.store.volatile) bumps the store's *generation*, which other processes on the same database read
to know their caches are stale.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

GLOBAL = ""  # the "account" of documents that belong to no account (accounts themselves)


class Conflict(Exception):
    """An insert collided with an existing (account, kind, name) or id."""


class BlobMissing(Exception):
    """A body's bytes are not all there: it was replaced or deleted since its Blob was read."""

    def __init__(self, message: str, blob: Blob | None = None) -> None:
        super().__init__(message)
        self.blob = blob  # the Blob that is not whole, when known


@dataclass(frozen=True)
class Blob:
    """What a name holds in the blob storage: a body (`size` bytes, stored in chunks under `id`) and the
    owner's description of it (`meta`, a JSON object).

    Names live in spaces ("s3:<bucket id>", ...) and are case-sensitive, ordered by their UTF-8 bytes. Every
    write makes a body with a new id and then points the name at it, so a body never changes once written:
    whoever holds a Blob reads exactly its bytes, or BlobMissing once it has been replaced or deleted.
    """

    space: str
    name: str
    id: str
    size: int
    meta: dict[str, Any] = field(default_factory=dict)


# Blob row locks (PostgreSQL; SQLite's single writer needs none): "share" keeps the name from being deleted
# until this transaction ends, concurrent sharers allowed; "update" excludes every other locker and writer.
BlobLock = Literal["share", "update"]
# Called with what a name holds (None: nothing) under the write's row lock, just before the write replaces
# it; raising refuses the write (and the transaction's exception rolls its chunks back).
BlobCheck = Callable[[Blob | None], None]


class Tx(ABC):
    """One database transaction. Obtained from Store.transaction(); never shared between threads."""

    @abstractmethod
    def get(self, account: str, kind: str, name: str) -> dict[str, Any] | None:
        """The document named `name` (case-insensitive), or None."""

    @abstractmethod
    def list(self, account: str, kind: str) -> list[dict[str, Any]]:
        """All documents of a kind in an account, ordered by lower-cased name."""

    @abstractmethod
    def list_page(self, account: str, kind: str, after: str | None, limit: int) -> Sequence[dict[str, Any]]:
        """Up to `limit` documents of a kind whose lower-cased name sorts after `after` (None: from the
        start), in list()'s order: one page, read without the rest (keyset pagination)."""

    @abstractmethod
    def insert(
        self,
        account: str,
        kind: str,
        name: str,
        doc: dict[str, Any],
        uid: str | None = None,
    ) -> None:
        """Add a document; Conflict if the name (case-insensitive) or the uid is taken.

        Every document write bumps the store's generation: the read cache (rolecall.store.readcache) holds
        documents per generation, so a write that left the generation alone would stay unseen by reads.
        The exception is the volatile kinds (rolecall.store.volatile: DynamoDB items, log events, metrics),
        which the read cache never holds and no cache depends on."""

    @abstractmethod
    def update(self, account: str, kind: str, name: str, doc: dict[str, Any]) -> None:
        """Replace a document; KeyError if it does not exist. Bumps the generation, as insert does (volatile
        kinds excepted)."""

    @abstractmethod
    def delete(self, account: str, kind: str, name: str) -> bool:
        """Remove a document; True if it existed."""

    @abstractmethod
    def find(self, kind: str, name: str) -> tuple[str, dict[str, Any]] | None:
        """(account, document) for a name of a kind in any account, e.g. an access key by its id."""

    @abstractmethod
    def by_uid(self, uid: str) -> tuple[str, str, dict[str, Any]] | None:
        """(account, kind, document) for a unique id such as AROA..., or None."""

    @abstractmethod
    def append_event(self, account: str, record: dict[str, Any]) -> None:
        """Add one CloudTrail record (see rolecall.audit.records), committed with this transaction."""

    def append_events(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Add a batch of (account, record), as append_event does for each."""
        for account, record in items:
            self.append_event(account, record)

    # -- blobs: bodies too large for a document (S3 objects, Lambda packages), committed with the transaction

    @abstractmethod
    def hold(self, account: str, kind: str, name: str) -> bool:
        """Keep a document from being deleted until this transaction ends (writes that belong to it, such as a
        bucket's objects, then cannot outlive it); False if it does not exist."""

    @abstractmethod
    def put_blob(
        self,
        space: str,
        name: str,
        meta: dict[str, Any],
        chunks: Iterable[bytes],
        *,
        check: BlobCheck | None = None,
    ) -> Blob:
        """Store the body `chunks` make up (written as they come, never held whole) under space/name,
        replacing what the name held: the replaced body's chunks go in the same transaction."""

    @abstractmethod
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
        """Store the concatenation of `sources`' bodies under space/name, without their bytes passing through
        this process: copied inside the database, or with move=True taken over (the sources' bodies are then
        empty and their names should be deleted). BlobMissing if a source is no longer whole."""

    @abstractmethod
    def blob(self, space: str, name: str, *, lock: BlobLock | None = None) -> Blob | None:
        """What space/name holds, or None."""

    @abstractmethod
    def blobs(self, space: str, *, prefix: str = "", after: str | None = None) -> Iterator[Blob]:
        """The names of a space that start with `prefix` and sort after `after`, in the order of their UTF-8
        bytes, read a page at a time as the iterator is consumed (within this transaction)."""

    @abstractmethod
    def read_blob(self, blob: Blob, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of a body, a chunk at a time; BlobMissing if it is gone."""

    @abstractmethod
    def delete_blob(self, space: str, name: str) -> bool:
        """Remove a name and its body; True if it existed."""

    @abstractmethod
    def delete_blobs(self, space: str, *, prefix: str = "") -> int:
        """Remove every name of a space that starts with `prefix`, and their bodies; how many there were."""


class Store(ABC):
    kind: str  # "sqlite" | "postgresql"
    location: str  # where the data lives, for humans

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """A transaction: commits when the block exits normally, rolls back on an exception."""

    @abstractmethod
    def read_transaction(self, generation: int | None = None) -> AbstractContextManager[Tx]:
        """A transaction that only reads, on a consistent state, without waiting for writers. Documents come
        from a cache of the generation (`generation`, when the caller has just read it, else the store's
        current one) where they can: a read that finds everything there issues no SQL."""

    @abstractmethod
    def generation(self) -> int:
        """A number that grows whenever a committed transaction changed documents."""

    @abstractmethod
    def master_key(self) -> tuple[bytes, bool]:
        """(key, generated): the 32-byte key that seals secrets at rest. From ROLECALL_MASTER_KEY when set;
        otherwise created on first use and kept with the store (a file for SQLite, a row for PostgreSQL)."""

    @abstractmethod
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
        """CloudTrail records of an account, newest first, filtered by one LookupAttribute
        (EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId)."""

    @abstractmethod
    def events_by_request_id(self, request_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(account, record) of every CloudTrail record of one request, by its requestID, oldest first:
        the caller's account's, and the copy each other account whose resource it touched received."""

    @abstractmethod
    def blob_stream(self, blob_id: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of a body, read a chunk at a time outside any transaction, on whichever thread
        advances the iterator: for sending a large body after its request's transaction has ended. Raises
        BlobMissing part-way if the body is replaced or deleted meanwhile (never yields another body's bytes)."""

    @abstractmethod
    def reset(self) -> None:
        """Remove everything (for `--auth off`'s POST /moto-api/reset)."""

    @abstractmethod
    def close(self) -> None: ...

    def events(self, account: str) -> Iterator[dict[str, Any]]:
        """Every record of an account, newest first (convenience for tests and tools)."""
        token = None
        while True:
            page, token = self.lookup_events(account, max_results=50, next_token=token)
            yield from page
            if not token:
                return
