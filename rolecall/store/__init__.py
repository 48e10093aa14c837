"""Persistence: one Store interface, SQLite and PostgreSQL behind it."""

from rolecall.store.base import GLOBAL, Blob, BlobMissing, Conflict, Store, Tx

__all__ = ["GLOBAL", "Blob", "BlobMissing", "Conflict", "Store", "Tx", "open_store"]


def open_store(
    data_dir: str | None = None, database_url: str | None = None, *, relaxed_commits: bool = False
) -> Store:
    """PostgreSQL when database_url is given (postgresql://...), else SQLite in data_dir. relaxed_commits:
    commits not synced to disk before they return (the trail writer process's own store)."""
    if database_url:
        from rolecall.store.postgres import PostgresStore

        return PostgresStore(database_url, relaxed_commits=relaxed_commits)
    from rolecall.store.sqlite import SqliteStore

    return SqliteStore(data_dir or "./data", relaxed_commits=relaxed_commits)
