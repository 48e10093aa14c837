"""HTTP/1.1 for the metadata endpoints: every instance's listener on one event loop, in one thread.

One listening socket per running instance (SDKs find the service by host and port alone), but not a thread
per instance or per connection: an asyncio loop in a thread of its own accepts and parses for all of them,
and hands each parsed request to a small, bounded pool of threads, since answering reads the store and may
issue credentials, which must not block the loop. A server with hundreds of instances thus runs a constant
handful of threads and one descriptor per endpoint plus one per open connection.

Connections are kept alive as HTTP/1.1 says (botocore and the JavaScript SDK reuse them for the token PUT
and the credential GETs), with TCP_NODELAY on every accepted socket and each response written in one
piece: a kept-alive client must not wait out a delayed ACK on every request. Idle connections are closed
after IDLE_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus

log = logging.getLogger("rolecall.imds")

WORKERS = 4  # threads answering requests (store reads, credentials) for every endpoint together
IDLE_TIMEOUT = 30.0  # seconds a connection may sit between requests (or take to send one)
LINE_LIMIT = 65536  # longest request line or header line
MAX_HEADERS = 100
MAX_BODY = 64 * 1024  # the metadata service takes no request bodies; read and drop small ones
BACKLOG = 128
SERVER = "EC2ws"  # what EC2's metadata service calls itself in its Server header
# Descriptors kept free for everything else the process does (the API's own connections, the database,
# log files) when deciding whether another endpoint fits (see descriptor_room).
DESCRIPTOR_RESERVE = 256

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")

_PAGE = (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '\t\t "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
    " <head>\n  <title>{status} - {reason}</title>\n </head>\n"
    " <body>\n  <h1>{status} - {reason}</h1>\n </body>\n</html>\n"
)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def error_page(status: int) -> Reply:
    """The metadata service's HTML error page."""
    page = _PAGE.format(status=status, reason=HTTPStatus(status).phrase)
    return Reply(status, page.encode(), [("Content-Type", "text/html")])


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # keyed lower-case; a repeated header keeps its last value
    keep_alive: bool
    http10: bool


class BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def render(reply: Reply, method: str, keep_alive: bool, http10: bool = False) -> bytes:
    """Status line, headers and body as one buffer (one write, so no segment waits on another's ACK)."""
    lines = [
        f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}",
        f"Server: {SERVER}",
        f"Date: {formatdate(usegmt=True)}",
        *(f"{name}: {value}" for name, value in reply.headers),
        f"Content-Length: {len(reply.body)}",
    ]
    if not keep_alive:
        lines.append("Connection: close")
    elif http10:
        lines.append("Connection: keep-alive")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if method == "HEAD" else head + reply.body


async def _line(reader: asyncio.StreamReader, too_long: int) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise BadRequest(too_long) from None


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """The next request on a connection, body read and dropped; None when the client closed it."""
    try:
        line = await _line(reader, 414)
        if line in (b"\r\n", b"\n"):  # one empty line before a request is allowed (RFC 9112, 2.2)
            line = await _line(reader, 414)
    except asyncio.IncompleteReadError:
        return None
    words = line.decode("latin-1").split()
    if len(words) != 3 or not _TOKEN.fullmatch(words[0]):
        raise BadRequest(400)
    method, target, version = words
    matched = _VERSION.fullmatch(version)
    if matched is None:
        raise BadRequest(400)
    if matched.group(1) != "1":
        raise BadRequest(505)
    http10 = matched.group(2) == "0"

    headers: dict[str, str] = {}
    lengths: set[str] = set()
    for count in range(MAX_HEADERS + 1):
        raw = await _line(reader, 431)
        if raw in (b"\r\n", b"\n"):
            break
        if count == MAX_HEADERS:
            raise BadRequest(431)
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not _TOKEN.fullmatch(name):  # no folded lines, no space before the colon
            raise BadRequest(400)
        headers[name.lower()] = value.strip()
        if name.lower() == "content-length":
            lengths.add(value.strip())

    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep_alive = "keep-alive" in tokens if http10 else "close" not in tokens
    coding = headers.get("transfer-encoding")
    if coding is not None or lengths:
        if not http10 and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if coding is not None:
            if coding.lower() != "chunked":
                raise BadRequest(501)
            await _drop_chunked(reader)
        else:
            length = lengths.pop() if len(lengths) == 1 else ""
            if not length.isdigit():
                raise BadRequest(400)
            if int(length) > MAX_BODY:
                raise BadRequest(413)
            await reader.readexactly(int(length))
    return Request(method, target, headers, keep_alive, http10)


async def _drop_chunked(reader: asyncio.StreamReader) -> None:
    total = 0
    while True:
        size_line = (await _line(reader, 400)).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest(400) from None
        total += size
        if total > MAX_BODY:
            raise BadRequest(413)
        if size == 0:
            while (await _line(reader, 431)) not in (b"\r\n", b"\n"):  # trailers
                pass
            return
        await reader.readexactly(size + 2)


# -- descriptors -------------------------------------------------------------------------------------------


def raise_descriptor_limit() -> None:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (each endpoint is a descriptor)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    while target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # macOS caps below an unlimited hard limit (kern.maxfilesperproc)
            target //= 2
            continue
        log.debug("raised the open-file limit (RLIMIT_NOFILE) from %d to %d", soft, target)
        return


def descriptor_room() -> int | None:
    """How many more descriptors this process may open while keeping DESCRIPTOR_RESERVE free, or None
    where that cannot be told."""
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    where = "/proc/self/fd" if sys.platform.startswith("linux") else "/dev/fd"
    if soft == resource.RLIM_INFINITY or not os.path.isdir(where):
        return None
    return soft - len(os.listdir(where)) - DESCRIPTOR_RESERVE


# -- the loop ----------------------------------------------------------------------------------------------

Respond = Callable[[str, str, Request], Reply]  # (account, instance id, request) -> reply


@dataclass(eq=False)
class Listener:
    """One instance's endpoint: its listening socket, served by the loop, and its open connections."""

    account: str
    instance_id: str
    sock: socket.socket
    port: int
    server: asyncio.Server | None = None
    connections: set[asyncio.StreamWriter] = field(default_factory=set)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if os.name == "posix":  # rebind over TIME_WAIT; on Windows this would allow stealing a live port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class EndpointServer:
    """The loop thread and worker pool behind every listener. Started on first use, and again after close()."""

    def __init__(self, respond: Respond, workers: int = WORKERS, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self._respond = respond
        self._workers = workers
        self._idle = idle_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._listening: set[Listener] = set()  # (touched on the loop only)
        self._tasks: set[asyncio.Task[None]] = set()  # open connections (touched on the loop only)
        self._sockets: dict[asyncio.StreamWriter, socket.socket] = {}  # the same, readable from any thread
        self._sockets_lock = threading.Lock()
        self.accepted = 0  # connections accepted since start (for tests and diagnostics)

    def _started(self) -> tuple[asyncio.AbstractEventLoop, ThreadPoolExecutor]:
        with self._lock:
            if self._loop is None or self._pool is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="imds-loop", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="imds-worker")
            return self._loop, self._pool

    def listen(self, account: str, instance_id: str, port: int) -> Listener:
        """Serve an endpoint on 127.0.0.1:`port` (0: any free port); OSError when the port is taken.
        Accepting before this returns."""
        sock = _bind(port)
        listener = Listener(account, instance_id, sock, sock.getsockname()[1])
        loop, pool = self._started()
        try:
            asyncio.run_coroutine_threadsafe(self._serve(listener, pool), loop).result(timeout=30)
        except BaseException:
            sock.close()
            raise
        return listener

    async def _serve(self, listener: Listener, pool: ThreadPoolExecutor) -> None:
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._connection(listener, pool, reader, writer)

        listener.server = await asyncio.start_server(
            connected, sock=listener.sock, limit=LINE_LIMIT + 2, backlog=BACKLOG
        )
        self._listening.add(listener)

    def stop(self, listener: Listener) -> None:
        """Close the endpoint and its connections; its port is free when this returns."""
        loop = self._loop
        if loop is None or loop.is_closed():
            listener.sock.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(listener), loop).result(timeout=30)
        except RuntimeError:  # the loop stopped meanwhile (close() from another thread)
            listener.sock.close()

    async def _stop(self, listener: Listener) -> None:
        self._listening.discard(listener)
        if listener.server is not None:
            listener.server.close()  # closes the listening socket at once
        listener.sock.close()
        for writer in list(listener.connections):
            writer.transport.abort()

    def close(self) -> None:
        """Stop every endpoint, the loop and the workers. A later listen() starts them again."""
        with self._lock:
            loop, thread, pool = self._loop, self._thread, self._pool
            self._loop = self._thread = self._pool = None
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=30)
        if not loop.is_running():
            loop.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def _shutdown(self) -> None:
        for listener in list(self._listening):
            await self._stop(listener)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def connections(self) -> list[socket.socket]:
        """The accepted sockets now open, across every endpoint (for tests and diagnostics)."""
        with self._sockets_lock:
            return list(self._sockets.values())

    # -- one connection --------------------------------------------------------------------------------------

    async def _connection(
        self,
        listener: Listener,
        pool: ThreadPoolExecutor,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Explicit, though asyncio sets it too: without it a kept-alive client waits ~40 ms per request
            # for the delayed ACK of the previous response.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.accepted += 1
        self._tasks.add(task)
        listener.connections.add(writer)
        with self._sockets_lock:
            self._sockets[writer] = sock
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    request = await asyncio.wait_for(read_request(reader, writer), self._idle)
                except BadRequest as refused:
                    writer.write(render(error_page(refused.status), "GET", keep_alive=False))
                    await writer.drain()
                    return
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return
                if request is None:
                    return
                try:
                    reply = await loop.run_in_executor(
                        pool, self._respond, listener.account, listener.instance_id, request
                    )
                except Exception:
                    log.exception(
                        "metadata request %s %s for %s failed",
                        request.method,
                        request.target,
                        listener.instance_id,
                    )
                    reply = Reply(500, b"Internal Server Error", [("Content-Type", "text/plain")])
                log.debug("imds %s: %s %s -> %d", listener.port, request.method, request.target, reply.status)
                writer.write(render(reply, request.method, request.keep_alive, request.http10))
                await writer.drain()
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            listener.connections.discard(writer)
            with self._sockets_lock:
                self._sockets.pop(writer, None)
            writer.close()
