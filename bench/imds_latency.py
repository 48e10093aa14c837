"""Instance metadata round trips on a kept-alive connection: rolecall's event-loop endpoint against the
thread-per-instance server it replaced and against a bare asyncio server, in the same run.

    python bench/imds_latency.py [--rounds 200] [--repeat 3]

One in-process rolecall (SQLite in a temporary directory, no API server) launches one instance with a role.
Three servers then answer that instance's metadata requests:

- loop:     rolecall's endpoint as it now is (rolecall.services.ec2.imds.server: one asyncio loop, a few
            worker threads, TCP_NODELAY, each response written in one piece).
- threaded: the transport rolecall had before, rebuilt here: http.server's ThreadingHTTPServer with an
            HTTP/1.1 BaseHTTPRequestHandler that writes the headers and then the body, Nagle left on.
            It calls the same ImdsManager.respond, so only the transport differs.
- bare:     a minimal asyncio server that answers every request with a fixed 200 and does no work: the
            floor that parsing and the loopback cost.

A client keeps one HTTP/1.1 connection per server (http.client) and times `--rounds` pairs of requests,
PUT /latest/api/token then GET the role's credentials, reporting the median and 95th percentile per request.
It then times botocore's own credential fetch (InstanceMetadataFetcher.retrieve_iam_role_credentials: a
token PUT, the role listing and the credentials, on one pooled connection) against loop and threaded.
Servers take turns round by round, and with --repeat each keeps its best run, so a burst of load from other
processes does not land on one of them alone.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Run from a checkout without installing: `python bench/imds_latency.py`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.utils import InstanceMetadataFetcher  # noqa: E402

from rolecall.app import build_pipeline  # noqa: E402
from rolecall.authn import root_caller  # noqa: E402
from rolecall.core.config import ServerConfig  # noqa: E402
from rolecall.credentials.accounts import ensure_default_account  # noqa: E402
from rolecall.credentials.secretbox import SecretBox  # noqa: E402
from rolecall.services.ec2.imds.endpoint import ImdsManager  # noqa: E402
from rolecall.store import open_store  # noqa: E402

ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


# -- the transport rolecall had before ---------------------------------------------------------------------


def threaded_server(manager: ImdsManager, instance_id: str) -> ThreadingHTTPServer:
    """rolecall's former per-instance listener: a ThreadingHTTPServer whose HTTP/1.1 handler sends the
    headers (one write, at end_headers) and then the body (a second write), on a socket without TCP_NODELAY."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "EC2ws"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 65536))
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = manager.respond(ACCOUNT, instance_id, self.command, self.path, headers)
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_PUT = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


# -- the floor -------------------------------------------------------------------------------------------------


def bare_server() -> tuple[int, Callable[[], None]]:
    """An asyncio server answering every request with a fixed 200 (reads headers and a Content-Length body)."""
    body = b'{"Code" : "Success"}'
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    loop = asyncio.new_event_loop()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":", 1)[1]))
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(serve, "127.0.0.1", 0))
    threading.Thread(target=loop.run_forever, daemon=True).start()
    port = server.sockets[0].getsockname()[1]

    def stop() -> None:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)

    return port, stop


# -- measuring -------------------------------------------------------------------------------------------------


def round_trips(port: int, role: str, rounds: int) -> list[float]:
    """Seconds per request, PUT token then GET credentials, `rounds` times on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times: list[float] = []
    try:
        for _ in range(rounds + 5):  # the first few open the connection and warm up
            start = time.perf_counter()
            conn.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
            answer = conn.getresponse()
            token = answer.read().decode()
            middle = time.perf_counter()
            conn.request(
                "GET",
                f"/latest/meta-data/iam/security-credentials/{role}",
                headers={"X-aws-ec2-metadata-token": token},
            )
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"port {port} answered {answer.status}")
            times += [middle - start, time.perf_counter() - middle]
    finally:
        conn.close()
    return times[10:]


def botocore_fetch(port: int) -> float:
    fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=1, base_url=f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    creds = fetcher.retrieve_iam_role_credentials()
    elapsed = time.perf_counter() - start
    if not creds.get("access_key"):
        raise SystemExit(f"botocore found no credentials on port {port}")
    return elapsed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200, help="token + credentials pairs per run")
    parser.add_argument("--fetches", type=int, default=20, help="botocore credential fetches per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server; the best is kept")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        store = open_store(data_dir=data)
        config = ServerConfig(secret_box=SecretBox(os.urandom(32)), token_box=SecretBox(os.urandom(32)))
        ensure_default_account(store, config.secret_box, ACCOUNT)
        pipeline = build_pipeline(store, config)
        root = root_caller(ACCOUNT, None)
        pipeline.invoke(
            root, "iam", "CreateRole", {"RoleName": "bench", "AssumeRolePolicyDocument": json.dumps(TRUST)}
        )
        pipeline.invoke(root, "iam", "CreateInstanceProfile", {"InstanceProfileName": "bench"})
        pipeline.invoke(
            root, "iam", "AddRoleToInstanceProfile", {"InstanceProfileName": "bench", "RoleName": "bench"}
        )
        instance = pipeline.invoke(
            root,
            "ec2",
            "RunInstances",
            {
                "ImageId": "ami-0123456789abcdef0",
                "MinCount": 1,
                "MaxCount": 1,
                "IamInstanceProfile": {"Name": "bench"},
            },
        )["Instances"][0]
        manager = pipeline.services["ec2"].imds  # type: ignore[attr-defined]
        iid = instance["InstanceId"]
        old = threaded_server(manager, iid)
        bare_port, stop_bare = bare_server()
        ports = {"loop": manager.port_of(iid), "threaded": old.server_address[1], "bare": bare_port}
        try:
            best: dict[str, list[float]] = {}
            fetches: dict[str, list[float]] = {"loop": [], "threaded": []}
            for _ in range(args.repeat):
                for name, port in ports.items():
                    run = round_trips(port, "bench", args.rounds)
                    if name not in best or statistics.median(run) < statistics.median(best[name]):
                        best[name] = run
                for _ in range(args.fetches):
                    for name in fetches:
                        fetches[name].append(botocore_fetch(ports[name]))
        finally:
            old.shutdown()
            old.server_close()
            stop_bare()
            pipeline.close()
            store.close()

    print(
        f"kept-alive connection, PUT token + GET credentials, {args.rounds} pairs, best of {args.repeat} runs"
    )
    print("server        median ms    p95 ms   per request")
    for name in ("threaded", "loop", "bare"):
        times = sorted(best[name])
        print(f"{name:<10} {ms(statistics.median(times))}  {ms(times[int(len(times) * 0.95)])}")
    print(
        f"\nbotocore InstanceMetadataFetcher.retrieve_iam_role_credentials, {len(fetches['loop'])} fetches each"
    )
    print("server        median ms       min ms")
    for name in ("threaded", "loop"):
        print(f"{name:<10} {ms(statistics.median(fetches[name]))}     {ms(min(fetches[name]))}")
    speedup = statistics.median(best["threaded"]) / statistics.median(best["loop"])
    print(f"\nloop answers a kept-alive request {speedup:.0f}x faster than the threaded server it replaced")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
