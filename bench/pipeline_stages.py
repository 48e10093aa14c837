"""Where one signed, authorized request's time goes inside rolecall, without HTTP: the per-stage profile.

    python bench/pipeline_stages.py                    # GetRole and GetCallerIdentity, 3,000 requests each
    python bench/pipeline_stages.py --requests 10000 --profile /tmp/stages   # also cProfile stats per operation
    python bench/pipeline_stages.py --postgres         # on PostgreSQL (a scratch database on 127.0.0.1:5432)

The workload is server_requests.py's (a user with 10 policies of 10 statements, a role), built in this
process on a SQLite store in a temporary directory (with --postgres, a scratch PostgreSQL database): boto3
clients whose requests a `before-send` hook hands to Pipeline.handle instead of the network. The timed loop calls Pipeline.handle on pre-signed requests, so
the figures are the request thread's own cost (everything but uvicorn and the socket); the trail writer
runs on its own as in the server, and its queue is drained (flush) inside the timing.

Each stage is then timed alone over the same requests, in a loop of its own: parsing the signature,
verifying it (HMAC chain and canonical request), decoding the operation, the authorization decision, the
handler's read transaction, encoding the response, and building the trail record.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.server_requests import OPERATIONS, create_workload, signed_requests  # noqa: E402
from rolecall.http import Headers, HttpRequest  # noqa: E402

ENDPOINT = "http://127.0.0.1:4577"
ROOT_KEY = ("AKIAROLECALLBENCH001", "rolecall-bench-root-secret-0000000000000")


def to_http(method: str, url_or_path: str, headers: Any, body: bytes | str | None) -> HttpRequest:
    parts = urlsplit(url_or_path)
    if isinstance(body, str):
        body = body.encode()
    items = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in headers]
    if parts.netloc and not any(k.lower() == "host" for k, _ in items):
        items.append(("host", parts.netloc))  # what the HTTP client would add
    return HttpRequest(method, parts.path or "/", parts.query, Headers(items), body or b"")


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_: Any):
        yield self.data


def in_process(pipeline: Any) -> None:
    """Route every boto3 client of the default session to `pipeline` instead of the network."""

    def send(request: Any, **_: Any) -> AWSResponse:
        req = to_http(request.method, request.url, request.headers.items(), request.body)
        resp = pipeline.handle(req)
        return AWSResponse(request.url, resp.status, dict(resp.headers), _Body(resp.body))

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-send", send)  # type: ignore[union-attr]


# The pipeline's stages, by the functions that do them (file suffix, function name); a stage's share is its
# functions' cumulative time in the profile over Pipeline._serve's.
STAGES = [
    ("parse the signature (Authorization header)", [("wire/sigv4.py", "parse_signature")]),
    ("verify the signature (canonical request, HMAC)", [("wire/sigv4.py", "verify")]),
    ("decode the operation and its parameters", [("wire/codec.py", "decode")]),
    (
        "store: generation and read transaction",
        [
            ("store/sqlite.py", "generation"),
            ("store/sqlite.py", "read_transaction"),
            ("store/postgres.py", "generation"),
            ("store/postgres.py", "read_transaction"),
        ],
    ),
    (
        "authorize: resolve resources, evaluate policies",
        [("authz/authorizer.py", "refused"), ("core/authorization.py", "resources")],
    ),
    ("handler", [("services/iam/roles.py", "GetRole"), ("services/sts/operations.py", "GetCallerIdentity")]),
    ("encode the response", [("wire/query.py", "encode")]),
    ("build the trail record and queue it", [("pipeline.py", "_record")]),
]


def print_stages(stats: pstats.Stats, thread_seconds: float) -> None:
    """Each stage's share of the request thread's time, from the profile's cumulative times."""
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _, function), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        for suffix, name in [f for _, fs in STAGES for f in fs] + [("pipeline.py", "_serve")]:
            if filename.endswith(suffix) and function == name:
                cumulative[(suffix, name)] = cumulative.get((suffix, name), 0.0) + ct
    total = cumulative.get(("pipeline.py", "_serve"), 0.0)
    if not total:
        return
    accounted = 0.0
    print(f"  {'stage':50} {'share':>6} {'~us':>6}")
    for label, functions in STAGES:
        part = sum(cumulative.get(f, 0.0) for f in functions)
        if not part:
            continue
        accounted += part
        print(f"  {label:50} {100 * part / total:5.1f}% {1e6 * thread_seconds * part / total:6.1f}")
    rest = total - accounted
    print(
        f"  {'the rest (dispatch, context, event, bookkeeping)':50} {100 * rest / total:5.1f}% {1e6 * thread_seconds * rest / total:6.1f}"
    )


def asgi_scope(req: HttpRequest) -> dict[str, Any]:
    """The scope uvicorn would hand the app for `req`."""
    return {
        "type": "http",
        "method": req.method,
        "path": req.path,
        "raw_path": req.path.encode(),
        "query_string": req.query_string.encode(),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers.items()],
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
    }


def time_app(app: Any, scopes: list[tuple[dict[str, Any], bytes]], n: int) -> float:
    """Request-thread CPU seconds per request of the ASGI app (rolecall.server.App) over `n` requests, driven
    by a receive that hands over the whole body and a send that keeps nothing: the app's own work around
    Pipeline.handle (ASGI headers, the body read, routing, response headers), without uvicorn or a socket."""
    import asyncio

    async def loop() -> float:
        async def send(message: dict[str, Any]) -> None:
            pass

        started = time.thread_time()
        for i in range(n):
            scope, body = scopes[i % len(scopes)]

            async def receive(body: bytes = body) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            await app(scope, receive, send)
        return (time.thread_time() - started) / n

    return asyncio.run(loop())


def child_cpu(writer: Any) -> float:
    """CPU seconds (user + system) the trail writer process has used; 0 for the in-process writer."""
    if writer is None:
        return 0.0
    with open(f"/proc/{writer._proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per operation")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write cProfile stats per operation here")
    parser.add_argument(
        "--trail-writer",
        choices=["process", "thread"],
        default="process",
        help="who writes the trail, as `rolecall serve --trail-writer` (default: %(default)s)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="on a scratch PostgreSQL database (127.0.0.1:5432) instead of SQLite",
    )
    args = parser.parse_args(argv)

    os.environ["ROLECALL_ROOT_ACCESS_KEY_ID"], os.environ["ROLECALL_ROOT_SECRET_ACCESS_KEY"] = ROOT_KEY
    os.environ.setdefault("ROLECALL_MASTER_KEY", "rolecall-bench-master-key")
    from tests.servers import create_pg_database, drop_pg_database

    database_url = create_pg_database() if args.postgres else None
    try:
        return run(args, database_url)
    finally:
        if database_url:
            drop_pg_database(database_url)


@contextmanager
def workload_pipeline(
    database_url: str | None, trail_writer: str = "process"
) -> Iterator[tuple[Any, Any, Any]]:
    """server_requests.py's workload on a started pipeline in this process (a SQLite store in a temporary
    directory, or the PostgreSQL database given), every boto3 client routed to it: (pipeline, the trail
    writer process or None for the thread, the workload). ROLECALL_ROOT_* must name ROOT_KEY."""
    from botocore.credentials import Credentials

    from rolecall.app import build_config, build_pipeline
    from rolecall.audit.trail_process import TrailProcess
    from rolecall.credentials.accounts import ensure_default_account
    from rolecall.store import open_store

    with tempfile.TemporaryDirectory(prefix="rolecall-stages-") as tmp:
        store = open_store(data_dir=tmp, database_url=database_url)
        config, _ = build_config(store, argparse.Namespace(auth="enforce", data_dir=tmp))
        ensure_default_account(store, config.secret_box, config.default_account)
        writer = TrailProcess(data_dir=tmp, database_url=database_url) if trail_writer == "process" else None
        pipeline = build_pipeline(store, config, trail=writer)
        try:
            in_process(pipeline)
            yield pipeline, writer, create_workload(ENDPOINT, Credentials(*ROOT_KEY))
        finally:
            pipeline.close()
            store.close()


def run(args: argparse.Namespace, database_url: str | None) -> int:
    from rolecall.server import App

    with workload_pipeline(database_url, args.trail_writer) as (pipeline, writer, workload):
        app = App(pipeline)
        for operation in OPERATIONS:
            signed = signed_requests(ENDPOINT, workload.user_key, operation, min(args.requests, 500))
            reqs = [to_http(s.method, s.path, s.headers, s.body) for s in signed]
            assert pipeline.handle(reqs[0]).status == 200
            for r in reqs:  # warm-up
                pipeline.handle(r)
            pipeline.flush_trail()
            n = args.requests
            started, thread0, process0 = time.perf_counter(), time.thread_time(), time.process_time()
            child0 = child_cpu(writer)
            for i in range(n):
                pipeline.handle(reqs[i % len(reqs)])
            thread1 = time.thread_time()
            pipeline.flush_trail()
            done, process1 = time.perf_counter(), time.process_time()
            in_all = process1 - process0 + child_cpu(writer) - child0
            app_seconds = time_app(app, [(asgi_scope(r), r.body) for r in reqs], n)
            pipeline.flush_trail()
            print(
                f"{operation.name:18} CPU per request: {1e6 * (thread1 - thread0) / n:6.1f} us on the request "
                f"thread, {1e6 * in_all / n:6.1f} us in all (trail writer included); "
                f"wall {1e6 * (done - started) / n:6.1f} us; through the ASGI app {1e6 * app_seconds:6.1f} us"
            )
            if args.profile:
                # A second run under cProfile, for the shares only: the profiler inflates every call.
                profiler = cProfile.Profile()
                profiler.enable()
                for i in range(n):
                    pipeline.handle(reqs[i % len(reqs)])
                profiler.disable()
                args.profile.mkdir(parents=True, exist_ok=True)
                out = args.profile / f"{operation.name}.pstats"
                profiler.dump_stats(out)
                print_stages(pstats.Stats(str(out)), (thread1 - thread0) / n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
