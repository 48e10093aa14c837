"""`rolecall serve`'s trail writer process: the records of reads and denials reach the store through it, it is
not left behind when the server dies, and --trail-writer thread still works."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from rolecall.store import open_store
from tests.servers import Server


def _writer_children(pid: int) -> list[int]:
    """The server's trail writer processes (python -m rolecall.store.event_pipe), by their parent."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"rolecall.store.event_pipe" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_server_leaves_no_writer_behind_and_its_records_are_written(tmp_path):
    srv = Server(tmp_path).start()
    try:
        [child] = _writer_children(srv.proc.pid)
        sts = srv.client("sts")
        for _ in range(20):
            sts.get_caller_identity()
        denied = srv.session(key="AKIANOSUCHKEY0000000", secret="x" * 40).client(
            "iam", endpoint_url=srv.url, region_name="us-east-1"
        )
        with pytest.raises(ClientError):
            denied.list_roles()
        os.kill(srv.proc.pid, signal.SIGKILL)  # no shutdown: the writer sees its pipe close
        srv.proc.wait()
        deadline = time.time() + 20
        while _alive(child) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
        store = open_store(data_dir=str(tmp_path))
        try:
            names = [r["eventName"] for r in store.events(srv.account)]
        finally:
            store.close()
        assert (
            names.count("GetCallerIdentity") == 20
        )  # everything it had been sent was written before it ended
    finally:
        srv.stop()


def test_the_thread_writer_still_records_and_lookup_events_sees_at_once(tmp_path):
    srv = Server(tmp_path, extra_args=["--trail-writer", "thread"]).start()
    try:
        assert _writer_children(srv.proc.pid) == []
        srv.client("sts").get_caller_identity()
        events = srv.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
        )["Events"]
        assert len(events) == 1
    finally:
        srv.stop()
