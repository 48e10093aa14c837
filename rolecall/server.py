"""The ASGI application: one endpoint for every AWS API rolecall serves; and the HTTP protocol `rolecall serve`
gives uvicorn, which answers control-plane calls without the ASGI machinery (HttpProtocol's direct path).

The service is chosen from the SigV4 credential scope (or the protocol's own markers), as on
LocalStack's single port. Control-plane calls run the synchronous pipeline on the event loop; the rest run
on a thread pool so that a slow request (a Lambda function calling back into rolecall) never blocks others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

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
SLOW_ACTIONS = re.compile(rb"Action=(?:Simulate|GetAccountAuthorizationDetails)")
# Bodies a request may carry, by service, checked before a byte of it is read (Content-Length) and as it
# arrives: control-plane APIs take small documents (IAM's largest, a simulated policy, is 128 KB; a Logs
# batch 1 MB), while S3 objects and Lambda packages are large. Unknown until the body is read: the default.
BODY_LIMITS = {"iam": 1 << 20, "sts": 1 << 20, "cloudtrail": 1 << 20, "ec2": 1 << 20, "logs": 2 << 20}
# Seconds a client may leave the server waiting for the next piece of a request body (then 408).
BODY_READ_TIMEOUT = 30.0


# The web console's handler (rolecall.console): a request and whether it came over TLS, to its page.
ConsoleHandler = Callable[[HttpRequest, bool], HttpResponse]
CONSOLE_PREFIX = "/console"
# rolecall's own endpoints (App._own).
HEALTH_PATH, RESET_PATH = "/_rolecall/health", "/moto-api/reset"
# The scope key under which HttpProtocol hands App the request it has already read from the parser.
PARSED_REQUEST = "rolecall.request"


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
        req = scope.get(PARSED_REQUEST) or request_from(
            scope["method"],
            scope.get("raw_path", scope["path"].encode()),
            scope.get("query_string", b""),
            scope["headers"],
            scope.get("client"),
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
        if route is None and service in INLINE_SERVICES and not (service == "iam" and _slow(req)):
            response = self.pipeline.handle(req, service)
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
                return _timed_out()
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

    def direct(self, req: HttpRequest) -> str | None:
        """The service of a request whose headers are in (its body not yet) if it may be answered on the event
        loop without ASGI (HttpProtocol's direct path): an API call signed for an inline service, of a declared
        length within that service's limit, for no route, endpoint of our own or the console. Whether its
        action is slow is only known from the body: HttpProtocol asks `_slow` then."""
        if req.method not in ("POST", "GET") or req.path == RESET_PATH or req.path.startswith("/_rolecall/"):
            return None
        service = service_from_request(req)
        if service not in INLINE_SERVICES or (self.console is not None and _for_console(req)):
            return None
        declared = req.headers.get("content-length")
        if declared is None or not declared.isdigit() or int(declared) > BODY_LIMITS[service]:
            return None
        return service

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
        if req.path == HEALTH_PATH and req.method == "GET":
            return _json(200, {"status": "running", "store": self.pipeline.store.kind})
        if req.path == RESET_PATH and req.method == "POST":
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


def request_from(
    method: str, raw_path: bytes, query: bytes, raw_headers: list[tuple[bytes, bytes]], client: Any
) -> HttpRequest:
    """An HttpRequest (its body still empty) from what the server parsed: the raw path (percent-encoded, maybe
    with the query), the raw query string, ASGI's (name, value) header pairs and the client's address."""
    return HttpRequest(
        method=method,
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query_string=query.decode("latin-1"),
        headers=Headers.from_asgi(raw_headers),
        remote_addr=client[0] if client else "127.0.0.1",
    )


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
    """Whether a query-protocol request names one of SLOW_ACTIONS (a mention elsewhere only costs a thread).
    One search of the body and one of the query: four `in` tests (each action in each) cost 14,600
    instructions a request, the searches 3,300."""
    if SLOW_ACTIONS.search(req.body) is not None:
        return True
    return req.query_string != "" and SLOW_ACTIONS.search(req.query_string.encode("latin-1")) is not None


def _timed_out() -> HttpResponse:
    return HttpResponse(408, [("content-type", "text/plain"), ("connection", "close")], b"")


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
    """uvicorn's httptools protocol with two changes: each response head is sent with its body
    (`_OneSendTransport`), and a control-plane API call is answered straight from the parser's callbacks.

    The direct path: for each request uvicorn builds an ASGI scope, a request-response cycle with its event, a
    task, and messages to and from the app. That cost more than a GetCallerIdentity's signature check: the
    direct path took a signed GetCallerIdentity from 600,000 to 518,000 instructions (bench/instructions.py).
    A request `App.direct` accepts, arriving on a connection with no other request in progress, is instead
    read into an HttpRequest here; once its body is in (on_message_complete), the pipeline answers it, just
    as App would on the event loop, and the response goes out in one write. A request the body shows to be
    slow (`_slow`) goes the ASGI way after all, as if it had just been parsed. What the ASGI way applies and
    this one does not (proxy headers, uvicorn's trace log, a concurrency limit) turns the direct path off.
    """

    _direct: HttpRequest | None = None  # a request on the direct path whose body is being read
    _direct_service = ""  # its service (App.direct's answer)
    _direct_body: list[bytes]
    _direct_timer: asyncio.TimerHandle | None = None
    _close_after_direct = False  # the server is shutting down: close once the direct request is answered
    # uvicorn arms a keep-alive timer after each response and cancels it at the next byte; after a direct
    # response the connection keeps one timer instead, which looks when the last answer went out.
    _idle_since: float | None = None  # when the last direct answer went out; None once bytes arrive
    _idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneSendTransport(transport, self.loop))  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._direct = None
        self._cancel_direct_timer()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        super().data_received(data)
        if self._direct is not None:  # its body is still to come: as in App, no piece may be long in coming
            self._cancel_direct_timer()
            self._direct_timer = self.loop.call_later(BODY_READ_TIMEOUT, self._direct_body_too_slow)

    def on_headers_complete(self) -> None:
        req = self._parsed_request()
        if req is not None:
            service = self.app.direct(req)
            if service is not None:
                self._direct, self._direct_service, self._direct_body = req, service, []
                return
        super().on_headers_complete()
        if req is not None:  # the ASGI way: App takes this request rather than decoding the headers again
            self.scope[PARSED_REQUEST] = req  # type: ignore[literal-required]

    def _parsed_request(self) -> HttpRequest | None:
        """The request whose headers are in, if the direct path may take it (App.direct decides then)."""
        cycle = self.cycle
        if (
            type(self.app) is not App  # wrapped: proxy headers or a trace log, which the ASGI way applies
            or (cycle is not None and not cycle.response_complete)
            or self.pipeline
            or self.expect_100_continue
            or self.limit_concurrency is not None
            or self.root_path  # App's path would differ
            or self.parser.should_upgrade()
        ):
            return None
        url = httptools.parse_url(self.url)
        return request_from(
            self.parser.get_method().decode("ascii"), url.path, url.query or b"", self.headers, self.client
        )

    def on_body(self, body: bytes) -> None:
        if self._direct is None:
            super().on_body(body)
        else:
            self._direct_body.append(body)

    def on_message_complete(self) -> None:
        req = self._direct
        if req is None:
            super().on_message_complete()
            return
        self._direct = None
        self._cancel_direct_timer()
        req.body = b"".join(self._direct_body)  # one piece (the usual case): that very bytes object
        if self._direct_service == "iam" and _slow(req):
            # Its work grows with the request: a thread, by way of ASGI like any other request.
            super().on_headers_complete()
            self.scope[PARSED_REQUEST] = req  # type: ignore[literal-required]
            self.cycle.body += req.body
            super().on_message_complete()
            return
        app: App = self.app
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        try:
            response = app.pipeline.handle(req, self._direct_service)
            head, keep_alive = self._direct_head(response, keep_alive and not self._close_after_direct)
        except Exception as exc:
            log.error("Exception in the pipeline", exc_info=exc)
            response = HttpResponse(
                500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error"
            )
            head, keep_alive = self._direct_head(response, keep_alive=False)
        self.transport.writelines((head, response.body))
        if not keep_alive:
            self.transport.close()
        self.server_state.total_requests += 1  # what on_response_complete does, for a direct request
        if not self.transport.is_closing():
            self._idle_since = self.loop.time()
            if self._idle_timer is None:
                self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def _idle_check(self) -> None:
        """Close a connection idle for timeout_keep_alive since its last direct answer. One that is reading or
        answering a request is left to whatever ends that request (this path's next answer, or uvicorn's
        on_response_complete, which arms uvicorn's own timer)."""
        self._idle_timer = None
        since = self._idle_since
        if since is None or self.transport.is_closing():
            return
        left = since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self._idle_timer = self.loop.call_later(left, self._idle_check)
        else:
            self.transport.close()

    def _direct_head(self, response: HttpResponse, keep_alive: bool) -> tuple[bytes, bool]:
        """The response's status line and headers, and whether the connection stays open after it. The
        server's own headers come first (Date, Server) as uvicorn sends them, then the response's, refused
        as uvicorn refuses them (a separator or control character in a name, a control character but tab
        in a value)."""
        if response.stream is not None:  # no inline service streams: this is a mistake, not a response
            raise RuntimeError("a streamed response on the direct path")
        lines = []
        has_length = closes = False
        for name, value in response.headers:
            # isprintable() and a set of names already checked: a third of two regular expressions' cost.
            if not (value.isprintable() or _BAD_VALUE.search(value) is None):  # a tab is not printable
                raise RuntimeError(f"invalid value of response header {name!r}")
            if name not in _CHECKED_NAMES:
                if _BAD_NAME.search(name):
                    raise RuntimeError(f"invalid response header name {name!r}")
                if len(_CHECKED_NAMES) < 1024:  # the names are our code's: a few dozen
                    _CHECKED_NAMES.add(name)
            lname = name.lower()
            has_length = has_length or lname == "content-length"
            closes = closes or (lname == "connection" and "close" in value.lower())
            lines.append(f"{name}: {value}\r\n")
        if not has_length:
            lines.append(f"content-length: {len(response.body)}\r\n")
        if closes:
            keep_alive = False
        elif not keep_alive:
            lines.append("connection: close\r\n")
        lines.append("\r\n")
        head = STATUS_LINE[response.status] + _server_headers(self.server_state.default_headers)
        return head + "".join(lines).encode("latin-1"), keep_alive

    def _direct_body_too_slow(self) -> None:
        self._direct_timer = None
        if self._direct is None or self.transport.is_closing():
            return
        self._direct = None
        response = _timed_out()  # what App answers a body that stops
        head, _ = self._direct_head(response, keep_alive=False)
        self.transport.writelines((head, response.body))
        self.transport.close()

    def _cancel_direct_timer(self) -> None:
        if self._direct_timer is not None:
            self._direct_timer.cancel()
            self._direct_timer = None

    def shutdown(self) -> None:
        if self._direct is None:
            super().shutdown()
        else:  # a request is being read: answer it, then close
            self._close_after_direct = True


# uvicorn's checks of response headers (HEADER_RE, HEADER_VALUE_RE), on text.
_BAD_NAME = re.compile('[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]')
_BAD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_CHECKED_NAMES: set[str] = set()  # response header names _BAD_NAME has passed


_served_headers: tuple[object, bytes] = (None, b"")


def _server_headers(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """uvicorn's own response headers (Date, Server) as header lines. uvicorn makes a new list when the
    date changes, once a second: the lines are kept for as long as that list is the same."""
    global _served_headers
    made_from, lines = _served_headers
    if made_from is not default_headers:
        lines = b"".join(b"%s: %s\r\n" % pair for pair in default_headers)
        _served_headers = (default_headers, lines)
    return lines
