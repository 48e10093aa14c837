"""Where CloudWatch Logs keeps log groups, log streams and their events: store documents.

Log group and stream names are case-sensitive while document names are unique case-insensitively, so
documents are named by a digest of (region, group[, stream]) and hold the real names. Kinds:

  log-group         {region, logGroupName, creationTime, tags, ...}
  log-stream        {region, logGroupName, logStreamName, creationTime, serial}: never changed after
                    creation, so PutLogEvents can rewrite it unchanged to take the stream's row lock
                    (PostgreSQL runs READ COMMITTED: without it two concurrent appends could both read
                    the same state and one batch would be lost; SQLite serializes writers anyway)
  log-stream-state  {first, last, ingested, chunks, tail_count, tail_bytes, seq}: what the stream holds
  log-chunk         {events: [[timestamp, ingestionTime, seq, message], ...]}: the events, in chunks of
                    at most CHUNK_EVENTS events / CHUNK_BYTES bytes, named <stream digest>.<n>

Events are kept in ingestion order; readers sort by (timestamp, seq).
"""

from __future__ import annotations

import hashlib
from typing import Any

from rolecall.store import Tx

GROUP = "log-group"
STREAM = "log-stream"
STATE = "log-stream-state"
CHUNK = "log-chunk"

CHUNK_EVENTS = 2000
CHUNK_BYTES = 512 * 1024

Event = list[Any]  # [timestamp, ingestionTime, seq, message]


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode("utf-8")).hexdigest()[:40]


def group_key(region: str, group: str) -> str:
    return _digest(region, group)


def stream_key(region: str, group: str, stream: str) -> str:
    return _digest(region, group, stream)


def chunk_name(skey: str, index: int) -> str:
    return f"{skey}.{index}"


def get_group(tx: Tx, account: str, region: str, group: str) -> dict[str, Any] | None:
    return tx.get(account, GROUP, group_key(region, group))


def groups(tx: Tx, account: str, region: str) -> list[dict[str, Any]]:
    return [g for g in tx.list(account, GROUP) if g["region"] == region]


def get_stream(tx: Tx, account: str, region: str, group: str, stream: str) -> dict[str, Any] | None:
    return tx.get(account, STREAM, stream_key(region, group, stream))


def streams(tx: Tx, account: str, region: str, group: str) -> list[dict[str, Any]]:
    return [s for s in tx.list(account, STREAM) if s["region"] == region and s["logGroupName"] == group]


def state_of(tx: Tx, account: str, stream: dict[str, Any]) -> dict[str, Any]:
    skey = stream_key(stream["region"], stream["logGroupName"], stream["logStreamName"])
    return tx.get(account, STATE, skey) or new_state()


def states(tx: Tx, account: str) -> dict[str, dict[str, Any]]:
    """Every stream state of an account by stream digest (one query, for listings)."""
    return {s["key"]: s for s in tx.list(account, STATE)}


def stored_bytes(tx: Tx, account: str, region: str) -> dict[str, int]:
    """Bytes of event messages held per log group of a region."""
    out: dict[str, int] = {}
    for state in tx.list(account, STATE):
        if state.get("region") == region:
            out[state["logGroupName"]] = out.get(state["logGroupName"], 0) + state.get("bytes", 0)
    return out


def new_state() -> dict[str, Any]:
    return {
        "first": None,
        "last": None,
        "ingested": None,
        "chunks": 0,
        "tail_count": 0,
        "tail_bytes": 0,
        "seq": 0,
        "bytes": 0,
    }


def create_stream(tx: Tx, account: str, stream: dict[str, Any]) -> None:
    skey = stream_key(stream["region"], stream["logGroupName"], stream["logStreamName"])
    tx.insert(account, STREAM, skey, stream)
    tx.insert(
        account,
        STATE,
        skey,
        {**new_state(), "key": skey, "region": stream["region"], "logGroupName": stream["logGroupName"]},
    )


def lock_stream(tx: Tx, account: str, stream: dict[str, Any]) -> bool:
    """Take the stream's row lock until the transaction ends; False if the stream is gone meanwhile."""
    skey = stream_key(stream["region"], stream["logGroupName"], stream["logStreamName"])
    try:
        tx.update(account, STREAM, skey, stream)
    except KeyError:
        return False
    return True


def append_events(
    tx: Tx, account: str, stream: dict[str, Any], events: list[tuple[int, str]], now_ms: int
) -> int:
    """Store accepted (timestamp, message) events; the stream must be locked. Returns the next sequence."""
    skey = stream_key(stream["region"], stream["logGroupName"], stream["logStreamName"])
    state = tx.get(account, STATE, skey) or {**new_state(), "key": skey}
    if not events:
        return state["seq"]
    chunk = tx.get(account, CHUNK, chunk_name(skey, state["chunks"] - 1)) if state["chunks"] else None
    fresh = False
    for timestamp, message in events:
        size = len(message.encode("utf-8")) + 26
        if chunk is None or state["tail_count"] >= CHUNK_EVENTS or state["tail_bytes"] + size > CHUNK_BYTES:
            if chunk is not None:
                _save_chunk(tx, account, chunk_name(skey, state["chunks"] - 1), chunk, fresh)
            state["chunks"] += 1
            state["tail_count"] = state["tail_bytes"] = 0
            chunk, fresh = {"events": []}, True
        chunk["events"].append([timestamp, now_ms, state["seq"], message])
        state["seq"] += 1
        state["tail_count"] += 1
        state["tail_bytes"] += size
        state["bytes"] += size - 26
        state["first"] = timestamp if state["first"] is None else min(state["first"], timestamp)
        state["last"] = timestamp if state["last"] is None else max(state["last"], timestamp)
    _save_chunk(tx, account, chunk_name(skey, state["chunks"] - 1), chunk, fresh)
    state["ingested"] = now_ms
    tx.update(account, STATE, skey, state)
    return state["seq"]


def _save_chunk(tx: Tx, account: str, name: str, chunk: dict[str, Any] | None, fresh: bool) -> None:
    if chunk is None:
        return
    if fresh:
        tx.insert(account, CHUNK, name, chunk)
    else:
        tx.update(account, CHUNK, name, chunk)


def read_events(
    tx: Tx, account: str, stream: dict[str, Any], state: dict[str, Any] | None = None
) -> list[Event]:
    """Every event of a stream, ordered by (timestamp, seq)."""
    skey = stream_key(stream["region"], stream["logGroupName"], stream["logStreamName"])
    state = state or tx.get(account, STATE, skey) or new_state()
    out: list[Event] = []
    for index in range(state["chunks"]):
        chunk = tx.get(account, CHUNK, chunk_name(skey, index))
        if chunk:
            out.extend(chunk["events"])
    out.sort(key=lambda e: (e[0], e[2]))
    return out


def delete_stream(tx: Tx, account: str, stream: dict[str, Any]) -> None:
    """Remove a stream and its events. The stream document goes first: that waits for any append holding
    its lock, so the state read after it lists every chunk that append wrote."""
    skey = stream_key(stream["region"], stream["logGroupName"], stream["logStreamName"])
    tx.delete(account, STREAM, skey)
    state = tx.get(account, STATE, skey)
    for index in range((state or {}).get("chunks", 0)):
        tx.delete(account, CHUNK, chunk_name(skey, index))
    tx.delete(account, STATE, skey)
