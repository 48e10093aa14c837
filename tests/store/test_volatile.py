"""Volatile kinds (rolecall.store.volatile): data-plane documents whose writes leave the generation alone,
and which reads therefore always take from the database, on every node."""

from __future__ import annotations

from rolecall.store.volatile import is_volatile

A = "111111111111"
ITEM = "dynamodb-item:t-0001"


def test_a_volatile_write_leaves_the_generation_and_is_read_at_once_on_every_node(store_backend):
    first, second = store_backend.open(), store_backend.open()
    with first.transaction() as tx:
        tx.insert(A, "role", "r", {"v": 1})
    generation = first.generation()
    with second.read_transaction() as tx:  # the role is cached on the second node from here on
        assert tx.get(A, "role", "r") == {"v": 1}
        assert tx.get(A, ITEM, "k") is None
    with first.transaction() as tx:
        tx.insert(A, ITEM, "k", {"Item": 1})
    assert first.generation() == second.generation() == generation
    for _ in range(2):
        with second.read_transaction() as tx:
            assert tx.get(A, ITEM, "K") == {"Item": 1}
            assert tx.find(ITEM, "k") == (A, {"Item": 1})
            assert tx.get(A, "role", "r") == {"v": 1}
    with first.transaction() as tx:
        tx.update(A, ITEM, "k", {"Item": 2})
    with second.read_transaction() as tx:
        assert tx.get(A, ITEM, "k") == {"Item": 2}
    with first.transaction() as tx:
        assert tx.delete(A, ITEM, "k")
    with second.read_transaction() as tx:
        assert tx.get(A, ITEM, "k") is None
    assert second.generation() == generation
    with first.transaction() as tx:  # any other kind still moves it, in the same transaction or not
        tx.insert(A, ITEM, "k2", {"Item": 3})
        tx.update(A, "role", "r", {"v": 2})
    assert second.generation() == generation + 1
    with second.read_transaction() as tx:
        assert tx.get(A, "role", "r") == {"v": 2}
        assert tx.get(A, ITEM, "k2") == {"Item": 3}


def test_a_volatile_document_takes_no_unique_id(store):
    import pytest

    with pytest.raises(ValueError), store.transaction() as tx:
        tx.insert(A, ITEM, "k", {}, uid="AIDAVOLATILE")


def test_the_services_data_plane_kinds_are_volatile_and_their_control_plane_kinds_are_not():
    from rolecall.console import sessions
    from rolecall.core import metrics
    from rolecall.services.cloudtrail import trail_store
    from rolecall.services.cloudwatch import alarms
    from rolecall.services.dynamodb import store as dynamodb
    from rolecall.services.logs import store as logs

    for kind in (
        dynamodb.item_kind({"TableId": "abc"}),
        logs.STREAM,
        logs.STATE,
        logs.CHUNK,
        metrics.KIND,
        alarms.HISTORY,
        trail_store.STATUS,
        sessions.KIND,
        sessions.PENDING_KIND,
        sessions.LOCK_KIND,
    ):
        assert is_volatile(kind), kind
    for kind in (
        dynamodb.TABLE,
        logs.GROUP,
        alarms.ALARM,
        trail_store.TRAIL,
        "role",
        "user",
        "policy",
        "access_key",
    ):
        assert not is_volatile(kind), kind
