"""Object files are replaced atomically: a failed or killed write leaves the previous object whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rolecall.services.s3.storage.objects import TEMP_PREFIX, ObjectInfo, ObjectStore, write_atomically

BUCKET = "0123456789abcdef0123456789abcdef"


def info(key: str, body: bytes) -> ObjectInfo:
    return ObjectInfo(key=key, size=len(body), etag='"e"', last_modified=1_700_000_000)


def whole(store: ObjectStore, key: str) -> bytes | None:
    found = store.get(BUCKET, key, lambda i: (0, i.size))
    return None if found is None else found[1]


def test_a_failed_write_leaves_the_old_content(tmp_path):
    target = tmp_path / "object"
    write_atomically(target, [b"old content"])

    def chunks():
        yield b"new "
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(target, chunks())
    assert target.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["object"]  # the temporary file went too


def test_objects_round_trip_and_ignore_strays(tmp_path):
    store = ObjectStore(tmp_path)
    store.create_bucket(BUCKET)
    for key, body in (("b", b"2"), ("a/x", b"1"), ("\u00e9", b"3"), ("line\nbreak", b"4")):
        store.put(BUCKET, info(key, body), body)
    (tmp_path / BUCKET / f"{TEMP_PREFIX}leftover").write_bytes(b"half an obj")
    (tmp_path / BUCKET / "not-an-object").write_bytes(b"garbage")
    assert [i.key for i in store.list(BUCKET)] == ["a/x", "b", "line\nbreak", "\u00e9"]
    assert whole(store, "line\nbreak") == b"4"
    assert store.get(BUCKET, "b", lambda i: (0, 0)) == (store.head(BUCKET, "b"), b"")
    assert store.delete(BUCKET, "b") and not store.delete(BUCKET, "b")
    assert whole(store, "b") is None
    assert not store.is_empty(BUCKET)


# Writes a 64 MB object slowly, through the same write_atomically the server uses, until it is killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rolecall.services.s3.storage.objects import ObjectInfo, ObjectStore, write_atomically

    store = ObjectStore(Path(sys.argv[1]))
    info = ObjectInfo(key="k", size=64 << 20, etag='"new"', last_modified=1)

    def chunks():
        yield info.to_header()
        for _ in range(64):
            yield b"N" * (1 << 20)
            time.sleep(0.05)

    write_atomically(store._path(sys.argv[2], "k"), chunks())
    """
)


def test_a_killed_writer_leaves_the_old_object(tmp_path):
    store = ObjectStore(tmp_path)
    store.create_bucket(BUCKET)
    store.put(BUCKET, info("k", b"the old object"), b"the old object")
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), BUCKET],
        cwd=Path(__file__).resolve().parents[4],
    )
    try:
        deadline = time.time() + 20
        temp: list[Path] = []
        while time.time() < deadline:
            temp = [p for p in (tmp_path / BUCKET).iterdir() if p.name.startswith(TEMP_PREFIX)]
            if temp and temp[0].stat().st_size > 2 << 20:
                break
            assert child.poll() is None, "the writer finished before it could be killed"
            time.sleep(0.02)
        assert temp, "the writer never started"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert whole(store, "k") == b"the old object"  # readers never see the half-written one
    assert [i.key for i in store.list(BUCKET)] == ["k"]
    assert any(p.name.startswith(TEMP_PREFIX) for p in (tmp_path / BUCKET).iterdir())
