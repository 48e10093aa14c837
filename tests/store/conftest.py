"""Store fixtures: every test runs against SQLite and PostgreSQL.

SQLite gets a fresh data dir per test. PostgreSQL gets one database per test session
(rolecall_test_<random>, dropped at the end) and a fresh schema per test, selected through the URL's
search_path, so tests stay independent without paying for CREATE DATABASE each time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest

from rolecall.store import Store, open_store
from tests.servers import create_pg_database, drop_pg_database, postgres_available


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@dataclass
class Backend:
    """Where one test's data lives, and a way to open as many Store instances on it as the test wants."""

    name: str  # "sqlite" | "postgres"
    data_dir: str | None = None
    database_url: str | None = None
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = open_store(data_dir=self.data_dir, database_url=self.database_url)
        self.opened.append(store)
        return store

    def raw(self) -> psycopg.Connection:
        """A plain PostgreSQL connection on this test's schema."""
        assert self.database_url
        return psycopg.connect(self.database_url, autocommit=True)


def pg_schema_url(database_url: str, schema: str) -> str:
    return f"{database_url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_backend(tmp_path, monkeypatch) -> Iterator[Backend]:
    monkeypatch.delenv("ROLECALL_MASTER_KEY", raising=False)
    b = Backend("sqlite", data_dir=str(tmp_path / "data"))
    yield b
    for store in b.opened:
        store.close()


@pytest.fixture
def pg_backend(pg_database, tmp_path, monkeypatch) -> Iterator[Backend]:
    monkeypatch.delenv("ROLECALL_MASTER_KEY", raising=False)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    b = Backend("postgres", data_dir=str(tmp_path / "data"), database_url=pg_schema_url(pg_database, schema))
    yield b
    for store in b.opened:
        store.close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_backend(request) -> Backend:
    return request.getfixturevalue("sqlite_backend" if request.param == "sqlite" else "pg_backend")


@pytest.fixture
def store(store_backend: Backend) -> Store:
    return store_backend.open()


@pytest.fixture
def open_second(store_backend: Backend) -> Callable[[], Store]:
    return store_backend.open
