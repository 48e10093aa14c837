"""Two `rolecall serve` nodes on one PostgreSQL database, each with a data dir of its own: a function created on
one node runs, downloads and updates on the other, its code fetched from the database into the running node's
local cache; deleting it on one node removes it, and its package, for both."""

from __future__ import annotations

import hashlib

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e import blob_tables
from tests.e2e.lambda_.helpers import ACCOUNT, create_function, invoke_json, make_role, package
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

pytestmark = pytest.mark.postgres

VERSION_1 = """
def handler(event, context):
    return {"version": 1, "got": event}
"""
VERSION_2 = """
def handler(event, context):
    return {"version": 2}
"""


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_pg_database()
    a = Server(tmp_path_factory.mktemp("node-a"), database_url=url, master_key="shared-by-both-nodes")
    b = Server(
        tmp_path_factory.mktemp("node-b"),
        database_url=url,
        access_key=a.access_key,
        secret_key=a.secret_key,
        master_key="shared-by-both-nodes",
    )
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()
        drop_pg_database(url)


def cached(srv: Server, name: str) -> list[str]:
    """The code versions a node has unpacked for a function."""
    folder = srv.data_dir / "cache" / "lambda" / ACCOUNT / "us-east-1" / name
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def test_create_on_one_node_invoke_download_update_delete_on_the_other(nodes):
    a, b = nodes
    role = make_role(a)
    lam_a, lam_b = a.client("lambda"), b.client("lambda")
    name = create_function(lam_a, role["Arn"], VERSION_1)["FunctionName"]
    v1 = hashlib.sha256(package(VERSION_1)).hexdigest()
    assert cached(a, name) == [] and cached(b, name) == []  # nothing unpacked anywhere yet

    response, payload = invoke_json(lam_b, name, {"n": 1})  # B never saw the upload
    assert "FunctionError" not in response and payload == {"version": 1, "got": {"n": 1}}
    assert cached(b, name) == [v1] and cached(a, name) == []
    location = lam_b.get_function(FunctionName=name)["Code"]["Location"]
    assert location.startswith(b.url)
    download = urllib3.PoolManager().request("GET", location)
    assert download.status == 200 and download.data == package(VERSION_1)

    lam_b.update_function_code(FunctionName=name, ZipFile=package(VERSION_2))
    v2 = hashlib.sha256(package(VERSION_2)).hexdigest()
    assert blob_tables.names(a, "lambda:") == [v2]  # the earlier package went with the update
    assert invoke_json(lam_a, name)[1] == {"version": 2}
    assert cached(a, name) == [v2]
    assert invoke_json(lam_b, name)[1] == {"version": 2}
    assert cached(b, name) == [v2]  # B's copy of the earlier code went once it unpacked the new one

    lam_b.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam_a.get_function(FunctionName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert blob_tables.names(a, "lambda:") == [] and blob_tables.chunks(a, "lambda:") == 0
    assert blob_tables.orphans(a) == 0
    assert cached(b, name) == []  # the deleting node drops its copy at once
    gone = urllib3.PoolManager().request("GET", location)  # the URL outlives the function, not its code
    assert gone.status == 404
