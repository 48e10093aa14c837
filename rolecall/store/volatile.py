"""Kinds of documents that change with the data plane and feed no cached decision: their writes leave the
store generation alone, and the read cache (rolecall.store.readcache) never holds them.

A DynamoDB PutItem or a CloudWatch Logs PutLogEvents otherwise moved the generation like a policy change:
every node then dropped its compiled policies, signing keys and cached documents, and (PostgreSQL) the
write waited for every node to acknowledge. What these kinds hold is read by the operations that serve
them, in the request's transaction, and by no cache: nothing keyed by the generation depends on them.

The list lives here, with the store, rather than with the services that own the kinds, because it must be
the same in every process whatever it imported: a process that cached a volatile document would never
see the writes that leave the generation alone. tests/store/test_volatile.py checks it against the
services' own names. A volatile document carries no unique id (insert refuses one): the read cache keeps
by_uid's answers, a miss included, for the generation, and a volatile insert would not end it.
"""

from __future__ import annotations

VOLATILE_PREFIXES: tuple[str, ...] = (
    "dynamodb-item:",  # rolecall.services.dynamodb.store.item_kind: one kind per table
    "log-stream",  # rolecall.services.logs.store: STREAM (its row is the append lock), STATE
    "log-chunk",  # ... and CHUNK: the events themselves
    "cw-metric",  # rolecall.core.metrics.KIND: published datapoints
    "cw-alarm-history",  # rolecall.services.cloudwatch.alarms.HISTORY
    "cloudtrail-trail-status",  # rolecall.services.cloudtrail.trail_store.STATUS: delivery bookkeeping
    # rolecall.console.sessions: sign-in sessions, sign-ins awaiting MFA, failed-attempt counters. A failed
    # console sign-in moved the generation like a policy change, and dropped every node's caches with it.
    "console_",
)


def is_volatile(kind: str) -> bool:
    return kind.startswith(VOLATILE_PREFIXES)
