"""The trail writer: records that belong to no transaction (reads, denials, failures), written in batches."""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Protocol

from rolecall.store import Store
from rolecall.store.event_pipe import write_batch

log = logging.getLogger("rolecall.trail")

BACKLOG = 256  # queued records that start the next drain without waiting for the interval
# Records queued or being written past which put() waits (up to HOLD_S) for the writer to catch up: when the
# requests outrun what the server can record, they slow down rather than the trail falling behind, so that
# once the load stops the last records are in the store within a batch's time. A writer whose current batch
# has taken longer than HOLD_S is waiting on something else (another process's long write transaction
# holds SQLite's lock): requests then go on and the queue grows, as they would without the limit.
MAX_UNWRITTEN = 2000
HOLD_S = 1.0


class TrailSink(Protocol):
    """Where the pipeline sends the records that belong to no transaction: this module's TrailWriter (a
    thread of the server), or rolecall.audit.trail_process.TrailProcess (a process of its own)."""

    def put(self, account: str, rec: dict[str, Any]) -> None: ...

    def flush(self, timeout: float = 10.0) -> bool: ...

    def close(self) -> None: ...


class TrailWriter:
    """Writes records that belong to no transaction, in batches, from one background thread.

    put() only appends to a deque (atomic in CPython): no lock and no wake-up per request. The writer
    drains it every `interval` seconds, or at once when flush() or close() asks. A drain writes the whole
    queue in one transaction through Tx.append_events, which on SQLite is a handful of statements per
    batch: the writer thread gives up and takes back the GIL a few times per batch, not per record, so it
    barely slows the request threads, and under load a batch grows rather than the queue.
    """

    def __init__(self, store: Store, interval: float = 0.05):
        self._store = store
        self._pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._interval = interval
        self._wake = threading.Event()
        self._flushed = threading.Condition()
        self._started = 0  # drains begun, numbered: flush() waits for one that begins after it is called
        self._done = 0  # drains completed
        self._writing = 0  # records of the drain being written now
        self._write_started = 0.0  # time.monotonic() when that drain began writing (0: idle)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="rolecall-trail", daemon=True)
        self._thread.start()

    def put(self, account: str, rec: dict[str, Any]) -> None:
        self._pending.append((account, rec))
        if len(self._pending) + self._writing > MAX_UNWRITTEN and self._thread.is_alive():
            started = self._write_started
            if not started or time.monotonic() - started < HOLD_S:
                self._hold()

    def _hold(self) -> None:
        """Back-pressure: wait until the writer has caught up to half the limit (or HOLD_S has passed)."""
        with self._flushed:
            self._wake.set()
            self._flushed.wait_for(
                lambda: (
                    len(self._pending) + self._writing <= MAX_UNWRITTEN // 2 or not self._thread.is_alive()
                ),
                HOLD_S,
            )

    def pending(self) -> int:
        """Records queued and not yet written (not counting a batch being written now)."""
        return len(self._pending)

    def _run(self) -> None:
        while True:
            # A backlog (records came faster than the last write took: a slow fsync under load) is written
            # at once rather than after another interval, so the writer never falls further behind.
            if len(self._pending) < BACKLOG:
                self._wake.wait(self._interval)
            self._wake.clear()
            closing = self._closing
            with self._flushed:
                self._started += 1
                number = self._started
            items = []
            while self._pending:
                items.append(self._pending.popleft())
            self._writing = len(items)
            if items:
                self._write_started = time.monotonic()
                write_batch(self._store, items)
            with self._flushed:
                self._writing = 0
                self._write_started = 0.0
                self._done = number
                self._flushed.notify_all()
            if closing:
                return

    def _write(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            with self._store.transaction() as tx:
                tx.append_events(items)
            return
        except Exception:
            log.exception("could not write a batch of %d trail records; writing them one by one", len(items))
        for account, rec in items:  # one bad record must not cost the others
            try:
                with self._store.transaction() as tx:
                    tx.append_event(account, rec)
            except Exception:  # never lose the server over the trail; say so loudly
                log.exception("could not write trail record %s", rec.get("eventID"))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is written: at once, not at the writer's next interval. False if
        that did not happen within `timeout` seconds (or the writer has stopped)."""
        if not self._thread.is_alive():
            return False
        with self._flushed:
            target = self._started + 1  # the first drain to begin after this call takes all put before it
            self._wake.set()
            return self._flushed.wait_for(
                lambda: self._done >= target or not self._thread.is_alive(), timeout
            ) and (self._done >= target)

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=30)
