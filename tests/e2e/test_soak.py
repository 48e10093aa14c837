"""A soak: mixed traffic from several accounts against one server process, in two equal rounds. What the
server holds after the second round -- resident memory, open descriptors, threads -- is what it held after
the first, give or take noise: nothing grows with the number of requests served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.servers import Server

ROUND_SECONDS = float(os.environ.get("ROLECALL_SOAK_SECONDS", "12"))
TRUST_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def held(pid: int) -> tuple[int, int, int]:
    """(resident kB, open descriptors, threads) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return (
        int(fields["VmRSS"].split()[0]),
        len(os.listdir(f"/proc/{pid}/fd")),
        int(fields["Threads"]),
    )


def account_clients(srv: Server, data_dir: Path, account_id: str) -> dict:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "rolecall",
            "account",
            "create",
            "--account-id",
            account_id,
            "--data-dir",
            str(data_dir),
        ],
        env=srv.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    keys = json.loads(made.stdout)
    return {
        svc: srv.client(svc, keys["AccessKeyId"], keys["SecretAccessKey"])
        for svc in ("iam", "sts", "s3", "logs", "cloudtrail")
    }


def traffic(clients: dict, account: str, stop: threading.Event, errors: list[str]) -> None:
    iam, sts, s3, logs, trail = (clients[k] for k in ("iam", "sts", "s3", "logs", "cloudtrail"))
    bucket = f"soak-{account}"
    s3.create_bucket(Bucket=bucket)
    logs.create_log_group(logGroupName="/soak")
    logs.create_log_stream(logGroupName="/soak", logStreamName="s")
    role = iam.create_role(RoleName="soak", AssumeRolePolicyDocument=TRUST_ACCOUNT)["Role"]
    n = 0
    while not stop.is_set():
        n += 1
        try:
            name = f"u-{uuid.uuid4().hex[:10]}"
            iam.create_user(UserName=name)
            iam.get_user(UserName=name)
            iam.delete_user(UserName=name)
            iam.get_role(RoleName="soak")
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName=f"s{n}")
            s3.put_object(Bucket=bucket, Key=f"k{n % 20}", Body=b"x" * 2048)
            s3.get_object(Bucket=bucket, Key=f"k{n % 20}")["Body"].read()
            logs.put_log_events(
                logGroupName="/soak",
                logStreamName="s",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}],
            )
            trail.lookup_events(MaxResults=5)
            try:
                iam.get_user(UserName="nobody-here")
            except ClientError:
                pass
        except Exception as exc:  # any failure is a finding: keep it for the assertion
            errors.append(repr(exc))
            return


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_nothing_grows_with_requests(tmp_path):
    srv = Server(tmp_path, extra_args=["--threads", "8"]).start()
    try:
        accounts = [f"10000000000{i}" for i in range(3)]
        clients = {a: account_clients(srv, tmp_path, a) for a in accounts}
        samples = []
        errors: list[str] = []
        for _ in range(2):
            stop = threading.Event()
            workers = [threading.Thread(target=traffic, args=(clients[a], a, stop, errors)) for a in accounts]
            for w in workers:
                w.start()
            time.sleep(ROUND_SECONDS)
            stop.set()
            for w in workers:
                w.join(60)
            time.sleep(1)  # the trail writer's last batch
            samples.append(held(srv.proc.pid))
            for a in accounts:  # the next round makes them again
                c = clients[a]
                c["iam"].delete_role(RoleName="soak")
                for obj in c["s3"].list_objects_v2(Bucket=f"soak-{a}").get("Contents", []):
                    c["s3"].delete_object(Bucket=f"soak-{a}", Key=obj["Key"])
                c["s3"].delete_bucket(Bucket=f"soak-{a}")
                c["logs"].delete_log_group(logGroupName="/soak")
        print("held after each round (rss kB, fds, threads):", samples)
        assert not errors, errors[:3]
        (rss1, fds1, threads1), (rss2, fds2, threads2) = samples
        assert fds2 <= fds1 + 4, samples
        assert threads2 <= threads1 + 2, samples
        assert rss2 <= rss1 * 1.15 + 8_000, samples  # kB: noise and the allocator's slack, not a leak's slope
    finally:
        srv.stop()
