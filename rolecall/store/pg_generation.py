"""The PostgreSQL store's generation without a query per read: every node keeps it current through
LISTEN/NOTIFY, and a write returns only once every node has taken it in.

* A document-writing transaction bumps the `meta` row and NOTIFYs the new value on the store's channel in
  the same statement; PostgreSQL delivers the notification to every listening session at COMMIT.
* Each node (Store) has one listener: a dedicated connection and thread that LISTENs, reads the meta row
  once (so nothing committed before the LISTEN is missed), and from then on raises its in-process
  generation with every notification. After taking in a generation it acknowledges it by setting its
  session's application_name to "rolecall-gen <tag> <generation>", which pg_stat_activity shows every
  session at once (no table, no migration).
* After its COMMIT a writer waits until no listening session on the database shows an older generation.
  A read that starts after the writer's transaction() returned therefore finds the new generation in
  every live listener, on every node. A listener whose connection is gone drops out of pg_stat_activity
  and is not waited for; its node reads the meta row instead (see below).
* A node answers generation() from its listener only while the listener is live and its socket holds
  nothing unread (an unread notification, or the end of the connection, makes it readable); otherwise,
  while connecting or reconnecting, or while the listener is taking input in, it reads the meta row, so a
  stale generation is never served. A sequence number (odd while the listener works) closes the window
  between the listener draining the socket and storing what it read.

Limits: the listener needs a session of its own on the server (LISTEN does not survive a transaction-pooling
proxy such as PgBouncer in transaction mode), and a connection cut without the node's socket learning it
(a network partition, no FIN or RST) is only found by TCP keepalives (about 8 s here); meanwhile writers
wait for that listener ACK_TIMEOUT_S and then go on, and the node could read an old generation.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import logging
import os
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable

import psycopg

log = logging.getLogger("rolecall.store")

_PREFIX = "rolecall-gen"
# One statement: bump, announce (delivered at COMMIT), and return the generation this transaction makes.
BUMP_AND_NOTIFY = (
    "WITH bumped AS (UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value) "
    "SELECT value, pg_notify(%s, value::text) FROM bumped"
)
# Listening sessions of this store (database and schema) that have not yet taken in generation %s.
_LAGGING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name LIKE %s AND split_part(application_name, ' ', 3)::bigint < %s"
)
_READ_GENERATION = "SELECT value FROM meta WHERE key = 'generation'"
# How long a writer waits for a listener that does not acknowledge (a node stopped in a debugger, say):
# past it the write returns, and that node's reads still find the notification unread and ask the database.
ACK_TIMEOUT_S = 5.0
_RECONNECT_DELAYS_S = (0.1, 0.2, 0.5, 1.0, 2.0)


def store_tag(conn: psycopg.Connection) -> str:
    """Names this store's channel and listeners: nodes on one database and schema share it, while stores on
    other schemas of the same database (NOTIFY channels are per database) get their own."""
    row = conn.execute("SELECT current_database(), current_schema()").fetchone()
    assert row is not None
    return hashlib.sha1(f"{row[0]}\0{row[1]}".encode()).hexdigest()[:16]


def channel(tag: str) -> str:
    return f"rolecall_gen_{tag}"


def wait_for_listeners(conn: psycopg.Connection, tag: str, generation: int) -> None:
    """Return once every live listener of the store has taken in `generation` (or ACK_TIMEOUT_S passed)."""
    pattern = f"{_PREFIX} {tag} %"
    deadline = time.monotonic() + ACK_TIMEOUT_S
    delay = 0.0002
    while True:
        row = conn.execute(_LAGGING, (pattern, generation)).fetchone()
        if row is None or row[0] == 0:
            return
        if time.monotonic() > deadline:
            log.warning(
                "%d listener(s) did not acknowledge generation %d in %.0f s",
                row[0],
                generation,
                ACK_TIMEOUT_S,
            )
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.005)


class GenerationListener:
    """One node's view of the store generation, kept current by a LISTEN connection on its own thread."""

    def __init__(self, database_url: str, tag: str):
        self._url = database_url
        self._tag = tag
        self._lock = threading.Lock()  # serializes raises of `known` (reads need none)
        self.known = -1
        self.live = False  # connected, listening, caught up with the meta row
        self._went_live = threading.Event()
        self._seq = 0  # odd while the thread takes input in
        self._peek: socket.socket | None = None  # a duplicate of the connection's socket, for _readable
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        _listeners.add(self)
        self._thread = threading.Thread(target=self._run, name="rolecall-generation", daemon=True)
        self._thread.start()

    # -- the read path ----------------------------------------------------------------------------------

    def current(self, read_database: Callable[[], int]) -> int:
        seq = self._seq
        if self.live and not seq & 1:
            known, peek = self.known, self._peek
            if not _readable(peek) and self._seq == seq and self.live:
                return known
        return read_database()

    def wait_live(self, timeout: float) -> bool:
        """Whether the listener is live, waiting up to `timeout` for its first connection (tests, tools)."""
        self._went_live.wait(timeout)
        return self.live

    def raise_to(self, generation: int) -> None:
        """Take in a generation known to be committed (a notification, or this node's own COMMIT)."""
        if generation > self.known:
            with self._lock:
                if generation > self.known:
                    self.known = generation

    # -- the thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping:
            conn = None
            try:
                conn = psycopg.connect(
                    self._url,
                    autocommit=True,
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=1,
                    keepalives_count=3,
                )
                # (keepalives: an idle connection probed after 5 s, every second, given up after 3 probes)
                conn.add_notify_handler(self._on_notify)
                conn.execute(f'LISTEN "{channel(self._tag)}"')
                row = conn.execute(_READ_GENERATION).fetchone()  # after LISTEN: no commit falls in between
                assert row is not None
                self.raise_to(int(row[0]))
                acknowledged = self._acknowledge(conn, -1)
                self._peek = socket.socket(fileno=os.dup(conn.pgconn.socket))
                self.live = True
                self._went_live.set()
                failures = 0
                self._listen(conn, acknowledged)
            except Exception as err:  # any failure: read the database until a new connection is caught up
                if not self._stopping:
                    log.warning("generation listener: %s; reconnecting", err)
            finally:
                self.live = False
                peek, self._peek = self._peek, None
                if peek is not None:
                    peek.close()
                if conn is not None:
                    conn.close()
            if not self._stopping:
                self._sleep(_RECONNECT_DELAYS_S[min(failures, len(_RECONNECT_DELAYS_S) - 1)])
                failures += 1

    def _listen(self, conn: psycopg.Connection, acknowledged: int) -> None:
        pgconn = conn.pgconn
        fd = pgconn.socket
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stopping:
            ready = poller.poll()
            if self._stopping:
                return
            if not any(ready_fd == fd for ready_fd, _ in ready):
                continue
            self._seq += 1  # odd: readers ask the database until the input is taken in
            try:
                pgconn.consume_input()  # raises once the connection is gone
                while (note := pgconn.notifies()) is not None:
                    self.raise_to(int(note.extra))
                acknowledged = self._acknowledge(conn, acknowledged)
            except BaseException:
                self.live = False  # before the sequence turns even again
                raise
            finally:
                self._seq += 1
            if conn.broken or conn.closed:
                raise ConnectionError("listener connection lost")

    def _on_notify(self, note: psycopg.Notify) -> None:
        self.raise_to(int(note.payload))

    def _acknowledge(self, conn: psycopg.Connection, acknowledged: int) -> int:
        """Show every writer the generation taken in, until what is shown is current (notifications that
        arrive during the statement reach _on_notify and raise `known` again); returns what is shown."""
        while self.known > acknowledged:
            acknowledged = self.known
            self._show(conn, acknowledged)
        return acknowledged

    def _show(self, conn: psycopg.Connection, generation: int) -> None:
        conn.execute(
            "SELECT set_config('application_name', %s, false)", (f"{_PREFIX} {self._tag} {generation}",)
        )

    def _sleep(self, seconds: float) -> None:
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        poller.poll(seconds * 1000)

    def close(self) -> None:
        self._stopping = True
        self.live = False
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._wake_r.close()
        self._wake_w.close()


# Every listener of this process: a forked child has none of their threads, so it must not trust them.
_listeners: weakref.WeakSet[GenerationListener] = weakref.WeakSet()


def _forked() -> None:
    for listener in _listeners:
        listener._stopping = True
        listener.live = False


os.register_at_fork(after_in_child=_forked)


def _peek_without_releasing_the_gil() -> Callable[[int], bool] | None:
    """recv(MSG_PEEK | MSG_DONTWAIT) through ctypes.PyDLL, which keeps the GIL across the call. Python's own
    socket calls release it around even a non-blocking syscall, and taking it back from a busy thread (the
    trail writer, the listener) cost ~60 us a read in the profile; the call cannot block, so holding the GIL
    is harmless. None where libc cannot be reached this way."""
    try:
        libc = ctypes.PyDLL(None, use_errno=True)
        recv = libc.recv
    except (OSError, AttributeError):
        return None
    recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    recv.restype = ctypes.c_ssize_t
    flags = socket.MSG_PEEK | socket.MSG_DONTWAIT
    buffer = ctypes.create_string_buffer(1)  # never read: a peek of one byte, shared by every thread

    def has_input(fd: int) -> bool:
        # bytes (> 0), the connection's end (0), or an error other than "nothing to read" all count as input
        return recv(fd, buffer, 1, flags) != -1 or ctypes.get_errno() not in (errno.EAGAIN, errno.EWOULDBLOCK)

    return has_input


_has_input = _peek_without_releasing_the_gil()


def _readable(peek: socket.socket | None) -> bool:
    """Whether the listener's socket holds input not yet taken in (or is gone): one non-blocking peek, safe
    from any thread and for any descriptor number (select() is not)."""
    if peek is None:
        return True
    if _has_input is not None:
        return _has_input(peek.fileno())
    try:
        peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # bytes, or b"" at the connection's end
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True
