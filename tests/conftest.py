from __future__ import annotations

import pytest

from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """A running rolecall on SQLite; modules that want PostgreSQL too use `any_server`."""
    srv = Server(tmp_path_factory.mktemp("rolecall")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_server(tmp_path_factory, request):
    """A running rolecall on each store."""
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    srv = Server(tmp_path_factory.mktemp("rolecall"), database_url=url).start()
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)
