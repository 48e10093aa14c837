"""The trail writer process's side of the pipe (rolecall.audit.trail_process starts it): frames of records
and flush markers read from stdin, appended to the store in one transaction per arrival.

`python -m rolecall.store.event_pipe` opens the store named by ROLECALL_TRAIL_DATA_DIR or
ROLECALL_TRAIL_DATABASE_URL (the environment rather than the command line: a URL may hold a password, which
a command line shows to every user of the machine) and runs until stdin closes, writing everything it
read before it exits. It imports only the store, so it starts in tens of milliseconds.

Frames: one type byte (b"R": a pickled (account, record); b"F": a flush token), the payload's length
(4 bytes, big-endian), the payload. Each flush token is echoed on stdout once every record sent before it
is committed. The descriptor named by ROLECALL_TRAIL_WAKE_FD, when set, gets a byte after each flush frame
(and every so many records): while a batch gathers, the child waits on it rather than on the records' pipe.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import struct
import sys
import time
from typing import Any

from rolecall.store.base import Store

log = logging.getLogger("rolecall.trail")

RECORD, FLUSH = b"R", b"F"
HEADER = struct.Struct(">cI")
PIPE_SIZE = 1 << 18  # the pipe's capacity: a few hundred records, the most that can wait in it for the writer
GATHER_S = 0.05  # how long the first record of a batch may wait for others (none when a flush is asked)
MAX_BATCH = 4096  # records one transaction takes at most, so that a backlog commits in steps
DATA_DIR_ENV, DATABASE_URL_ENV = "ROLECALL_TRAIL_DATA_DIR", "ROLECALL_TRAIL_DATABASE_URL"
WAKE_FD_ENV = "ROLECALL_TRAIL_WAKE_FD"  # the descriptor the server pokes after flush frames and now and then


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _serve(infd: int, outfd: int, wakefd: int | None = None) -> None:
    """Read frames until the pipe closes; write each arrival's records in one transaction; echo flush tokens
    once what came before them is committed. While a batch gathers, only `wakefd` (written to when a flush
    is sent, and every so many records) wakes this process: records then wait in the pipe, so the server's
    write of one wakes nobody.
    Without `wakefd`, every record that arrives wakes it."""
    from rolecall.store import open_store  # here: the package imports this module's parent

    store = open_store(
        data_dir=os.environ.get(DATA_DIR_ENV) or None,
        database_url=os.environ.get(DATABASE_URL_ENV) or None,
        relaxed_commits=True,  # these records are written after their responses: no sync per batch
    )
    os.set_blocking(infd, False)
    watch = [wakefd] if wakefd is not None else [infd]
    buffer = bytearray()
    ended = False
    try:
        while not ended:
            select.select([infd], [], [])
            ended = _drain(infd, buffer)
            # Gather for up to GATHER_S from the first record, unless a flush is waiting: a commit costs
            # about as much as 20 records, and every page a batch dirties is written to the log once per
            # commit, so at a busy server's rate small batches spend most of this process on commits and
            # pages (per record: 102 us in batches of 50, 78 us of 200). An idle server's lone record
            # waits GATHER_S at most; a flush never waits for it.
            deadline = time.monotonic() + GATHER_S
            scanned, flush = _find_flush(buffer, 0)
            while not ended and len(buffer) < 8 * PIPE_SIZE and not flush:
                left = deadline - time.monotonic()
                # A frame that has only partly arrived (a record larger than the pipe) is read as it comes:
                # its writer, a request, waits on the pipe until then.
                waiting = watch if scanned == len(buffer) else [infd]
                woken = left > 0 and bool(select.select(waiting, [], [], left)[0])
                if woken and wakefd in waiting and not os.read(wakefd, 64):
                    watch = [infd]  # the server closed its end: the data pipe's end follows
                ended = _drain(infd, buffer)
                scanned, flush = _find_flush(buffer, scanned)  # only the frames that just arrived
                if not woken:
                    break
            used = _write_frames(store, buffer, outfd)
            del buffer[:used]
    finally:
        store.close()


def _drain(infd: int, buffer: bytearray) -> bool:
    """Append what the (non-blocking) pipe holds to `buffer`; whether the pipe has closed."""
    while True:
        try:
            chunk = os.read(infd, PIPE_SIZE)
        except BlockingIOError:
            return False
        if not chunk:
            return True
        buffer += chunk
        if len(chunk) < PIPE_SIZE:  # the pipe is empty now: spare the read that would say so
            return False


def _find_flush(buffer: bytearray, offset: int) -> tuple[int, bool]:
    """Whether a flush frame's header is in `buffer` at or after the frame at `offset`, and where the next
    header not yet looked at will start (to resume from when more arrives)."""
    while len(buffer) - offset >= HEADER.size:
        kind, length = HEADER.unpack_from(buffer, offset)
        if kind == FLUSH:
            return offset, True
        offset += HEADER.size + length
    return offset, False


def _write_frames(store: Store, buffer: bytearray, outfd: int) -> int:
    """Write the complete frames at the start of `buffer`; the number of bytes they took."""
    batch: list[tuple[str, dict[str, Any]]] = []
    offset = 0
    while len(buffer) - offset >= HEADER.size:
        kind, length = HEADER.unpack_from(buffer, offset)
        start = offset + HEADER.size
        if len(buffer) - start < length:
            break
        payload = bytes(buffer[start : start + length])
        offset = start + length
        if kind == RECORD:
            batch.append(pickle.loads(payload))
            if len(batch) >= MAX_BATCH:
                write_batch(store, batch)
                batch = []
        else:  # a flush: everything before it must be committed first
            write_batch(store, batch)
            batch = []
            write_all(outfd, payload)
    write_batch(store, batch)
    return offset


def write_batch(store: Store, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Append trail records in one transaction; if that fails, one by one, so that one bad record costs
    only itself (each failure logged). Never raises: the trail must not take its writer down."""
    if not items:
        return
    try:
        with store.transaction() as tx:
            tx.append_events(items)
        return
    except Exception:
        log.exception("could not write a batch of %d trail records; writing them one by one", len(items))
    for account, rec in items:  # one bad record must not cost the others
        try:
            with store.transaction() as tx:
                tx.append_event(account, rec)
        except Exception:  # never lose the other records over one; say so loudly
            log.exception("could not write trail record %s", rec.get("eventID"))


def main() -> None:
    # The server decides when the trail ends, by closing the pipe: not a Ctrl-C at its terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    infd, outfd = sys.stdin.buffer.fileno(), sys.stdout.buffer.fileno()
    wake = os.environ.get(WAKE_FD_ENV)
    _serve(infd, outfd, int(wake) if wake else None)


if __name__ == "__main__":
    main()
