"""Upgrading a data dir whose Lambda packages a previous rolecall kept as files: at start the package each
function runs moves into the store, and the function runs and downloads as before."""

from __future__ import annotations

import hashlib

import pytest
import urllib3

from tests.e2e import blob_tables
from tests.e2e.lambda_.helpers import ACCOUNT, create_function, invoke_json, make_role, package
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

SOURCE = """
def handler(event, context):
    return {"from": "the old data dir", "got": event}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def srv(request, tmp_path):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = Server(tmp_path / "data", database_url=url)
    s.data_dir.mkdir()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


def test_packages_on_disk_move_into_the_store(srv):
    srv.start()
    role = make_role(srv)
    name = create_function(srv.client("lambda"), role["Arn"], SOURCE)["FunctionName"]
    srv.stop()
    blob_tables.as_previous_version(srv)  # the packages are now only where the previous version kept them
    data = package(SOURCE)
    sha = hashlib.sha256(data).hexdigest()
    folder = srv.data_dir / "lambda" / ACCOUNT / "us-east-1" / name
    (folder / sha).mkdir(parents=True)
    (folder / f"{sha}.zip").write_bytes(data)
    (folder / sha / "app.py").write_text(SOURCE)  # the unpacked tree beside it
    (folder / f"{'0' * 64}.zip").write_bytes(b"an earlier version's package")
    gone = srv.data_dir / "lambda" / ACCOUNT / "us-east-1" / "deleted-long-ago"
    gone.mkdir()
    (gone / f"{'1' * 64}.zip").write_bytes(b"the package of a deleted function")

    srv.start()
    lam = srv.client("lambda")
    response, payload = invoke_json(lam, name, {"n": 1})
    assert "FunctionError" not in response and payload == {"from": "the old data dir", "got": {"n": 1}}
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    download = urllib3.PoolManager().request("GET", location)
    assert download.status == 200 and download.data == data
    assert not (srv.data_dir / "lambda").exists()
    assert blob_tables.names(srv, "lambda:") == [sha]
    assert "moved 1 Lambda function packages" in srv.output()
