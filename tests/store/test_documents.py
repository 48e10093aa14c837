"""Documents: CRUD, case-insensitive names, unique ids, lookups across accounts."""

from __future__ import annotations

import pytest

from rolecall.store import GLOBAL, Conflict

A, B = "111111111111", "222222222222"


def test_insert_get_update_delete(store):
    with store.transaction() as tx:
        tx.insert(A, "role", "Deployer", {"RoleName": "Deployer", "Path": "/"}, uid="AROAEXAMPLE1")
    with store.transaction() as tx:
        assert tx.get(A, "role", "Deployer") == {"RoleName": "Deployer", "Path": "/"}
        tx.update(A, "role", "Deployer", {"RoleName": "Deployer", "Path": "/ops/"})
    with store.transaction() as tx:
        assert tx.get(A, "role", "Deployer")["Path"] == "/ops/"
        assert tx.delete(A, "role", "Deployer") is True
        assert tx.get(A, "role", "Deployer") is None
        assert tx.delete(A, "role", "Deployer") is False
        assert tx.by_uid("AROAEXAMPLE1") is None


def test_names_are_case_insensitive_but_keep_their_case(store):
    with store.transaction() as tx:
        tx.insert(A, "user", "Alice", {"UserName": "Alice"})
    with store.transaction() as tx:
        assert tx.get(A, "user", "ALICE") == {"UserName": "Alice"}
        tx.update(A, "user", "alice", {"UserName": "Alice", "Tags": []})
        assert tx.get(A, "user", "Alice") == {"UserName": "Alice", "Tags": []}
        with pytest.raises(Conflict):
            tx.insert(A, "user", "aLiCe", {"UserName": "aLiCe"})
        assert tx.delete(A, "user", "ALICE")


def test_same_name_in_another_account_or_kind_is_fine(store):
    with store.transaction() as tx:
        tx.insert(A, "role", "admin", {"n": 1})
        tx.insert(B, "role", "ADMIN", {"n": 2})
        tx.insert(A, "user", "Admin", {"n": 3})
        tx.insert(GLOBAL, "account", A, {"n": 4})
    with store.transaction() as tx:
        assert tx.get(A, "role", "admin") == {"n": 1}
        assert tx.get(B, "role", "admin") == {"n": 2}
        assert tx.get(A, "user", "admin") == {"n": 3}
        assert tx.get(GLOBAL, "account", A) == {"n": 4}


def test_uid_is_unique_across_accounts_and_kinds(store):
    with store.transaction() as tx:
        tx.insert(A, "role", "r1", {}, uid="AROA0000000000000001")
        with pytest.raises(Conflict):
            tx.insert(B, "user", "u1", {}, uid="AROA0000000000000001")
        # Documents without a uid never collide on it.
        tx.insert(A, "policy-version", "v1", {})
        tx.insert(A, "policy-version", "v2", {})
    with store.transaction() as tx:
        assert tx.get(B, "user", "u1") is None
        assert [d for d in tx.list(A, "policy-version")] == [{}, {}]


def test_conflict_leaves_the_transaction_usable(store):
    with store.transaction() as tx:
        tx.insert(A, "group", "devs", {"v": 1})
    with store.transaction() as tx:
        with pytest.raises(Conflict):
            tx.insert(A, "group", "DEVS", {"v": 2})
        tx.insert(A, "group", "ops", {"v": 3})
    with store.transaction() as tx:
        assert tx.get(A, "group", "devs") == {"v": 1}
        assert tx.get(A, "group", "ops") == {"v": 3}


def test_update_of_a_missing_document_is_a_key_error(store):
    with store.transaction() as tx, pytest.raises(KeyError):
        tx.update(A, "role", "ghost", {})


def test_list_is_ordered_by_lower_cased_name_and_scoped(store):
    names = ["beta", "Alpha", "gamma", "Delta", "alpha-2", "ALPHA_3"]
    with store.transaction() as tx:
        for name in names:
            tx.insert(A, "role", name, {"name": name})
        tx.insert(B, "role", "other-account", {"name": "x"})
        tx.insert(A, "user", "other-kind", {"name": "y"})
    with store.transaction() as tx:
        listed = [d["name"] for d in tx.list(A, "role")]
        assert tx.list(A, "nothing") == []
    assert listed == sorted(names, key=str.lower)


def test_find_and_by_uid_search_every_account(store):
    with store.transaction() as tx:
        tx.insert(B, "access-key", "AKIAEXAMPLEKEY000001", {"user": "bob"}, uid=None)
        tx.insert(A, "role", "Builder", {"RoleName": "Builder"}, uid="AROABUILDER000000001")
    with store.transaction() as tx:
        assert tx.find("access-key", "akiaexamplekey000001") == (B, {"user": "bob"})
        assert tx.find("access-key", "AKIAMISSING") is None
        assert tx.find("role", "builder") == (A, {"RoleName": "Builder"})
        assert tx.by_uid("AROABUILDER000000001") == (A, "role", {"RoleName": "Builder"})
        assert tx.by_uid("AROANOPE") is None


def test_documents_come_back_as_fresh_equal_copies(store):
    doc = {"Policy": {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "Name": "Zoë ☃", "n": 1.5}
    with store.transaction() as tx:
        tx.insert(A, "policy", "p", doc)
    doc["n"] = 99  # changing the caller's dict afterwards changes nothing stored
    with store.transaction() as tx:
        first = tx.get(A, "policy", "p")
        first["Policy"]["Statement"].clear()
        second = tx.get(A, "policy", "p")
    assert second == {
        "Policy": {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]},
        "Name": "Zoë ☃",
        "n": 1.5,
    }
    assert first is not second


def test_location_names_the_database_without_secrets(store, store_backend):
    if store_backend.name == "sqlite":
        assert store.kind == "sqlite"
        assert store.location.endswith("rolecall.db")
    else:
        assert store.kind == "postgresql"
        assert store.location.startswith("postgresql://postgres@127.0.0.1:5432/rolecall_test_")
