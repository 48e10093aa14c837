"""The trail writer process (rolecall.audit.trail_process): records from many threads through the pipe, flush,
large records, a bad record, close, a child that dies, and PostgreSQL."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import pytest

from rolecall.audit.trail_process import TrailProcess
from rolecall.store import open_store
from rolecall.store.event_pipe import DATA_DIR_ENV, FLUSH, HEADER, RECORD, WAKE_FD_ENV
from tests.audit.test_writer import A, record
from tests.servers import create_pg_database, drop_pg_database, postgres_available


def test_flush_returns_once_what_many_threads_put_is_in_the_store(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    writer = TrailProcess(data_dir=str(tmp_path))
    try:

        def put(first: int) -> None:
            for i in range(first, first + 500):
                writer.put(A, record(i))

        threads = [threading.Thread(target=put, args=(n * 500,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert writer.flush(timeout=30)
        assert {r["eventID"] for r in store.events(A)} == {f"event-{i}" for i in range(3000)}
        page, _ = store.lookup_events(A, attribute=("ResourceName", "r3"), max_results=50)
        assert page and all(r["resources"][0]["ARN"].endswith("role/r3") for r in page)
        writer.put(A, record(5000))
        assert writer.flush(timeout=30)  # every flush waits for what came before it, not for a timer
        assert store.events_by_request_id("request-5000")
    finally:
        writer.close()
        store.close()


def test_a_record_larger_than_the_pipe_arrives_whole(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    writer = TrailProcess(data_dir=str(tmp_path))
    try:
        big = record(1)
        big["requestParameters"] = {"policyDocument": "x" * (3 << 20)}  # larger than any pipe's buffer
        writer.put(A, big)
        writer.put(A, record(2))
        assert writer.flush(timeout=30)
        stored = store.events_by_request_id("request-1")
        assert len(stored[0][1]["requestParameters"]["policyDocument"]) == 3 << 20
        assert store.events_by_request_id("request-2")
    finally:
        writer.close()
        store.close()


def test_a_bad_record_costs_only_itself_and_close_writes_the_rest(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    writer = TrailProcess(data_dir=str(tmp_path))
    try:
        writer.put(A, record(1))
        writer.put(A, {"eventName": "no id or time"})
        writer.put(A, record(2, event_id="event-1"))  # a taken eventID
        writer.put(A, record(3))
        writer.close()  # the child writes everything sent before it ends
        assert {r["eventID"] for r in store.events(A)} == {"event-1", "event-3"}
        with pytest.raises(RuntimeError):
            writer.put(A, record(4))
        assert not writer.flush(timeout=1)
    finally:
        writer.close()
        store.close()


def test_a_child_that_dies_is_started_again_and_later_records_are_written(tmp_path, caplog):
    store = open_store(data_dir=str(tmp_path))
    writer = TrailProcess(data_dir=str(tmp_path))
    try:
        writer.put(A, record(1))
        assert writer.flush(timeout=30)
        first = writer._proc
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        writer.put(A, record(2))
        writer.put(A, record(3))
        assert writer.flush(timeout=30)
        assert writer._proc.pid != first.pid
        assert {r["eventID"] for r in store.events(A)} == {"event-1", "event-2", "event-3"}
        assert "trail writer process ended" in caplog.text
    finally:
        writer.close()
        store.close()


def test_a_child_that_keeps_dying_hands_the_trail_to_a_thread_of_the_server(tmp_path, caplog):
    class Doomed(TrailProcess):
        command = [sys.executable, "-c", "import sys; sys.exit(3)"]

    store = open_store(data_dir=str(tmp_path))
    writer = Doomed(data_dir=str(tmp_path))
    try:
        flushed = []
        for i in range(6):
            writer.put(A, record(i))  # to a child that ended (or ends before reading it)
            flushed.append(writer.flush(timeout=30))  # False while a child ends without answering
        # Each child ends at once; the third in the window hands the trail to a thread, after which every
        # record is written and every flush answers. Nothing raised into the caller.
        assert flushed[-2:] == [True, True] and not flushed[0]
        written = {r["eventID"] for r in store.events(A)}
        assert {"event-4", "event-5"} <= written
        assert "writing the trail from a thread of this process instead" in caplog.text
    finally:
        writer.close()
        store.close()


def test_the_child_ignores_the_terminals_interrupt_and_writes_until_the_pipe_closes(tmp_path):
    """Ctrl-C at `rolecall serve` reaches the whole foreground process group; the writer must not die of it
    with records unwritten (it runs in a session of its own, and ignores SIGINT besides)."""
    store = open_store(data_dir=str(tmp_path))
    writer = TrailProcess(data_dir=str(tmp_path))
    try:
        assert os.getsid(writer._proc.pid) != os.getsid(0)
        writer.put(A, record(1))
        assert writer.flush(timeout=30)
        os.kill(writer._proc.pid, signal.SIGINT)
        writer.put(A, record(2))
        assert writer.flush(timeout=30)
        assert writer._proc.poll() is None
        assert {r["eventID"] for r in store.events(A)} == {"event-1", "event-2"}
    finally:
        writer.close()
        store.close()


@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL is not running on 127.0.0.1:5432")
def test_on_postgresql_the_child_opens_the_database_from_its_environment(tmp_path):
    url = create_pg_database()
    store = open_store(database_url=url)
    writer = TrailProcess(data_dir=str(tmp_path), database_url=url)
    try:
        for i in range(300):
            writer.put(A, record(i))
        assert writer.flush(timeout=30)
        assert len(list(store.events(A))) == 300
        with open(f"/proc/{writer._proc.pid}/cmdline", "rb") as f:
            assert url.encode() not in f.read()  # the URL (a password, elsewhere) is not on the command line
    finally:
        writer.close()
        store.close()
        drop_pg_database(url)


def _voluntary_switches(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))


def test_records_arriving_while_a_batch_gathers_do_not_wake_the_child(tmp_path):
    """While a batch gathers, the child waits on the wake pipe (written after flush frames only), so records
    sent a millisecond apart wake it about once per batch, not once each."""
    store = open_store(data_dir=str(tmp_path))
    writer = TrailProcess(data_dir=str(tmp_path))
    try:
        writer.put(A, record(0))
        assert writer.flush(timeout=30)
        before = _voluntary_switches(writer._proc.pid)
        for i in range(1, 201):
            writer.put(A, record(i))
            time.sleep(0.001)
        woken = _voluntary_switches(writer._proc.pid) - before
        assert writer.flush(timeout=30)
        assert len(list(store.events(A))) == 201
        assert woken < 100, woken  # one wake-up per record would be 200
    finally:
        writer.close()
        store.close()


def test_the_child_run_by_hand_without_a_wake_pipe_writes_what_it_reads(tmp_path):
    """`python -m rolecall.store.event_pipe` with no ROLECALL_TRAIL_WAKE_FD gathers on the records' pipe."""
    env = {k: v for k, v in os.environ.items() if k != WAKE_FD_ENV}
    env[DATA_DIR_ENV] = str(tmp_path)
    frames = b""
    for i in range(50):
        payload = pickle.dumps((A, record(i)))
        frames += HEADER.pack(RECORD, len(payload)) + payload
    token = b"12345678"
    frames += HEADER.pack(FLUSH, len(token)) + token
    done = subprocess.run(
        [sys.executable, "-m", "rolecall.store.event_pipe"],
        input=frames,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == token
    store = open_store(data_dir=str(tmp_path))
    try:
        assert len(list(store.events(A))) == 50
    finally:
        store.close()
