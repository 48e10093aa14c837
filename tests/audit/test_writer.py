"""The trail writer (rolecall.audit.writer): batches from many threads, flush on demand, one bad record."""

from __future__ import annotations

import threading

from rolecall.audit.writer import MAX_UNWRITTEN, TrailWriter
from rolecall.store import open_store

A = "111111111111"


def record(i: int, event_id: str | None = None) -> dict:
    return {
        "eventID": event_id or f"event-{i}",
        "eventTime": "2026-01-01T00:00:00Z",
        "eventName": "GetRole",
        "requestID": f"request-{i}",
        "resources": [{"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{A}:role/r{i % 7}"}],
    }


def test_flush_writes_what_many_threads_put_without_waiting_for_the_interval(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    writer = TrailWriter(store, interval=3600)  # only flush() can make it write in this test's lifetime
    try:

        def put(first: int) -> None:
            for i in range(first, first + 250):
                writer.put(A, record(i))

        threads = [threading.Thread(target=put, args=(n * 250,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert writer.flush(timeout=30)
        assert writer.pending() == 0
        ids = {r["eventID"] for r in store.events(A)}
        assert ids == {f"event-{i}" for i in range(2000)}
        page, _ = store.lookup_events(A, attribute=("ResourceName", "r3"), max_results=50)
        assert page and all(r["resources"][0]["ARN"].endswith("role/r3") for r in page)
        writer.put(A, record(5000))
        assert writer.flush(timeout=30)  # again: every flush starts a drain of its own
        assert store.events_by_request_id("request-5000")
    finally:
        writer.close()
        store.close()


def test_a_bad_record_costs_only_itself_and_close_writes_the_rest(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    writer = TrailWriter(store, interval=3600)
    try:
        writer.put(A, record(1))
        writer.put(A, {"eventName": "no id or time"})
        writer.put(A, record(2, event_id="event-1"))  # a taken eventID
        writer.put(A, record(3))
        writer.close()  # drains what is queued before it stops
        assert {r["eventID"] for r in store.events(A)} == {"event-1", "event-3"}
        assert not writer.flush()  # a stopped writer says it wrote nothing more
    finally:
        store.close()


def test_put_holds_a_producer_that_outruns_the_writer(tmp_path):
    """Past MAX_UNWRITTEN queued records, put() wakes the writer and waits for it: the queue stays bounded,
    so the trail never falls more than a batch behind the requests it records."""
    store = open_store(data_dir=str(tmp_path))
    writer = TrailWriter(store, interval=3600)  # never drains on its own timer during the test
    try:
        for i in range(3 * MAX_UNWRITTEN):
            writer.put(A, record(i))
            assert writer.pending() < 2 * MAX_UNWRITTEN  # without the hold it would reach 3x
        assert writer.flush(timeout=30)
        assert len(list(store.events(A))) == 3 * MAX_UNWRITTEN
    finally:
        writer.close()
        store.close()


def test_a_writer_stuck_on_the_database_lock_does_not_hold_requests(tmp_path):
    """Another process's long write transaction keeps the writer waiting for SQLite's lock: past the limit,
    put() holds once (up to HOLD_S) and then lets requests go on, the records queued, none lost."""
    import sqlite3

    store = open_store(data_dir=str(tmp_path))
    writer = TrailWriter(store, interval=3600)
    blocker = sqlite3.connect(str(tmp_path / "rolecall.db"), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the write lock, held
        for i in range(MAX_UNWRITTEN + 20):
            writer.put(A, record(i))
        assert writer.pending() + 1 >= 20  # queued behind the lock, not dropped
        blocker.execute("COMMIT")
        assert writer.flush(timeout=60)
        assert len(list(store.events(A))) == MAX_UNWRITTEN + 20
    finally:
        blocker.close()
        writer.close()
        store.close()
