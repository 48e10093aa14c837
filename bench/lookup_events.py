"""LookupEvents latency against the trail's size, and what a caller's own latest call costs it.

    python bench/lookup_events.py                       # trails of 1,000 and 100,000 records
    python bench/lookup_events.py --sizes 1000000       # a million (filling takes minutes)

For each size, a SQLite store in a temporary directory gets that many records (written in batches, as
the trail writer writes them), and an in-process pipeline serves iam:GetRole and cloudtrail:LookupEvents
as the account's root. A round is: one GetRole (its record is queued on the trail writer), then
LookupEvents, which must flush that record first and then query. Printed: the median and worst time of
LookupEvents over the rounds, unfiltered and by EventName, and whether every round saw its own GetRole.
Before the writer flushed on demand, each LookupEvents waited out the writer's 50 ms interval.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ACCOUNT = "123456789012"


def fill(store, count: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5000
    for first in range(0, count, batch):
        items = []
        for i in range(first, min(first + batch, count)):
            moment = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            items.append(
                (
                    ACCOUNT,
                    {
                        "eventID": f"fill-{i}",
                        "eventTime": moment,
                        "eventName": ("GetRole", "ListRoles", "AssumeRole", "GetCallerIdentity")[i % 4],
                        "eventSource": "iam.amazonaws.com",
                        "requestID": f"fill-req-{i}",
                        "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
                        "resources": [
                            {"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{ACCOUNT}:role/r{i % 500}"}
                        ],
                    },
                )
            )
        with store.transaction() as tx:
            tx.append_events(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)

    from rolecall.app import build_pipeline
    from rolecall.authn import root_caller
    from rolecall.core.config import ServerConfig
    from rolecall.credentials.secretbox import SecretBox
    from rolecall.store import GLOBAL, open_store

    print(
        f"{'records':>10} {'fill s':>7} {'LookupEvents ms (median/max)':>30} {'by EventName ms':>16} own call seen"
    )
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="rolecall-lookup-") as tmp:
            store = open_store(data_dir=tmp)
            with store.transaction() as tx:
                tx.insert(
                    GLOBAL, "account", ACCOUNT, {"AccountId": ACCOUNT, "CreateDate": "2026-01-01T00:00:00Z"}
                )
                tx.insert(ACCOUNT, "role", "r1", {"RoleName": "r1"})
            started = time.perf_counter()
            fill(store, size)
            filled = time.perf_counter() - started
            config = ServerConfig(
                secret_box=SecretBox(b"k" * 32), token_box=SecretBox(b"t" * 32), data_dir=tmp
            )
            pipeline = build_pipeline(store, config)
            root = root_caller(ACCOUNT, None)
            plain, named, seen = [], [], 0
            for _ in range(args.rounds):
                try:
                    pipeline.invoke(root, "iam", "GetRole", {"RoleName": "missing"})
                except Exception:
                    pass  # NoSuchEntity: a denied or failed read is queued on the writer all the same
                t0 = time.perf_counter()
                out = pipeline.invoke(root, "cloudtrail", "LookupEvents", {"MaxResults": 5})
                t1 = time.perf_counter()
                pipeline.invoke(
                    root,
                    "cloudtrail",
                    "LookupEvents",
                    {
                        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}],
                        "MaxResults": 5,
                    },
                )
                t2 = time.perf_counter()
                plain.append(1000 * (t1 - t0))
                named.append(1000 * (t2 - t1))
                seen += any(e["EventName"] == "GetRole" and "fill" not in e["EventId"] for e in out["Events"])
            pipeline.close()
            store.close()
        print(
            f"{size:>10,} {filled:7.1f} {statistics.median(plain):17.2f} / {max(plain):8.2f} "
            f"{statistics.median(named):8.2f} / {max(named):5.2f} {seen}/{args.rounds}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
