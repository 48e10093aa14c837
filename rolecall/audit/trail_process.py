"""The trail writer as a process of its own: what `rolecall serve` records reads, denials and failures with.

The in-process TrailWriter (rolecall.audit.writer) shares the server's GIL: its SQLite calls release and
re-take it at every statement, and each re-take waits on (and stalls) the request thread. Measured with
`bench/server_requests.py`, that cost a signed GetRole about 40% of the server's CPU per request. Here the
server only pickles each record and writes it to a pipe; a child process (`python -m
rolecall.store.event_pipe`, on its own store connection) reads them, writes whatever has arrived in one
transaction, and goes back to reading. A batch gathers for at most 50 ms (a commit costs about as much as
twenty records, and each page it writes is shared by the batch's records), and not at all when a flush is
waiting, so LookupEvents never waits on that timer. While it gathers, records wait in the pipe without
waking the child; a byte on a second pipe wakes it for a flush, and every WAKE_BYTES of records.

The pipe is the queue and its back-pressure: when the child falls behind by a full pipe (256 KiB, a few
hundred records), put() blocks until it catches up, so the trail never falls more than a batch and a pipe
behind the requests it describes, and once the load stops the last records are in within tens of ms.
flush() sends a marker and waits for the child to echo it back once everything before it is committed. A
child that dies is started again (the records it had read but not written are lost, and the server says so
in its log); one that dies CRASH_LIMIT times within CRASH_WINDOW_S hands the trail to a writer thread of the
server. Closing the pipe ends the child once it has written everything sent.

The frames and the child are rolecall.store.event_pipe's: the child needs only the store, not the
service models this package loads.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from typing import Any

from rolecall.audit.writer import TrailWriter
from rolecall.store import Store, open_store
from rolecall.store.event_pipe import (
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    FLUSH,
    HEADER,
    PIPE_SIZE,
    RECORD,
    WAKE_FD_ENV,
    write_all,
)

log = logging.getLogger("rolecall.trail")

# Every WAKE_BYTES of records sent also wake the child, which then empties the pipe and goes on gathering: a
# busy server would otherwise fill the pipe (and wait on it) before the child's gathering time is up. A
# quarter of the smallest pipe (64 KiB, where F_SETPIPE_SZ is refused): 20-40 records.
WAKE_BYTES = 16 * 1024
# A child that ends CRASH_LIMIT times within CRASH_WINDOW_S seconds is not started again.
CRASH_LIMIT, CRASH_WINDOW_S = 3, 60


class TrailProcess:
    """The TrailWriter interface (put, flush, close), written by a child process."""

    command = [sys.executable, "-m", "rolecall.store.event_pipe"]

    def __init__(self, data_dir: str | None = None, database_url: str | None = None):
        self._env = dict(os.environ)
        self._env.pop(DATABASE_URL_ENV, None)
        self._env[DATA_DIR_ENV] = data_dir or ""
        if database_url:
            self._env[DATABASE_URL_ENV] = database_url
        self._data_dir, self._database_url = data_dir, database_url
        self._lock = threading.Lock()  # one frame at a time on the pipe (a record may exceed PIPE_BUF)
        self._flush_lock = threading.Lock()
        self._closed = False
        self._unwoken = 0  # bytes sent since the child was last woken
        self._starts: list[float] = []  # when the child was started, for telling a crash from a crash loop
        # Where records go once the child keeps dying (it cannot open the store, say): a writer thread here,
        # as `--trail-writer thread` runs it, so the server goes on recording.
        self._fallback: TrailWriter | None = None
        self._fallback_store: Store | None = None
        self._proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        self._starts = [t for t in self._starts if t > time.monotonic() - CRASH_WINDOW_S] + [time.monotonic()]
        # The wake pipe: a byte after each flush frame and every WAKE_BYTES of records. The child waits on it
        # while a batch gathers, so a record written to the records' pipe wakes no one (a wake-up per record
        # cost both processes CPU).
        wake_read, self._wake = os.pipe()
        os.set_blocking(self._wake, False)
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**self._env, WAKE_FD_ENV: str(wake_read)},
                close_fds=True,
                pass_fds=(wake_read,),
                start_new_session=True,  # a Ctrl-C at the terminal stops the server, which then closes the pipe
            )
        finally:
            os.close(wake_read)
        assert proc.stdin is not None
        try:
            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:  # above pipe-max-size: the default 64 KiB still works, it only holds fewer records
            pass
        return proc

    def put(self, account: str, rec: dict[str, Any]) -> None:
        payload = pickle.dumps((account, rec), pickle.HIGHEST_PROTOCOL)
        if not self._send(HEADER.pack(RECORD, len(payload)) + payload):
            assert self._fallback is not None
            self._fallback.put(account, rec)

    def _send(self, frame: bytes, wake: bool = False) -> bool:
        """Send a frame to the child (started again if it has died), then with `wake` (or once WAKE_BYTES have
        gone since the last) a byte on the wake pipe; False once records go to the fallback."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the trail writer is closed")
            while self._fallback is None:
                stdin = self._proc.stdin
                assert stdin is not None
                try:
                    write_all(stdin.fileno(), frame)
                except (BrokenPipeError, ValueError):
                    self._replace(self._proc)
                    continue
                self._unwoken += len(frame)
                if wake or self._unwoken >= WAKE_BYTES:
                    self._unwoken = 0
                    try:
                        os.write(self._wake, b"!")
                    except (BlockingIOError, BrokenPipeError):  # full: the child will wake; ended: replaced
                        pass
                return True
            return False

    def _replace(self, proc: subprocess.Popen[bytes]) -> None:
        """The child has ended: start another, or after CRASH_LIMIT ends in CRASH_WINDOW_S hand the trail to a
        thread of this process. Called with the lock held."""
        if proc.stdin is not None:
            proc.stdin.close()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(self._wake)
        self._wake = -1
        status = proc.wait()
        if len(self._starts) >= CRASH_LIMIT:
            log.error(
                "the trail writer process ended %d times in %d s (last exit status %s); writing the trail "
                "from a thread of this process instead",
                len(self._starts),
                CRASH_WINDOW_S,
                status,
            )
            self._fallback_store = open_store(data_dir=self._data_dir, database_url=self._database_url)
            self._fallback = TrailWriter(self._fallback_store)
            return
        log.error(
            "the trail writer process ended (exit status %s); starting another. Records it had read and not "
            "yet written are lost.",
            status,
        )
        self._proc = self._start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is written. False if that did not happen within `timeout` s."""
        with self._flush_lock:
            token = os.urandom(8)
            try:
                sent = self._send(HEADER.pack(FLUSH, len(token)) + token, wake=True)
            except RuntimeError:  # closed
                return False
            if not sent:
                assert self._fallback is not None
                return self._fallback.flush(timeout)
            proc = self._proc
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            deadline = time.monotonic() + timeout
            seen = b""
            while True:
                left = deadline - time.monotonic()
                try:
                    if left <= 0 or not select.select([fd], [], [], left)[0]:
                        return False
                    chunk = os.read(fd, 4096)
                except (OSError, ValueError):  # another thread found the child ended and closed its pipes
                    return False
                if not chunk:  # the child ended before it got there: start another now (or fall back)
                    with self._lock:
                        if proc is self._proc and not self._closed:
                            self._replace(proc)
                    return False
                seen = (seen + chunk)[-64:]  # tokens of earlier flushes that timed out come first
                if token in seen:
                    return True

    def close(self) -> None:
        """Write everything sent, then end the child (it sees the pipe close)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fallback is not None:
                self._fallback.close()
            if self._fallback_store is not None:
                self._fallback_store.close()
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            if self._wake >= 0:
                os.close(self._wake)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.error("the trail writer process did not finish in 30 s; stopping it")
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
