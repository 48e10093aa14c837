"""Transactions: commit, rollback, the generation counter, threads."""

from __future__ import annotations

import threading

import pytest

A = "111111111111"


def record(event_id: str, when: str = "2026-11-28T18:00:00Z") -> dict:
    return {"eventID": event_id, "eventTime": when, "eventName": "GetUser", "readOnly": True}


def test_an_exception_rolls_everything_back(store):
    before = store.generation()
    with pytest.raises(LookupError), store.transaction() as tx:
        tx.insert(A, "role", "doomed", {"x": 1}, uid="AROADOOMED")
        tx.append_event(A, record("doomed-event"))
        raise LookupError("the handler failed after writing")
    with store.transaction() as tx:
        assert tx.get(A, "role", "doomed") is None
        assert tx.by_uid("AROADOOMED") is None
    assert list(store.events(A)) == []
    assert store.generation() == before


def test_generation_grows_with_each_committed_document_write(store):
    g0 = store.generation()
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 1})
        tx.insert(A, "role", "s", {"v": 1})
    g1 = store.generation()
    assert g1 == g0 + 1  # once per transaction, however many writes
    with store.transaction() as tx:
        tx.update(A, "role", "r", {"v": 2})
    assert store.generation() == g1 + 1
    with store.transaction() as tx:
        tx.delete(A, "role", "s")
    assert store.generation() == g1 + 2


def test_generation_stays_when_no_document_changed(store):
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {})
    g = store.generation()
    with store.transaction() as tx:
        tx.append_event(A, record("e1"))
    with store.transaction() as tx:
        tx.get(A, "role", "r")
        tx.list(A, "role")
        assert tx.delete(A, "role", "missing") is False
        with pytest.raises(KeyError):
            tx.update(A, "role", "missing", {})
    assert store.generation() == g
    assert len(list(store.events(A))) == 1


def test_every_document_write_reaches_later_reads_through_the_read_cache(store):
    # The read cache holds documents of every kind per generation, so a write of a kind no policy depends on
    # (log chunks, items) must move the generation too, or a read would answer from before it.
    with store.read_transaction() as tx:
        assert tx.get(A, "log_chunk", "c1") is None
    g = store.generation()
    with store.transaction() as tx:
        tx.insert(A, "log_chunk", "c1", {"events": [1]})
    assert store.generation() == g + 1
    with store.read_transaction() as tx:
        assert tx.get(A, "log_chunk", "c1") == {"events": [1]}
    with store.transaction() as tx:
        tx.update(A, "log_chunk", "c1", {"events": [1, 2]})
    with store.read_transaction() as tx:
        assert tx.get(A, "log_chunk", "c1") == {"events": [1, 2]}


def test_generation_and_writes_are_visible_to_another_store_instance(store, open_second):
    other = open_second()
    g = other.generation()
    with store.transaction() as tx:
        tx.insert(A, "user", "bob", {"UserName": "bob"})
    assert other.generation() == g + 1
    with other.transaction() as tx:
        assert tx.get(A, "user", "BOB") == {"UserName": "bob"}
        tx.delete(A, "user", "bob")
    assert store.generation() == g + 2


def test_a_conflict_that_escapes_the_block_rolls_back(store):
    from rolecall.store import Conflict

    with store.transaction() as tx:
        tx.insert(A, "role", "taken", {})
    g = store.generation()
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.insert(A, "role", "fresh", {})
        tx.insert(A, "role", "TAKEN", {})
    with store.transaction() as tx:
        assert tx.get(A, "role", "fresh") is None
    assert store.generation() == g


def test_transactions_do_not_nest_and_a_tx_dies_with_its_block(store):
    with store.transaction() as tx:
        with pytest.raises(RuntimeError), store.transaction():
            pass
        tx.insert(A, "role", "still-fine", {})
    with pytest.raises(RuntimeError):
        tx.get(A, "role", "still-fine")
    with store.transaction() as tx2:
        assert tx2.get(A, "role", "still-fine") == {}


def test_read_transaction_reads_and_refuses_writes(store):
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 1})
    with store.read_transaction() as tx:
        assert tx.get(A, "role", "r") == {"v": 1}
        with pytest.raises(RuntimeError):
            tx.insert(A, "role", "x", {})
        with pytest.raises(RuntimeError):
            tx.append_event(A, record("nope"))


def test_threads_write_concurrently_without_losing_anything(store):
    g0 = store.generation()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                with store.transaction() as tx:
                    tx.insert(A, "user", f"t{n}-u{i}", {"n": n, "i": i})
                    tx.append_event(A, record(f"t{n}-e{i}"))
                assert store.generation() > g0
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.transaction() as tx:
        assert len(tx.list(A, "user")) == 90
    assert store.generation() == g0 + 90
    assert len(list(store.events(A))) == 90


def test_reset_empties_documents_and_events_but_keeps_the_key(store, open_second):
    key = store.master_key()
    with store.transaction() as tx:
        tx.insert(A, "role", "r", {}, uid="AROARESET")
        tx.append_event(A, record("e-reset"))
    g = store.generation()
    store.reset()
    assert store.generation() > g
    with store.transaction() as tx:
        assert tx.list(A, "role") == []
        assert tx.by_uid("AROARESET") is None
        tx.insert(A, "role", "r", {"again": True}, uid="AROARESET")  # names and ids are free again
    assert list(store.events(A)) == []
    assert open_second().master_key() == key
