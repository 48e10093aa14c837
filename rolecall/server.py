"""The ASGI application: one endpoint for every AWS API rolecall serves.

The service is chosen from the SigV4 credential scope (or the protocol's own markers), as on
LocalStack's single port. Requests run the synchronous pipeline on a thread pool so that a slow
request (or, later, a Lambda function calling back into rolecall) never blocks the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rolecall.core.host import InternalRoute
from rolecall.http import BodyStream, Headers
from rolecall.pipeline import Pipeline
from rolecall.wire import HttpRequest, HttpResponse
from rolecall.wire.dispatch import service_from_request

log = logging.getLogger("rolecall")

MAX_BODY = 64 * 1024 * 1024
# Control-plane calls are short and never wait on other requests: they run on the event loop itself,
# which spares a thread hand-off per request. Everything else (object bodies, functions that call
# back into rolecall while they run) goes to the thread pool.
INLINE_SERVICES = frozenset({"iam", "sts", "cloudtrail"})
# ...except the few of their operations whose work grows with the request (a simulation's pages, the
# whole-account snapshot): those take a thread, so one caller cannot stall every other client.
SLOW_ACTIONS = (b"Action=Simulate", b"Action=GetAccountAuthorizationDetails")
# Bodies a request may carry, by service, checked before a byte of it is read (Content-Length) and as it
# arrives: control-plane APIs take small documents (IAM's largest, a simulated policy, is 128 KB; a Logs
# batch 1 MB), while S3 objects and Lambda packages are large. Unknown until the body is read: the default.
BODY_LIMITS = {"iam": 1 << 20, "sts": 1 << 20, "cloudtrail": 1 << 20, "ec2": 1 << 20, "logs": 2 << 20}
# Seconds a client may leave the server waiting for the next piece of a request body (then 408).
BODY_READ_TIMEOUT = 30.0


# The web console's handler (rolecall.console): a request and whether it came over TLS, to its page.
ConsoleHandler = Callable[[HttpRequest, bool], HttpResponse]
CONSOLE_PREFIX = "/console"


class App:
    def __init__(self, pipeline: Pipeline, threads: int = 8, console: ConsoleHandler | None = None):
        self.pipeline = pipeline
        self.console = console
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rolecall-req")
        # The paths services publish (GET /_rolecall/imds/ID, Lambda's code downloads).
        routes = [r for s in pipeline.services.values() for r in s.internal_routes().items()]
        self.routes = sorted(routes, key=lambda r: len(r[0]), reverse=True)
        # Body reads in progress (task -> when the current wait began) and those the watchdog cancelled.
        self._reading: dict[asyncio.Task[Any] | None, float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        req = HttpRequest(
            method=scope["method"],
            path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=Headers.from_asgi(scope["headers"]),
            remote_addr=client[0],
        )
        service = service_from_request(req)  # from the headers and query: the body is not read yet
        refusal = await self._read_body(req, receive, service)
        if refusal is not None:
            await self._send(send, refusal)
            return
        special = self._own(req)
        if special is not None:
            await self._send(send, special)
            return
        if self.console is not None and _for_console(req):
            secure = scope.get("scheme") == "https"
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.executor, self.console, req, secure)
            await self._send(send, response)
            return
        route = self._route(req.path)
        if service is None:  # unsigned: the query protocols name their API version in the body
            service = service_from_request(req)
        if route is None and service in INLINE_SERVICES and not _slow(req):
            response = self.pipeline.handle(req)
        else:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.executor, route or self.pipeline.handle, req)
        await self._send(send, response)

    async def _read_body(self, req: HttpRequest, receive: Any, service: str | None) -> HttpResponse | None:
        """Read the body into `req`, or the refusal: too large (413, before reading it when Content-Length
        says so) or too slow (408). `service` is the one the headers and query name."""
        limit = BODY_LIMITS.get(service or "", MAX_BODY)
        if _for_console(req):
            limit = 1 << 20
        declared = req.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return _too_large()
        body = bytearray()
        task = asyncio.current_task()
        while True:
            # The read deadline is kept by one watchdog for every request (_watch_reads), not by a timer
            # of each request's own: asyncio.timeout cost ~6 us a request, a tenth of a GetCallerIdentity.
            self._reading[task] = asyncio.get_running_loop().time()
            self._start_watchdog()
            try:
                message = await receive()
            except asyncio.CancelledError:
                if task not in self._expired:
                    raise
                self._expired.discard(task)
                if task is not None:
                    task.uncancel()
                return HttpResponse(408, [("content-type", "text/plain"), ("connection", "close")], b"")
            finally:
                self._reading.pop(task, None)
            chunk = message.get("body", b"")
            if not message.get("more_body") and not body:  # the whole body in one message: no copy
                if len(chunk) > limit:
                    return _too_large()
                req.body = bytes(chunk)  # bytes(b"...") is the same object: no copy
                return None
            body += chunk
            if len(body) > limit:
                return _too_large()
            if not message.get("more_body"):
                break
        req.body = bytes(body)
        return None

    def _start_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch_reads())

    async def _watch_reads(self) -> None:
        """Cancel every body read that has waited BODY_READ_TIMEOUT seconds for its next piece (the request
        is then answered 408 by _read_body); checked a few times per timeout."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, BODY_READ_TIMEOUT / 4))
            deadline = loop.time() - BODY_READ_TIMEOUT
            for task, since in list(self._reading.items()):
                if since <= deadline and task is not None and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()

    def _route(self, path: str) -> InternalRoute | None:
        """The handler of a path a service serves beside its AWS API (longest prefix first)."""
        if not path.startswith("/_rolecall/"):
            return None
        for prefix, handler in self.routes:
            if path.startswith(prefix):
                return handler
        return None

    def _own(self, req: HttpRequest) -> HttpResponse | None:
        """rolecall's own endpoints: health, and moto's reset when authentication is off."""
        if req.path == "/_rolecall/health" and req.method == "GET":
            return _json(200, {"status": "running", "store": self.pipeline.store.kind})
        if req.path == "/moto-api/reset" and req.method == "POST":
            if self.pipeline.config.auth_mode != "off":
                return _json(403, {"error": "reset is only available with --auth off"})
            self.pipeline.reset()
            return _json(200, {"status": "ok"})
        return None

    async def _send(self, send, response: HttpResponse) -> None:
        headers = []
        has_length = False
        for name, value in response.headers:
            key = name.encode("latin-1")
            has_length = has_length or key.lower() == b"content-length"
            headers.append((key, value.encode("latin-1")))
        if not has_length:
            length = len(response.body) if response.stream is None else response.stream.length
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.stream is None:
            await send({"type": "http.response.body", "body": response.body})
        else:
            await self._send_stream(send, response.stream)

    async def _send_stream(self, send, stream: BodyStream) -> None:
        """Send a large body a chunk at a time as it is read (on a worker thread: reading the store blocks),
        so that it is never held whole. The server's send waits while the client is slow to take it."""
        loop = asyncio.get_running_loop()
        chunks = iter(stream)
        done = object()
        try:
            while True:
                chunk = await loop.run_in_executor(self.executor, next, chunks, done)
                if chunk is done:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            # The status line has gone out: all that is left is to end the connection short of the
            # Content-Length it announced, which every client reports as an incomplete body.
            log.warning("response body ended early (%s: %s); closing the connection", type(exc).__name__, exc)
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        await send({"type": "http.response.body", "body": b""})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._watchdog is not None:
                    self._watchdog.cancel()
                self.executor.shutdown(wait=True)
                self.pipeline.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _for_console(req: HttpRequest) -> bool:
    """A browser's request for the console: its paths, or a plain `GET /` asking for HTML (no AWS API request
    looks like that), which the console answers with its sign-in page. A signed request (SigV4 header or
    presigned URL) is an API call, whatever its path: S3 path-style requests for a bucket named "console"."""
    if "authorization" in req.headers or "signature=" in req.query_string.lower():  # SigV4's or SigV2's
        return False
    if req.path == CONSOLE_PREFIX or req.path.startswith(CONSOLE_PREFIX + "/"):
        return True
    return (
        req.path == "/"
        and req.method == "GET"
        and not req.query_string
        and "text/html" in (req.headers.get("accept") or "")
    )


def _slow(req: HttpRequest) -> bool:
    """Whether a query-protocol request names one of SLOW_ACTIONS (a mention elsewhere only costs a thread)."""
    query = req.query_string.encode("latin-1")
    return any(action in req.body or action in query for action in SLOW_ACTIONS)


def _too_large() -> HttpResponse:
    return HttpResponse(
        413, [("content-type", "text/plain"), ("connection", "close")], b"Request too large\n"
    )


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(body).encode())


class _OneSendTransport:
    """A connection's transport that sends a response's status line and headers together with the start of
    its body: uvicorn writes them in two calls, and each write on a socket is a system call that wakes the
    client. Held bytes go out with the next write or close, or at the loop's next turn (a HEAD response, a
    100 Continue) at the latest, so every byte keeps its order."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))  # one writev: neither is copied
        elif data.startswith(b"HTTP/1.") and data.endswith(b"\r\n\r\n"):  # a response's head
            self._held = data
            self._loop.call_soon(self._release)
        else:
            self._transport.write(data)

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, data: Any) -> None:
        self._release()
        self._transport.writelines(data)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:  # the rest of the transport's interface, as it is
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, each response head sent with its body (`_OneSendTransport`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneSendTransport(transport, self.loop))  # type: ignore[arg-type]
