"""The one Store interface. SQLite (default) and PostgreSQL implement it.

The data model is deliberately small: every IAM thing (user, group, role, managed policy, instance
profile, access key, account, ...) is a JSON document of some `kind`, owned by an account, with a
name that is unique case-insensitively within (account, kind) and an optional unique id (AIDA...,
AROA..., AKIA...). Relationships live inside the documents. Every change is made in one transaction;
committing a transaction that changed any document bumps the store's *generation*, which other
processes on the same database read to know their caches are stale.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

GLOBAL = ""  # the "account" of documents that belong to no account (accounts themselves)


class Conflict(Exception):
    """An insert collided with an existing (account, kind, name) or id."""


class Tx(ABC):
    """One database transaction. Obtained from Store.transaction(); never shared between threads."""

    @abstractmethod
    def get(self, account: str, kind: str, name: str) -> dict[str, Any] | None:
        """The document named `name` (case-insensitive), or None."""

    @abstractmethod
    def list(self, account: str, kind: str) -> list[dict[str, Any]]:
        """All documents of a kind in an account, ordered by lower-cased name."""

    @abstractmethod
    def insert(
        self,
        account: str,
        kind: str,
        name: str,
        doc: dict[str, Any],
        uid: str | None = None,
        *,
        invalidates: bool = True,
    ) -> None:
        """Add a document; Conflict if the name (case-insensitive) or the uid is taken.

        invalidates=False: no cache anywhere holds documents of this kind (log events, say), so the write
        need not bump the generation and make every node drop its caches."""

    @abstractmethod
    def update(
        self, account: str, kind: str, name: str, doc: dict[str, Any], *, invalidates: bool = True
    ) -> None:
        """Replace a document; KeyError if it does not exist. invalidates: as for insert."""

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


class Store(ABC):
    kind: str  # "sqlite" | "postgresql"
    location: str  # where the data lives, for humans

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """A transaction: commits when the block exits normally, rolls back on an exception."""

    @abstractmethod
    def read_transaction(self) -> AbstractContextManager[Tx]:
        """A transaction that only reads, on a snapshot, without waiting for writers."""

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
