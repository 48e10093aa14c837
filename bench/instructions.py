"""Instructions per signed request, counted by callgrind: `rolecall serve` against the bare ASGI app under the
same uvicorn, uvloop and httptools, in the same run; with --in-process, rolecall's ASGI app without a socket.

    apt-get install valgrind                       # callgrind and callgrind_control
    python bench/instructions.py                   # GetRole and GetCallerIdentity, 400 requests each (~3 min)
    python bench/instructions.py --in-process      # also the app in-process (one more process per operation)

Time per request moves by +-20% from run to run on a shared 2-core machine; the instructions a request
executes do not depend on what else runs, so a change of a percent shows. They are not time: a cache miss
costs many cycles and no instruction, and the kernel's share (the socket) is not counted at all.

Each server runs under `valgrind --tool=callgrind` (its trail writer process outside it). The script sets up
server_requests.py's workload on rolecall as root, signs `--requests` requests per operation, and for each
operation sends them one at a time on a kept-alive connection, zeroes the counters (`callgrind_control -z`),
sends them again and dumps the counters (`callgrind_control -d`): the dump's total over the requests is the
figure. The bare app answers the very same requests. In-process, the app (rolecall.server.App, driven as
pipeline_stages.py drives it) runs in a process of its own under callgrind, counted the same way.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import urllib3
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.server_requests import OPERATIONS, SignedRequest, create_workload, signed_requests  # noqa: E402
from tests.servers import free_port  # noqa: E402

ROOT = ("AKIAROLECALLINSTRS01", "rolecall-instructions-root-secret-000000")


class Counted:
    """A server under callgrind on a free port; `count(requests)` is its instructions per request."""

    def __init__(self, name: str, command: list[str], workdir: Path, env: dict[str, str]):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = workdir / f"callgrind.{name}"
        grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", "--trace-children=no"]
        command = [c.replace("{port}", str(self.port)) for c in command]
        self.log = open(workdir / f"{name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            grind + command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO
        )
        http = urllib3.PoolManager()
        deadline = time.monotonic() + 600  # a Python server starts ~50x slower under callgrind
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} exited under callgrind; see {self.log.name}")
            try:
                http.request("GET", self.url + "/_rolecall/health", timeout=5, retries=False)
                return
            except Exception:
                time.sleep(1)
        raise SystemExit(f"{name} did not start under callgrind in 600 s")

    def count(self, requests: list[SignedRequest]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        send = lambda: [self._send(conn, r) for r in requests]  # noqa: E731
        send()  # warm: first uses compile and cache
        before = set(glob.glob(f"{self.out}.*"))
        subprocess.run(["callgrind_control", "-z", str(self.proc.pid)], check=True, capture_output=True)
        send()
        subprocess.run(["callgrind_control", "-d", str(self.proc.pid)], check=True, capture_output=True)
        conn.close()
        (dump,) = set(glob.glob(f"{self.out}.*")) - before
        return total(Path(dump)) // len(requests)

    @staticmethod
    def _send(conn: http.client.HTTPConnection, r: SignedRequest) -> None:
        conn.request(r.method, r.path, body=r.body, headers=dict(r.headers))
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise SystemExit(f"{r.method} {r.path}: HTTP {answer.status}: {body[:300]!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)
        self.log.close()


def total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dump}")


def in_process(operation: str, requests: int, workdir: Path) -> int:
    """The ASGI app's instructions per request without a socket: a process of its own under callgrind, its
    counters zeroed after the warm-up and dumped after the counted requests."""
    out = workdir / f"callgrind.app.{operation}"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--trace-children=no"]
        + [sys.executable, __file__, "--drive-app", operation, str(requests)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def step(command: str) -> None:  # wait for the driver to be between steps, then tell callgrind
        if proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit(f"the in-process driver for {operation} failed")
        subprocess.run(["callgrind_control", command, str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    before = set(glob.glob(f"{out}.*"))
    step("-z")  # after the warm-up
    step("-d")  # after the counted requests
    proc.wait(600)
    (dump,) = set(glob.glob(f"{out}.*")) - before
    return total(Path(dump)) // requests


def drive_app(operation: str, n: int) -> None:
    """(In the process callgrind counts) pipeline_stages.py's in-process pipeline and app, `n` requests through
    the app between two "ready" lines (the parent zeroes the counters at the first and dumps them at the second)."""
    from bench.pipeline_stages import ENDPOINT, ROOT_KEY, asgi_scope, time_app, to_http, workload_pipeline
    from rolecall.server import App

    os.environ["ROLECALL_ROOT_ACCESS_KEY_ID"], os.environ["ROLECALL_ROOT_SECRET_ACCESS_KEY"] = ROOT_KEY
    os.environ.setdefault("ROLECALL_MASTER_KEY", "rolecall-bench-master-key")
    with workload_pipeline(None) as (pipeline, _, workload):
        app = App(pipeline)
        op = next(o for o in OPERATIONS if o.name == operation)
        signed = signed_requests(ENDPOINT, workload.user_key, op, 100)
        reqs = [to_http(s.method, s.path, s.headers, s.body) for s in signed]
        scopes = [(asgi_scope(r), r.body) for r in reqs]
        time_app(app, scopes, 200)  # warm: first uses compile and cache
        print("ready", flush=True)
        sys.stdin.readline()
        time_app(app, scopes, n)
        print("ready", flush=True)
        sys.stdin.readline()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="counted requests per operation")
    parser.add_argument("--in-process", action="store_true", help="also count the ASGI app without a socket")
    parser.add_argument("--drive-app", nargs=2, metavar=("OPERATION", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive_app:
        drive_app(args.drive_app[0], int(args.drive_app[1]))
        return 0
    if subprocess.run(["which", "callgrind_control"], capture_output=True).returncode != 0:
        raise SystemExit("callgrind is missing: apt-get install valgrind")
    env = dict(os.environ, ROLECALL_ROOT_ACCESS_KEY_ID=ROOT[0], ROLECALL_ROOT_SECRET_ACCESS_KEY=ROOT[1])
    env["ROLECALL_MASTER_KEY"] = "rolecall-instructions-master-key"
    with tempfile.TemporaryDirectory(prefix="rolecall-instructions-") as tmp:
        workdir = Path(tmp)
        rolecall = Counted(
            "rolecall",
            [
                sys.executable,
                "-m",
                "rolecall",
                "serve",
                "--port",
                "{port}",
                "--data-dir",
                str(workdir / "data"),
            ],
            workdir,
            env,
        )
        bare = Counted(
            "bare",
            [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", "{port}", "--http", "httptools"]
            + ["--loop", "uvloop", "--no-access-log", "--log-level", "warning"],
            workdir,
            env,
        )
        try:
            workload = create_workload(rolecall.url, Credentials(*ROOT))
            rows = []
            for op in OPERATIONS:
                requests = signed_requests(rolecall.url, workload.user_key, op, args.requests)
                ours, floor = rolecall.count(requests), bare.count(requests)
                app = in_process(op.name, args.requests, workdir) if args.in_process else None
                rows.append((op.name, ours, floor, app))
        finally:
            rolecall.stop()
            bare.stop()
    print(f"{'operation':18} {'rolecall serve':>15} {'bare app':>10} {'ratio':>7} {'app in-process':>15}")
    for name, ours, floor, app in rows:
        shown = f"{app:15,}" if app is not None else f"{'':15}"
        print(f"{name:18} {ours:15,} {floor:10,} {ours / floor:6.2f}x {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
