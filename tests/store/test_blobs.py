"""Blob storage (rolecall.store.blobs) on SQLite and PostgreSQL: bodies in chunked rows, committed with their
transaction, replaced whole, read by range, and never left behind by a failed, refused or killed write."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rolecall.store import BlobMissing, blobs
from rolecall.store.base import Blob

SPACE = "test:space"


@pytest.fixture
def small_chunks(monkeypatch):
    """10-byte chunks and 3-name pages, so small bodies and listings cross every boundary."""
    monkeypatch.setattr(blobs, "CHUNK", 10)
    monkeypatch.setattr(blobs, "PAGE", 3)


def count(store_backend, sql: str) -> int:
    if store_backend.name == "sqlite":
        conn = sqlite3.connect(os.path.join(store_backend.data_dir, "rolecall.db"))
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    with store_backend.raw() as conn:
        return conn.execute(sql).fetchone()[0]


def chunk_rows(store_backend) -> int:
    return count(store_backend, "SELECT count(*) FROM blob_chunks")


def orphans(store_backend) -> int:
    """Chunks no name points at."""
    return count(store_backend, "SELECT count(*) FROM blob_chunks WHERE blob NOT IN (SELECT id FROM blobs)")


def whole(store, name: str, space: str = SPACE) -> bytes | None:
    with store.read_transaction() as tx:
        blob = tx.blob(space, name)
        return None if blob is None else b"".join(tx.read_blob(blob))


def put(store, name: str, body: bytes, meta: dict | None = None, space: str = SPACE) -> Blob:
    with store.transaction() as tx:
        return tx.put_blob(space, name, meta or {}, [body])


def test_round_trip_in_chunks_with_ranges(store, store_backend, small_chunks):
    body = bytes(range(256)) * 3  # 768 bytes: 77 chunks
    pieces = [body[:5], body[5:40], b"", body[40:41], body[41:]]  # uneven pieces regrouped into chunks
    with store.transaction() as tx:
        blob = tx.put_blob(SPACE, "k", {"ETag": "e"}, iter(pieces))
    assert (blob.size, blob.meta) == (768, {"ETag": "e"})
    assert chunk_rows(store_backend) == 77
    with store.read_transaction() as tx:
        found = tx.blob(SPACE, "k")
        assert found == blob
        assert b"".join(tx.read_blob(found)) == body
        for start, end in [(0, 1), (9, 11), (10, 20), (15, 768), (767, 768), (0, 768), (300, 300), (5, 9999)]:
            assert b"".join(tx.read_blob(found, start, end)) == body[start:end], (start, end)
    # After the transaction, on any thread: the same bytes, a chunk at a time.
    assert b"".join(store.blob_stream(blob.id, 3, 700)) == body[3:700]
    assert [len(c) for c in store.blob_stream(blob.id, 3, 35)] == [7, 10, 10, 5]


def test_an_empty_body_has_no_chunks(store, store_backend):
    blob = put(store, "empty", b"")
    assert blob.size == 0 and chunk_rows(store_backend) == 0
    assert whole(store, "empty") == b""
    assert list(store.blob_stream(blob.id, 0, 0)) == []


def test_names_are_case_sensitive_and_listed_in_utf8_byte_order(store, small_chunks):
    names = ["b", "B", "a/x", "a/y", "a0", "\u00e9", "line\nbreak", "nul\x00inside", "\U0001f600", "a"]
    for name in names:
        put(store, name, name.encode())
    put(store, "other", b"x", space="test:other")
    ordered = sorted(names, key=lambda n: n.encode())
    with store.read_transaction() as tx:
        assert [b.name for b in tx.blobs(SPACE)] == ordered  # paged 3 at a time
        assert [b.name for b in tx.blobs(SPACE, prefix="a/")] == ["a/x", "a/y"]
        assert [b.name for b in tx.blobs(SPACE, prefix="a")] == ["a", "a/x", "a/y", "a0"]
        assert [b.name for b in tx.blobs(SPACE, after="a/x")] == ordered[ordered.index("a/x") + 1 :]
        assert [b.name for b in tx.blobs(SPACE, prefix="a", after="a/y")] == ["a0"]
        assert [b.name for b in tx.blobs(SPACE, prefix="zz")] == []
        assert tx.blob(SPACE, "nul\x00inside") is not None
    assert whole(store, "B") == b"B" and whole(store, "b") == b"b"
    assert whole(store, "line\nbreak") == b"line\nbreak"


def test_replacing_and_deleting_remove_the_old_chunks(store, store_backend, small_chunks):
    first = put(store, "k", b"x" * 35)
    second = put(store, "k", b"y" * 12, {"v": 2})
    assert first.id != second.id
    assert whole(store, "k") == b"y" * 12
    assert chunk_rows(store_backend) == 2 and orphans(store_backend) == 0
    with pytest.raises(BlobMissing):  # a reader of the replaced body never gets the new one's bytes
        list(store.blob_stream(first.id, 0, 35))
    for name in ("p/1", "p/2", "q/1"):
        put(store, name, b"z" * 25)
    with store.transaction() as tx:
        assert tx.delete_blob(SPACE, "k") and not tx.delete_blob(SPACE, "k")
        assert tx.delete_blobs(SPACE, prefix="p/") == 2
    with store.read_transaction() as tx:
        assert [b.name for b in tx.blobs(SPACE)] == ["q/1"]
    assert chunk_rows(store_backend) == 3 and orphans(store_backend) == 0
    with store.transaction() as tx:
        assert tx.delete_blobs(SPACE) == 1
    assert chunk_rows(store_backend) == 0


def test_a_failed_write_leaves_the_old_body_and_no_chunks(store, store_backend, small_chunks):
    put(store, "k", b"the old body")

    def chunks():
        yield b"n" * 45
        raise OSError("the client went away")

    with pytest.raises(OSError), store.transaction() as tx:
        tx.put_blob(SPACE, "k", {}, chunks())
    assert whole(store, "k") == b"the old body"
    assert chunk_rows(store_backend) == 2 and orphans(store_backend) == 0


def test_a_refused_write_leaves_no_chunks(store, store_backend, small_chunks):
    """The check sees what the name holds under the write's lock; raising refuses the write."""
    put(store, "k", b"current")
    seen = []

    def only_if_absent(current: Blob | None) -> None:
        seen.append(current)
        if current is not None:
            raise FileExistsError("k")

    with pytest.raises(FileExistsError), store.transaction() as tx:
        tx.put_blob(SPACE, "k", {}, [b"n" * 95], check=only_if_absent)
    assert seen[0] is not None and seen[0].size == 7
    assert whole(store, "k") == b"current" and chunk_rows(store_backend) == 1
    with store.transaction() as tx:
        tx.put_blob(SPACE, "new", {}, [b"fresh"], check=only_if_absent)
    assert seen[-1] is None and whole(store, "new") == b"fresh"


def test_compose_copies_or_takes_over_bodies(store, store_backend, small_chunks):
    parts = [put(store, f"part/{n}", body) for n, body in enumerate([b"a" * 23, b"b" * 10, b"c" * 4])]
    with store.transaction() as tx:
        copied = tx.compose_blob(SPACE, "copy", {"c": 1}, parts[:2])
    assert whole(store, "copy") == b"a" * 23 + b"b" * 10 and copied.size == 33
    assert whole(store, "part/0") == b"a" * 23  # a copy leaves its sources whole
    with store.transaction() as tx:
        moved = tx.compose_blob(SPACE, "moved", {}, parts, move=True)
        assert tx.delete_blobs(SPACE, prefix="part/") == 3
    assert moved.size == 37
    with store.read_transaction() as tx:
        assert b"".join(tx.read_blob(moved, 20, 36)) == b"a" * 3 + b"b" * 10 + b"c" * 3
    assert orphans(store_backend) == 0
    # A source no longer whole (replaced since it was read) refuses the composition.
    source = put(store, "source", b"s" * 30)
    put(store, "source", b"t" * 30)
    with pytest.raises(BlobMissing), store.transaction() as tx:
        tx.compose_blob(SPACE, "from-gone", {}, [source])
    assert whole(store, "from-gone") is None and orphans(store_backend) == 0


def test_a_document_hold(store):
    with store.transaction() as tx:
        tx.insert("111111111111", "s3-bucket", "B1", {})
        assert tx.hold("111111111111", "s3-bucket", "b1")
        assert not tx.hold("111111111111", "s3-bucket", "b2")


@pytest.mark.postgres
def test_two_writers_of_one_name_last_commit_wins(pg_backend, monkeypatch):
    """Two nodes write the same name at once: B binds it first and holds its row lock; A, whose chunks are
    written meanwhile, waits for B's commit, then replaces B's body whole, and B's chunks go."""
    monkeypatch.setattr(blobs, "CHUNK", 10)
    node_a, node_b = pg_backend.open(), pg_backend.open()
    put(node_a, "k", b"original")
    b_bound, a_writing = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def b() -> None:
        try:
            with node_b.transaction() as tx:
                tx.put_blob(SPACE, "k", {"by": "B"}, [b"B" * 50])
                b_bound.set()
                a_writing.wait(10)
                time.sleep(0.3)  # A is now blocked on the name's lock (or about to be)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def a() -> None:
        def chunks():
            b_bound.wait(10)
            a_writing.set()
            yield b"A" * 50

        try:
            with node_a.transaction() as tx:
                tx.put_blob(SPACE, "k", {"by": "A"}, chunks())
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=b), threading.Thread(target=a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert failures == []
    assert whole(node_b, "k") == b"A" * 50
    with node_b.read_transaction() as tx:
        assert tx.blob(SPACE, "k").meta == {"by": "A"}
    assert orphans(pg_backend) == 0 and chunk_rows(pg_backend) == 5


# Writes a 40-chunk body slowly in one transaction until it is killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from rolecall.store import blobs, open_store

    blobs.CHUNK = 1024
    store = open_store(data_dir=sys.argv[1], database_url=sys.argv[2] or None)

    def chunks():
        for n in range(40):
            yield b"N" * 1024
            if n == 5:
                print("writing", flush=True)
            time.sleep(0.25)

    with store.transaction() as tx:
        tx.put_blob("test:space", "k", {}, chunks())
    """
)


def test_a_killed_writer_leaves_the_old_body(store, store_backend):
    put(store, "k", b"the old body")
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_backend.data_dir, store_backend.database_url or ""],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    reopened = store_backend.open()
    assert whole(reopened, "k") == b"the old body"
    deadline = time.time() + 10  # PostgreSQL notices the dead connection and rolls back
    while chunk_rows(store_backend) != 1 and time.time() < deadline:
        time.sleep(0.05)
    assert chunk_rows(store_backend) == 1 and orphans(store_backend) == 0


def test_upgrade_from_version_3_adds_the_blob_tables(store_backend):
    from tests.store.test_migrations import build_at, version_of

    build_at(store_backend, 3)
    store = store_backend.open()
    assert version_of(store_backend) == 4
    with store.transaction() as tx:
        assert tx.get("111111111111", "role", "legacy") == {"RoleName": "Legacy"}
        tx.put_blob(SPACE, "k", {}, [b"after the upgrade"])
    assert whole(store, "k") == b"after the upgrade"
