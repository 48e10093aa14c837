"""Persistence: one Store interface, SQLite and PostgreSQL behind it."""

from rolecall.store.base import GLOBAL, Blob, BlobMissing, Conflict, Store, Tx

__all__ = ["GLOBAL", "Blob", "BlobMissing", "Conflict", "Store", "Tx", "open_store"]


def open_store(data_dir: str | None = None, database_url: str | None = None) -> Store:
    """PostgreSQL when database_url is given (postgresql://...), else SQLite in data_dir."""
    if database_url:
        from rolecall.store.postgres import PostgresStore

        return PostgresStore(database_url)
    from rolecall.store.sqlite import SqliteStore

    return SqliteStore(data_dir or "./data")
