"""`rolecall serve` as a user meets it: the banner only once the port is bound, one clear line when it
cannot be, the master-key warning only where it matters; `--version`, `serve --help`, and the README's
options table, which must list every option the parser has."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import socket
import subprocess
import sys

import pytest
import urllib3

from rolecall.cli import build_parser
from rolecall.services import SERVICES
from tests.e2e.scenarios.readme import section
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available


def rolecall(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rolecall", *args],
        env=env if env is not None else os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_prints_no_banner_and_exits_1(tmp_path, workers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = rolecall(
            "serve", "--port", str(port), "--workers", workers, "--data-dir", str(tmp_path / "data")
        )
    assert ran.returncode == 1
    assert ran.stdout == ""  # no "listening", no export lines, no credentials
    assert ran.stderr == f"rolecall: cannot listen on 127.0.0.1:{port}: the address is already in use\n"
    assert not (tmp_path / "data").exists()  # nothing was created for a server that never ran


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_banner_comes_once_the_port_is_bound(tmp_path, workers):
    """--port 0: the banner names the port the kernel picked, and that port already accepts connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLECALL_", "AWS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rolecall", "serve", "--port", "0", "--workers", workers],
        env={**env, "ROLECALL_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not (lines and lines[-1].startswith("  export ROLECALL_DATA_DIR=")):
            line = proc.stdout.readline()
            assert line, f"serve exited: {proc.wait()} {proc.stderr.read()}"
            lines.append(line)
        listening = next(line for line in lines if line.startswith("rolecall listening on "))
        port = int(
            re.fullmatch(r"rolecall listening on http://127\.0\.0\.1:(\d+) \(auth: enforce\)\n", listening)[1]
        )
        assert port != 0
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # bound and listening already
        assert f"  export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\n" in lines
        assert f"  export ROLECALL_DATA_DIR={tmp_path}\n" in lines
        http = urllib3.PoolManager()
        health = http.request(
            "GET", f"http://127.0.0.1:{port}/_rolecall/health", retries=urllib3.Retry(20, backoff_factor=0.1)
        )
        assert health.status == 200 and health.json() == {"status": "running", "store": "sqlite"}
    finally:
        proc.terminate()
        proc.wait(20)


def test_no_master_key_warning_on_sqlite(tmp_path):
    srv = Server(tmp_path, env_root=False, master_key_env=False).start()
    try:
        out = srv.output()
        assert "ROLECALL_MASTER_KEY" not in out
        assert not [line for line in out.splitlines() if line.startswith("warning")]
        assert (tmp_path / "master.key").exists()  # the store did make and keep a key
    finally:
        srv.stop()


@pytest.mark.postgres
def test_postgres_warns_of_the_master_key_and_exports_the_database_without_its_password(tmp_path):
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    url = create_pg_database()
    # Trust authentication ignores the password, so the URL carries one the banner must not show.
    with_password = url.replace("postgres@", "postgres:not-to-be-shown@")
    srv = Server(tmp_path, database_url=with_password, master_key_env=False)
    try:
        srv.start()
        out = srv.output()
        assert "not-to-be-shown" not in out
        assert "warning: no ROLECALL_MASTER_KEY set" in out
        assert f"  export ROLECALL_DATA_DIR={tmp_path} ROLECALL_DATABASE_URL={url}\n" in out
        assert "PGPASSWORD" in out
        again = Server(tmp_path, database_url=url, access_key=srv.access_key, secret_key=srv.secret_key)
        srv.stop()
        again.start()  # with ROLECALL_MASTER_KEY set: nothing to warn about
        assert "ROLECALL_MASTER_KEY" not in again.output()
        again.stop()
    finally:
        srv.stop()
        drop_pg_database(url)


def test_version_is_the_package_version():
    ran = rolecall("--version")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"rolecall {importlib.metadata.version('rolecall')}\n"


def test_serve_help_names_every_service_of_the_registry():
    ran = rolecall("serve", "--help")
    assert ran.returncode == 0, ran.stderr
    # argparse wraps lines after a hyphen too ("access-" / "analyzer"): join those back.
    text = re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(ran.stdout.split()))
    named = re.search(r"Serve (.*?) on one endpoint", text)[1]
    assert re.split(r", | and ", named) == list(SERVICES)
    top = re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(rolecall("--help").stdout.split()))
    assert all(name in top.split("serve", 1)[1] for name in SERVICES)


def serve_options() -> set[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = sub.choices["serve"]
    return {o for a in serve._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def readme_table_options() -> set[str]:
    rows = [line for line in section("### Options").splitlines() if line.startswith("| `")]
    return {opt for row in rows for opt in re.findall(r"`(--[a-z0-9-]+)", row.split("|")[1])}


def test_the_readme_options_table_lists_every_serve_option():
    assert "--threads" in serve_options()  # the parser is read, not a copy of the table
    assert readme_table_options() == serve_options()


def test_health_is_documented_as_served(server):
    answer = urllib3.PoolManager().request("GET", server.url + "/_rolecall/health")
    documented = re.search(r"`GET /_rolecall/health` answers `200 (\{.*?\})`", section("## Using it"))
    assert documented is not None
    assert answer.status == 200 and answer.data.decode() == documented[1]
