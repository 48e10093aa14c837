"""Several processes on one database: racing inserts, racing first starts, and crash durability."""

from __future__ import annotations

import multiprocessing
import os

from rolecall.store import Conflict, open_store

A = "111111111111"
PROCESSES = 4
SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections or locks


BARRIER_TIMEOUT = 30


def _report(results, work) -> None:
    """Run `work` and always put one result, so the parent never waits for a crashed child."""
    try:
        results.put(("ok", work()))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _race_inserts(where: dict, names: list[str], barrier, results) -> None:
    def work() -> list[str]:
        store = open_store(**where)
        won = []
        for name in names:
            barrier.wait(BARRIER_TIMEOUT)
            try:
                with store.transaction() as tx:
                    tx.insert(A, "role", name, {"by": os.getpid()})
                won.append(name)
            except Conflict:
                pass
        store.close()
        return won

    _report(results, work)


def _first_start(where: dict, barrier, results) -> None:
    def work() -> tuple[bytes, bool]:
        barrier.wait(BARRIER_TIMEOUT)
        store = open_store(**where)
        key = store.master_key()
        with store.transaction() as tx:
            tx.insert(A, "user", f"u{os.getpid()}", {})
        store.close()
        return key

    _report(results, work)


def _commit_then_die(where: dict) -> None:
    store = open_store(**where)
    with store.transaction() as tx:
        tx.insert(A, "role", "survivor", {"v": 1})
        tx.append_event(A, {"eventID": "survivor-event", "eventTime": "2026-11-28T18:00:00Z"})
    os._exit(0)  # no close(), no checkpoint, no interpreter cleanup


def run_all(target, args_per_process: list[tuple], results) -> list:
    """Start one process per argument tuple; their results, or the first child's error as a failure."""
    procs = [SPAWN.Process(target=target, args=args, daemon=True) for args in args_per_process]
    try:
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=90) for _ in procs]
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
    errors = [detail for status, detail in outcomes if status != "ok"]
    assert errors == []
    return [detail for _, detail in outcomes]


def where_of(store_backend) -> dict:
    return {"data_dir": store_backend.data_dir, "database_url": store_backend.database_url}


def test_racing_inserts_of_one_name_have_exactly_one_winner(store_backend):
    store = store_backend.open()  # schema in place before the race
    names = [f"Racer{i}" if i % 2 else f"racer{i}" for i in range(12)]
    barrier, results = SPAWN.Barrier(PROCESSES), SPAWN.Queue()
    # Each process spells the names in its own case: the race is on the case-insensitive key.
    args = [
        (where_of(store_backend), [n.upper() if p % 2 else n for n in names], barrier, results)
        for p in range(PROCESSES)
    ]
    wins = run_all(_race_inserts, args, results)
    won = sorted(n.lower() for w in wins for n in w)
    assert won == sorted(n.lower() for n in names)  # every name exactly once
    with store.transaction() as tx:
        assert len(tx.list(A, "role")) == len(names)
    assert store.generation() == len(names)


def test_processes_starting_together_on_a_new_database_agree(store_backend):
    barrier, results = SPAWN.Barrier(PROCESSES), SPAWN.Queue()
    keys = run_all(
        _first_start, [(where_of(store_backend), barrier, results) for _ in range(PROCESSES)], results
    )
    assert len({key for key, _ in keys}) == 1
    assert all(generated for _, generated in keys)
    store = store_backend.open()
    assert store.master_key() == keys[0]
    with store.transaction() as tx:
        assert len(tx.list(A, "user")) == PROCESSES
    assert store.generation() == PROCESSES


def test_a_committed_transaction_survives_the_process_dying(store_backend):
    store_backend.open().close()
    proc = SPAWN.Process(target=_commit_then_die, args=(where_of(store_backend),))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    store = store_backend.open()
    with store.transaction() as tx:
        assert tx.get(A, "role", "survivor") == {"v": 1}
    assert [r["eventID"] for r in store.events(A)] == ["survivor-event"]
    assert store.generation() == 1
