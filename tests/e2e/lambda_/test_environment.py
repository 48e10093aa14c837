"""A function's environment variables are kept sealed under the master key, as secret access keys are: the
raw store (the SQLite file with its write-ahead log, every row of every PostgreSQL table) never holds a
value, while GetFunction, GetFunctionConfiguration, ListFunctions and the running function see them all."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.lambda_.helpers import create_function, invoke_json, make_role, unique
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

SHOW_VARIABLE = """
import os

def handler(event, context):
    return os.environ.get(event["name"])
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(tmp_path_factory, request):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = Server(tmp_path_factory.mktemp("lambda-env"), database_url=url).start()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


def raw_store(srv: Server) -> str:
    """Everything the store holds, as the bytes on disk or the rows in the database."""
    if srv.database_url is None:
        files = sorted(Path(srv.data_dir).glob("rolecall.db*"))  # the database, its -wal and -shm
        assert any(f.name == "rolecall.db" for f in files), files
        return "".join(f.read_bytes().decode("latin-1") for f in files)
    import psycopg

    with psycopg.connect(srv.database_url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        ]
        assert "documents" in tables, tables
        return "\n".join(
            str(row[0]) for table in tables for row in conn.execute(f'SELECT t::text FROM "{table}" t')
        )


def test_variables_are_sealed_at_rest_and_opened_for_the_api_and_the_function(srv):
    lam = srv.client("lambda")
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    name = unique("fn")
    created = create_function(
        lam,
        make_role(srv)["Arn"],
        SHOW_VARIABLE,
        name=name,
        Timeout=30,
        Environment={"Variables": {"DB_PASSWORD": secret, "STAGE": "prod"}},
    )
    expected = {"Variables": {"DB_PASSWORD": secret, "STAGE": "prod"}}
    assert created["Environment"] == expected
    assert lam.get_function(FunctionName=name)["Configuration"]["Environment"] == expected
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == expected
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert listed[0]["Environment"] == expected
    assert invoke_json(lam, name, {"name": "DB_PASSWORD"})[1] == secret

    store = raw_store(srv)
    assert name in store  # the function is there: the scan reads the right store
    assert secret not in store

    rotated = f"r0tated-{uuid.uuid4().hex}"
    updated = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"DB_PASSWORD": rotated}}
    )
    assert updated["Environment"] == {"Variables": {"DB_PASSWORD": rotated}}
    assert invoke_json(lam, name, {"name": "DB_PASSWORD"})[1] == rotated
    store = raw_store(srv)
    assert rotated not in store and secret not in store


def test_a_function_without_environment_reports_none(srv):
    lam = srv.client("lambda")
    name = create_function(lam, make_role(srv)["Arn"], SHOW_VARIABLE)["FunctionName"]
    assert "Environment" not in lam.get_function_configuration(FunctionName=name)
