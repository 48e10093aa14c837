"""Read transactions answered from the documents cached per generation (rolecall.store.readcache).

Two Store instances on one database stand for two processes or nodes: a write through either must reach
the other's next read, whatever the other has cached, and a read the cache answers issues no SQL.
"""

from __future__ import annotations

import time

import pytest

from rolecall.store import Conflict
from rolecall.store.readcache import GenerationFile
from rolecall.store.sqlite import GENERATION_FILE

A = "111111111111"


def test_a_write_on_one_node_reaches_the_others_cached_reads(store_backend):
    first, second = store_backend.open(), store_backend.open()
    with first.transaction() as tx:
        tx.insert(A, "role", "App", {"v": 1}, uid="AROAAPP")
    for _ in range(2):  # the second read comes from the cache
        with second.read_transaction() as tx:
            assert tx.get(A, "role", "app") == {"v": 1}
            assert tx.find("role", "APP") == (A, {"v": 1})
            assert tx.by_uid("AROAAPP") == (A, "role", {"v": 1})
            assert tx.get(A, "role", "other") is None
    with first.transaction() as tx:
        tx.update(A, "role", "App", {"v": 2})
        tx.insert(A, "role", "Other", {"v": 3})
    with second.read_transaction() as tx:
        assert tx.get(A, "role", "App") == {"v": 2}
        assert tx.by_uid("AROAAPP") == (A, "role", {"v": 2})
        assert tx.get(A, "role", "other") == {"v": 3}  # cached as missing before: gone with its generation
    with first.transaction() as tx:
        tx.delete(A, "role", "App")
    with second.read_transaction() as tx:
        assert tx.get(A, "role", "App") is None
        assert tx.find("role", "app") is None
        assert tx.by_uid("AROAAPP") is None


def test_documents_handed_out_are_copies(store):
    with store.transaction() as tx:
        tx.insert(A, "user", "dev", {"Tags": []})
    with store.read_transaction() as tx:
        tx.get(A, "user", "dev")["Tags"].append("changed by a caller")  # type: ignore[index]
    with store.read_transaction() as tx:
        assert tx.get(A, "user", "dev") == {"Tags": []}


def test_a_read_at_an_older_generation_does_not_fill_the_cache_with_newer_rows(store_backend):
    """A caller that read the generation before another commit landed still gets a consistent state."""
    first, second = store_backend.open(), store_backend.open()
    with first.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 1})
    old = second.generation()
    with first.transaction() as tx:
        tx.update(A, "role", "r", {"v": 2})
    with second.read_transaction(old) as tx:  # its snapshot is newer than `old`: read, not cached
        assert tx.get(A, "role", "r") == {"v": 2}
    with second.read_transaction() as tx:
        assert tx.get(A, "role", "r") == {"v": 2}


def test_sqlite_cached_reads_and_generation_issue_no_sql(sqlite_backend):
    store = sqlite_backend.open()
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 1})
    with store.read_transaction() as tx:  # fills the cache
        tx.get(A, "role", "r")
    statements: list[str] = []
    reader = store._reader()  # type: ignore[attr-defined]
    reader.set_trace_callback(statements.append)
    try:
        for _ in range(3):
            generation = store.generation()
            with store.read_transaction(generation) as tx:
                assert tx.get(A, "role", "r") == {"v": 1}
    finally:
        reader.set_trace_callback(None)
    assert statements == []


def test_sqlite_generation_follows_commits_of_another_process(sqlite_backend):
    """The generation file is what other processes see: a commit through another Store (its own
    connections and map, as another process has) changes what this one reads at once."""
    store, other = sqlite_backend.open(), sqlite_backend.open()
    g0 = store.generation()
    with other.transaction() as tx:
        tx.insert(A, "role", "r", {})
    assert store.generation() == g0 + 1
    announced = GenerationFile(f"{sqlite_backend.data_dir}/{GENERATION_FILE}")
    assert announced.current(lambda: -1) == -1  # a fresh reader always asks the database first
    # The bytes hold the committed generation.
    with open(f"{sqlite_backend.data_dir}/{GENERATION_FILE}", "rb") as f:
        assert int.from_bytes(f.read(8), "little") == g0 + 1


def test_a_trail_batch_is_written_whole_with_resources_in_order(store):
    records = [
        (
            A,
            {
                "eventID": f"e{i}",
                "eventTime": "2026-01-01T00:00:00Z",  # one time: the insertion order decides
                "eventName": "GetRole",
                "requestID": f"req-{i}",
                "note": 'caf\u00e9 "quoted" \\ back',
                "resources": [{"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{A}:role/r{i}"}],
            },
        )
        for i in range(30)
    ]
    with store.transaction() as tx:
        tx.append_events(records)
    page, _ = store.lookup_events(A, attribute=("ResourceName", "r7"))
    assert [r["eventID"] for r in page] == ["e7"]
    assert [r["eventID"] for r in store.events(A)] == [f"e{i}" for i in reversed(range(30))]
    assert store.events_by_request_id("req-3") == [records[3]]
    with pytest.raises(Conflict), store.transaction() as tx:  # a taken eventID refuses the batch
        tx.append_events([records[0], (A, dict(records[0][1], eventID="new"))])
    assert len(list(store.events(A))) == 30


@pytest.mark.postgres
def test_postgres_cached_reads_and_generation_issue_no_sql_once_the_listener_is_live(pg_backend):
    """generation() comes from the node's LISTEN connection, not a query, once it has caught up."""
    store = pg_backend.open()
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 1})
    store.generation()  # starts the listener
    listener = store._listener  # type: ignore[attr-defined]
    assert listener.wait_live(10)
    with store.transaction() as tx:  # returns once every listener, this one included, has taken it in
        tx.update(A, "role", "r", {"v": 2})
    # The listener acknowledged from inside its work on the notification; until it has finished that work
    # (its thread may wait for the GIL) reads ask the database, as they should. Wait for it to be done.
    for _ in range(500):
        if not listener._seq & 1:
            break
        time.sleep(0.01)
    with store.read_transaction() as tx:  # fills the cache
        assert tx.get(A, "role", "r") == {"v": 2}
    statements: list[str] = []
    conn = store._conn()  # type: ignore[attr-defined]
    original = conn.execute
    conn.execute = lambda sql, *args, **kwargs: statements.append(sql) or original(sql, *args, **kwargs)
    try:
        for _ in range(3):
            with store.read_transaction(store.generation()) as tx:
                assert tx.get(A, "role", "r") == {"v": 2}
    finally:
        conn.execute = original
    assert statements == []


@pytest.mark.postgres
def test_postgres_a_commit_on_one_node_is_in_the_other_nodes_generation_when_it_returns(pg_backend):
    """Two nodes on one database, both with live listeners: every write through one is read through the
    other right after its transaction returns, from the other's in-process generation, never stale."""
    first, second = pg_backend.open(), pg_backend.open()
    with first.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 0})
    for store in (first, second):
        store.generation()
        assert store._listener.wait_live(10)  # type: ignore[attr-defined]
    with first.transaction() as tx:
        tx.update(A, "role", "r", {"v": 1})
    for v in range(2, 40):
        writer, reader = (first, second) if v % 2 else (second, first)
        with reader.read_transaction() as tx:  # cached at the reader's current generation
            assert tx.get(A, "role", "r") == {"v": v - 1}
        with writer.transaction() as tx:
            tx.update(A, "role", "r", {"v": v})
        assert reader._listener.known == writer.generation()  # type: ignore[attr-defined]
        with reader.read_transaction() as tx:
            assert tx.get(A, "role", "r") == {"v": v}


@pytest.mark.postgres
def test_postgres_reads_ask_the_database_while_the_listener_is_down(pg_backend):
    """A listener whose connection is killed stops answering; reads fall back to the meta row, and a write
    made meanwhile is seen, before and after the listener reconnects."""
    first, second = pg_backend.open(), pg_backend.open()
    with first.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 0})
    second.generation()
    listener = second._listener  # type: ignore[attr-defined]
    assert listener.wait_live(10)
    with first.transaction() as tx:
        tx.update(A, "role", "r", {"v": 1})
    with pg_backend.raw() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
            (f"rolecall-gen {second._tag} %",),  # type: ignore[attr-defined]
        )
        with first.transaction() as tx:  # the terminated listener is not waited for
            tx.update(A, "role", "r", {"v": 2})
        with second.read_transaction() as tx:
            assert tx.get(A, "role", "r") == {"v": 2}
    for _ in range(200):  # it reconnects within its back-off (polling here is about liveness, not timing)
        if listener.live:
            break
        time.sleep(0.05)
    assert listener.live
    with first.transaction() as tx:
        tx.update(A, "role", "r", {"v": 3})
    with second.read_transaction() as tx:
        assert tx.get(A, "role", "r") == {"v": 3}


@pytest.mark.postgres
def test_postgres_reads_ask_the_database_while_the_listener_is_taking_input_in(pg_backend, monkeypatch):
    """A listener held up between reading its socket and storing the generation (here: on its lock) does not
    answer: the writer stops waiting for it after ACK_TIMEOUT_S, and reads meanwhile go to the meta row."""
    from rolecall.store import pg_generation

    monkeypatch.setattr(pg_generation, "ACK_TIMEOUT_S", 0.2)
    first, second = pg_backend.open(), pg_backend.open()
    with first.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 0})
    second.generation()
    listener = second._listener  # type: ignore[attr-defined]
    assert listener.wait_live(10)
    with second.read_transaction() as tx:
        assert tx.get(A, "role", "r") == {"v": 0}  # cached at the listener's generation
    with listener._lock:  # its thread cannot store what it reads
        with first.transaction() as tx:
            tx.update(A, "role", "r", {"v": 1})
        assert listener.known < first.generation()
        with second.read_transaction() as tx:
            assert tx.get(A, "role", "r") == {"v": 1}
    with first.transaction() as tx:  # the listener goes on
        tx.update(A, "role", "r", {"v": 2})
    assert listener.known == first.generation()


def test_the_listener_socket_peek_sees_unread_input_and_the_end_of_the_connection():
    """What lets a node tell that its listener has not yet taken in what arrived (or that it is gone)."""
    import socket

    from rolecall.store.pg_generation import _readable

    mine, theirs = socket.socketpair()
    try:
        assert not _readable(mine)
        theirs.send(b"N")
        assert _readable(mine) and _readable(mine)  # a peek leaves the byte there
        assert mine.recv(1) == b"N"
        assert not _readable(mine)
        theirs.close()
        assert _readable(mine)
        assert _readable(None)
    finally:
        mine.close()
