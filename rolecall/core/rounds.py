"""Periodic work that one node of many must do once: a trail's delivery, an evaluation of the alarms.

Each node runs the work on its own timer; before a round, a node claims it by inserting a store document
named KEY@ROUND (ROUND = the clock's time divided by the interval). The store refuses a second insert of a
name (Conflict), so of the nodes sharing one database exactly one claims each round, and the others skip
it -- no log file delivered twice, no alarm notification sent twice. A claim replaces the key's older ones.
"""

from __future__ import annotations

from rolecall.store import GLOBAL, Conflict, Store

KIND = "periodic-round"


def claim(store: Store, key: str, now: float, interval: float) -> bool:
    """Whether this node claimed the round of `key` that `now` falls in (False: another node has it)."""
    number = int(now // max(interval, 0.001))
    name = f"{key}@{number}"
    try:
        with store.transaction() as tx:
            tx.insert(GLOBAL, KIND, name, {"key": key, "round": number})
            for old in tx.list(GLOBAL, KIND):
                if old["key"] == key and old["round"] < number:
                    tx.delete(GLOBAL, KIND, f"{key}@{old['round']}")
    except Conflict:
        return False
    return True
