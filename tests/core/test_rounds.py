"""Periodic rounds claimed in the store: of several nodes on one database, one claims each round."""

from __future__ import annotations

from rolecall.core import rounds
from rolecall.store import GLOBAL, open_store


def test_one_claim_per_round_and_old_claims_go(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    other_node = open_store(data_dir=str(tmp_path))  # a second connection to the same database
    try:
        assert rounds.claim(store, "trail-a", 600.0, 300)
        assert not rounds.claim(other_node, "trail-a", 899.0, 300)  # the same round: already claimed
        assert rounds.claim(other_node, "trail-b", 899.0, 300)  # another key has rounds of its own
        assert rounds.claim(other_node, "trail-a", 900.0, 300)  # the next round
        with store.read_transaction() as tx:
            names = sorted(f"{d['key']}@{d['round']}" for d in tx.list(GLOBAL, rounds.KIND))
        assert names == ["trail-a@3", "trail-b@2"]
    finally:
        other_node.close()
        store.close()
