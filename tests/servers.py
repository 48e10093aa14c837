"""Real rolecall servers for end-to-end tests: a subprocess on a free port, on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
import urllib3

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def create_pg_database() -> str:
    import psycopg

    name = f"rolecall_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    data_dir: Path
    database_url: str | None = None
    auth: str = "enforce"
    access_key: str = field(default_factory=lambda: "AKIA" + uuid.uuid4().hex[:16].upper())
    secret_key: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex[:8])
    port: int = 0
    proc: subprocess.Popen | None = None
    extra_args: list[str] = field(default_factory=list)
    account: str = "123456789012"
    master_key: str | None = None  # nodes sharing one database must share it
    master_key_env: bool = True  # False: no ROLECALL_MASTER_KEY, so the store keeps a generated key
    env_root: bool = True  # False: let the server generate root credentials and read them from its file
    terminal: bool = False  # True: the server's output goes to a pseudo-terminal, as at an interactive shell

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_ROOT_")}
        if self.env_root:
            env["ROLECALL_ROOT_ACCESS_KEY_ID"] = self.access_key
            env["ROLECALL_ROOT_SECRET_ACCESS_KEY"] = self.secret_key
        env.pop("ROLECALL_MASTER_KEY", None)
        if self.master_key_env:
            env["ROLECALL_MASTER_KEY"] = self.master_key or "test-master-key-" + self.data_dir.name
        return env

    def store_args(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    def start(self) -> Server:
        self.port = self.port or free_port()
        cmd = [
            sys.executable,
            "-m",
            "rolecall",
            "serve",
            "--port",
            str(self.port),
            "--auth",
            self.auth,
            *self.store_args(),
            *self.extra_args,
        ]
        self.log = open(self.data_dir / f"server-{self.port}.log", "w")  # noqa: SIM115
        if self.terminal:
            self.proc = self._start_on_a_terminal(cmd)
        else:
            self.proc = subprocess.Popen(cmd, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        http = urllib3.PoolManager()
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rolecall serve exited: {self.output()}")
            try:
                if (
                    http.request("GET", self.url + "/_rolecall/health", timeout=1, retries=False).status
                    == 200
                ):
                    if not self.env_root:
                        from rolecall.credentials.accounts import read_credentials_file

                        self.access_key, self.secret_key = read_credentials_file(self.data_dir)
                    return self
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"rolecall serve did not start: {self.output()}")

    def _start_on_a_terminal(self, cmd: list[str]) -> subprocess.Popen:
        """Run the server with a pseudo-terminal as its stdout and stderr (as a user at a shell), copying
        what it writes there into the log."""
        import pty
        import threading

        controller, terminal = pty.openpty()
        proc = subprocess.Popen(cmd, env=self.env(), stdout=terminal, stderr=terminal)
        os.close(terminal)

        def copy() -> None:
            while True:
                try:
                    data = os.read(controller, 4096)
                except OSError:  # the server closed the terminal
                    break
                if not data:
                    break
                self.log.write(data.decode("utf-8", "replace").replace("\r\n", "\n"))
                self.log.flush()
            os.close(controller)

        threading.Thread(target=copy, daemon=True).start()
        return proc

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir / f"server-{self.port}.log").read_text()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def session(
        self, key: str | None = None, secret: str | None = None, token: str | None = None
    ) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=key or self.access_key,
            aws_secret_access_key=secret or self.secret_key,
            aws_session_token=token,
            region_name="us-east-1",
        )

    def client(
        self, service: str, key: str | None = None, secret: str | None = None, token: str | None = None
    ):
        cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
        return self.session(key, secret, token).client(service, endpoint_url=self.url, config=cfg)

    def cli(
        self, *args: str, key: str | None = None, secret: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=key or self.access_key,
            AWS_SECRET_ACCESS_KEY=secret or self.secret_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=self.url,
            AWS_PAGER="",
        )
        out = subprocess.run(
            [sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True, timeout=60
        )
        if check and out.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {out.stderr}")
        return out

    def rolecall(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rolecall", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )


class InProcessServer(Server):
    """A rolecall server running in this process on its own thread, with a clock the test moves."""

    def start(self) -> InProcessServer:  # type: ignore[override]
        import argparse
        import threading

        import uvicorn

        from rolecall.app import build_config, build_pipeline, open_configured_store
        from rolecall.clock import FakeClock
        from rolecall.credentials.accounts import ensure_default_account
        from rolecall.server import App

        os.environ.update({k: v for k, v in self.env().items() if k.startswith("ROLECALL_")})
        self.port = self.port or free_port()
        args = argparse.Namespace(
            data_dir=str(self.data_dir),
            database_url=self.database_url,
            auth=self.auth,
            region="us-east-1",
            host="127.0.0.1",
            port=self.port,
            instance_credential_ttl=6 * 3600,
        )
        self.store = open_configured_store(args)
        self.config, _ = build_config(self.store, args)
        ensure_default_account(self.store, self.config.secret_box, self.config.default_account)
        self.clock = FakeClock()
        self.pipeline = build_pipeline(self.store, self.config, clock=self.clock)
        config = uvicorn.Config(
            App(self.pipeline),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            loop="asyncio",
            http="rolecall.server:HttpProtocol",
            proxy_headers=False,  # as `rolecall serve` without --forwarded-allow-ips
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)
        self._thread.start()
        deadline = time.time() + 15
        while not self._uvicorn.started:
            if time.time() > deadline or not self._thread.is_alive():
                raise RuntimeError("in-process rolecall did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:  # type: ignore[override]
        self._uvicorn.should_exit = True
        self._thread.join(15)
        self.store.close()
