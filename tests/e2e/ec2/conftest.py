"""A real server for the EC2 end-to-end tests, on each store (in process, so that tests can move its
clock)."""

from __future__ import annotations

import pytest

from tests.servers import InProcessServer, create_pg_database, drop_pg_database, postgres_available


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(tmp_path_factory, request):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = InProcessServer(tmp_path_factory.mktemp("ec2"), database_url=url).start()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)
