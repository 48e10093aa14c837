"""LookupEvents latency against the trail's size, for each common query shape, on SQLite and PostgreSQL.

    python bench/lookup_events.py                                  # trails of 1,000 and 100,000 records
    python bench/lookup_events.py --sizes 1000 1000000             # a million (1.5-2 minutes to fill)
    python bench/lookup_events.py --sizes 1000 1000000 --postgres  # and the same on PostgreSQL
    python bench/lookup_events.py --explain                        # and each shape's plan at the largest size

For each size, a store (SQLite in a temporary directory; with --postgres then a scratch database on
127.0.0.1:5432) gets that many records written straight into `events` and `event_resources` in the store's
own format (the columns Tx.append_events derives with index_record, the record as schema.dump writes it),
in batches of 20,000 (executemany; COPY on PostgreSQL) rather than through a million API calls. A tenth of
the records belong to another account; the last tenth of the fill (at most 20,000 records) shares one
second, as a load test leaves a trail. An in-process pipeline then serves cloudtrail:LookupEvents as the
account's root, for each shape:

  own call     one iam:GetRole (queued on the trail writer: a child process, as rolecall serve's default,
               or with --trail-writer thread a thread), then an unfiltered LookupEvents, which must flush
               that record first: every round has to see its own call
  newest       no filter, the newest page
  EventName / Username / ResourceName / ResourceType / AccessKeyId   one lookup attribute, common and rare
  time range   StartTime/EndTime: an hour in the middle of the trail, alone and with EventName
  page N       following NextToken (the token of page N-1, taken before timing); pages 100 and 300 are
               deep in the burst of equal event times
  no match     a filter that matches nothing (an absent EventName, Username, ResourceName; a time range
               before the trail began, alone and with an attribute; another account's EventId): it must
               not scan the trail

Pages are the default 50 records. Every size's trail stays open and their shapes take turns, round by
round, so that load from the rest of the machine falls on all of them alike: the small trail is the
large one's peer at each moment. Printed per shape and size: the median wall time of LookupEvents in ms
and the CPU time per request (this process's, every thread's, during the call; not the writer
process's: it moves less than wall time on the shared machine); `ratio`, the largest trail against the
smallest (`events` gives the records returned at each size: a page of fewer records costs less);
`÷newest`, the shape against the unfiltered newest page of the same trail (a full page of any shape
should cost what that one costs, a page that finds nothing less). The peer on the same table, `raw`, is
a bare primary-key SELECT of the table's newest 51 rows on a connection of its own plus json.loads of 50
of them: the least any page of 50 can cost. Also printed: the process's resident memory with every
trail filled and after the lookups.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"  # a tenth of the records: a lookup must not wander into another account's
START = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ("GetRole", "ListRoles", "AssumeRole", "GetCallerIdentity")
BATCH = 20_000
K = TypeVar("K")


# --- the records ---------------------------------------------------------------------------------------


def burst_start(count: int) -> int:
    """The fill's last tenth (at most 20,000 records) is a burst within one second, as a load test leaves it:
    records with equal event times, which a page token must step through without rescanning them."""
    return count - min(20_000, count // 10)


def make_record(i: int, count: int) -> tuple[str, dict[str, Any]]:
    """Record i of the fill: one a second from START, then the burst; a few shapes of identity, event and
    resource."""
    moment = (START + timedelta(seconds=min(i, burst_start(count)))).strftime("%Y-%m-%dT%H:%M:%SZ")
    account = OTHER_ACCOUNT if i % 10 == 9 else ACCOUNT
    if i % 10 == 3:
        identity = {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{account}:user/u{i % 100}",
            "userName": f"u{i % 100}",
            "accessKeyId": f"AKIAFILL{i % 100:012d}",
        }
    else:
        identity = {
            "type": "Root",
            "arn": f"arn:aws:iam::{account}:root",
            "accessKeyId": "AKIAROOTFILL00000000",
        }
    name = "CreateRole" if i % 10_000 == 0 else NAMES[i % 4]  # CreateRole: one in 10,000, the rare name
    return account, {
        "eventVersion": "1.08",
        "eventID": f"fill-{i:08d}",
        "eventTime": moment,
        "eventName": name,
        "eventSource": "sts.amazonaws.com"
        if name in ("AssumeRole", "GetCallerIdentity")
        else "iam.amazonaws.com",
        "awsRegion": "us-east-1",
        "requestID": f"fill-req-{i}",
        "readOnly": name != "CreateRole",
        "userIdentity": identity,
        "resources": [{"type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{account}:role/r{i % 500}"}],
    }


@dataclass
class Rows:
    events: list[tuple[Any, ...]]
    resources: list[tuple[Any, ...]]


def store_rows(
    first: int, count: int, total: int, first_seq: int, encode_time: Callable[[datetime], Any]
) -> Rows:
    """Records first..first+count-1 (of total) as Tx.append_events writes them: the same derived columns."""
    from rolecall.store import schema
    from rolecall.store.events import index_record

    rows = Rows([], [])
    for n in range(count):
        account, record = make_record(first + n, total)
        event = index_record(record)
        seq, when = first_seq + n, encode_time(event.event_time)
        rows.events.append((seq, *event.columns(account, when), schema.dump(record)))
        rows.resources += [(account, attr, value, when, seq) for attr, value in event.resources]
    return rows


COLUMNS = (
    "seq, event_id, account, event_time, event_name, event_source, username, access_key_id, read_only, "
    "request_id, record"
)


def fill_sqlite(path: Path, count: int) -> None:
    """Batches of executemany on a connection of its own; one transaction per batch keeps memory flat."""
    from rolecall.store.events import time_text

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # the fill only: a crash loses a scratch trail
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: event_resources' key is written out of order
    first_seq = (conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0) + 1
    for first in range(0, count, BATCH):
        rows = store_rows(first, min(BATCH, count - first), count, first_seq + first, time_text)
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * 11)})", rows.events)
        conn.executemany(
            "INSERT INTO event_resources (account, attr, value, event_time, seq) VALUES (?, ?, ?, ?, ?)",
            rows.resources,
        )
        conn.execute("COMMIT")
    conn.close()


def fill_postgres(url: str, count: int) -> None:
    """COPY in batches; seq given explicitly (COPY may set an identity column), the sequence moved past it."""
    import psycopg

    from rolecall.store.events import utc

    with psycopg.connect(url) as conn:
        first_seq = (conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0) + 1
        for first in range(0, count, BATCH):
            rows = store_rows(first, min(BATCH, count - first), count, first_seq + first, utc)
            with conn.cursor() as cur:
                with cur.copy(f"COPY events ({COLUMNS}) FROM STDIN") as copy:
                    for row in rows.events:
                        copy.write_row(row)
                with cur.copy(
                    "COPY event_resources (account, attr, value, event_time, seq) FROM STDIN"
                ) as copy:
                    for row in rows.resources:
                        copy.write_row(row)
            conn.commit()
        conn.execute("SELECT setval(pg_get_serial_sequence('events', 'seq'), (SELECT max(seq) FROM events))")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE events")  # what autovacuum does shortly after a bulk load
        conn.execute("VACUUM ANALYZE event_resources")
        # And what the checkpointer does: without it, the fill's gigabyte of dirty pages is written out
        # during the measurement, which then times the disk.
        conn.execute("CHECKPOINT")


# --- the shapes ----------------------------------------------------------------------------------------


def attr(key: str, value: str) -> dict[str, Any]:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


def shapes(size: int) -> list[tuple[str, dict[str, Any], int]]:
    """(label, LookupEvents params, page): page > 1 follows NextToken from page 1 to that page."""
    middle = START + timedelta(seconds=size // 2)
    hour = {"StartTime": middle, "EndTime": middle + timedelta(hours=1)}
    before = {"StartTime": START - timedelta(days=30), "EndTime": START - timedelta(days=1)}
    return [
        ("newest", {}, 1),
        ("EventName (1 in 4)", attr("EventName", "AssumeRole"), 1),
        ("EventName (1 in 10,000)", attr("EventName", "CreateRole"), 1),
        ("Username (1 in 100)", attr("Username", "u13"), 1),
        ("Username root (9 in 10)", attr("Username", "root"), 1),
        ("ResourceName (1 in 500)", attr("ResourceName", "r7"), 1),
        ("ResourceType (all)", attr("ResourceType", "AWS::IAM::Role"), 1),
        ("AccessKeyId (1 in 100)", attr("AccessKeyId", "AKIAFILL000000000013"), 1),
        ("time range (1 h)", hour, 1),
        ("time range + EventName", {**hour, **attr("EventName", "GetRole")}, 1),
        ("page 2", {}, 2),
        ("page 10", {}, 10),
        ("page 100 (in the burst)", {}, 100),
        ("page 300 (in the burst)", {}, 300),
        ("page 10 by ResourceType", attr("ResourceType", "AWS::IAM::Role"), 10),
        ("no match: EventName", attr("EventName", "DeleteAccount"), 1),
        ("no match: Username", attr("Username", "nobody"), 1),
        ("no match: ResourceName", attr("ResourceName", "nothing"), 1),
        ("no match: time range", before, 1),
        ("no match: range + attr", {**before, **attr("EventName", "GetRole")}, 1),
        ("no match: other account's", attr("EventId", "fill-00000009"), 1),
    ]


@dataclass
class Figure:
    median_ms: float
    cpu_ms: float
    results: int


def timed(rounds: int, calls: dict[K, Callable[[], Any]]) -> dict[K, Figure]:
    """Each call `rounds` times, taking turns (round by round through every shape), so that a burst of load
    from the rest of the machine falls on all shapes alike rather than on whichever ran then."""
    last: dict[K, Any] = {label: call() for label, call in calls.items()}  # warm: statement caches, pages
    walls: dict[K, list[float]] = {label: [] for label in calls}
    cpus: dict[K, float] = dict.fromkeys(calls, 0.0)
    for _ in range(rounds):
        for label, call in calls.items():
            c0, t0 = time.process_time(), time.perf_counter()
            last[label] = call()
            walls[label].append(1000 * (time.perf_counter() - t0))
            cpus[label] += time.process_time() - c0
    return {
        label: Figure(
            statistics.median(walls[label]),
            1000 * cpus[label] / rounds,
            len(out["Events"]) if isinstance(out, dict) else int(out or 0),
        )
        for label, out in last.items()
    }


# --- one store -----------------------------------------------------------------------------------------


@contextmanager
def filled_store(backend: str, size: int) -> Iterator[tuple[Any, str, float]]:
    """(store, where, fill seconds): a migrated store holding `size` fill records."""
    from rolecall.store import GLOBAL, open_store

    with tempfile.TemporaryDirectory(prefix="rolecall-lookup-") as tmp:
        url = None
        if backend == "postgres":
            from tests.servers import create_pg_database

            url = create_pg_database()
        try:
            store = open_store(data_dir=tmp, database_url=url)  # migrates
            with store.transaction() as tx:
                for account in (ACCOUNT, OTHER_ACCOUNT):
                    tx.insert(
                        GLOBAL,
                        "account",
                        account,
                        {"AccountId": account, "CreateDate": "2026-01-01T00:00:00Z"},
                    )
            started = time.perf_counter()
            if url:
                fill_postgres(url, size)
            else:
                fill_sqlite(Path(tmp) / "rolecall.db", size)
            filled = time.perf_counter() - started
            check_format(store, url or str(Path(tmp) / "rolecall.db"), size)
            yield store, url or str(Path(tmp) / "rolecall.db"), filled
            store.close()
        finally:
            if url:
                from tests.servers import drop_pg_database

                drop_pg_database(url)


def check_format(store: Any, where: str, size: int) -> None:
    """The fill wrote what the store writes: record 1 again through Tx.append_events (under another
    eventID) gets the same columns and resource rows as the fill gave it."""
    account, record = make_record(1, size)
    with store.transaction() as tx:
        # Two records: a batch of one takes Tx.append_event's path, and the writer writes batches.
        second = {**make_record(2, size)[1], "eventID": "check-2"}
        tx.append_events([(account, {**record, "eventID": "check"}), (account, second)])
    cols = "account, event_time, event_name, event_source, username, access_key_id, read_only, request_id"
    events = f"SELECT {cols}, record, seq FROM events WHERE event_id = {{p}} OR event_id = {{p}} ORDER BY seq"
    resources = (
        "SELECT account, attr, value, event_time FROM event_resources WHERE seq = {p} ORDER BY attr, value"
    )
    if where.startswith("postgresql://"):
        import psycopg

        conn: Any = psycopg.connect(where, autocommit=True)
        p = "%s"
    else:
        conn, p = sqlite3.connect(where), "?"
    fill, check = conn.execute(events.format(p=p), ("fill-00000001", "check")).fetchall()
    same = fill[:-2] == check[:-2] and json.loads(fill[-2]) == {
        **json.loads(check[-2]),
        "eventID": "fill-00000001",
    }
    rows = [conn.execute(resources.format(p=p), (row[-1],)).fetchall() for row in (fill, check)]
    conn.close()
    if not same or rows[0] != rows[1] or not rows[0]:
        raise SystemExit(f"the fill's rows differ from the store's own: {fill} {rows[0]} / {check} {rows[1]}")


RAW = "SELECT seq, event_time, record FROM events ORDER BY seq DESC LIMIT 51"


def raw_reader(where: str) -> tuple[Callable[[], int], Callable[[], None]]:
    """The peer on the same table: the cheapest read of a page (primary key, newest first) + parsing it."""
    if where.startswith("postgresql://"):
        import psycopg

        conn: Any = psycopg.connect(where, autocommit=True)
    else:
        conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)

    def read() -> int:
        rows = conn.execute(RAW).fetchall()
        return len([json.loads(r[2]) for r in rows[:50]])

    return read, conn.close


def explain(store_where: str, params: dict[str, Any]) -> str:
    """The plan of the SQL that store.lookup_events runs for these LookupEvents params."""
    from rolecall.store import schema
    from rolecall.store.events import build_lookup, time_text

    attribute = None
    if params.get("LookupAttributes"):
        a = params["LookupAttributes"][0]
        attribute = (a["AttributeKey"], a["AttributeValue"])
    pg = store_where.startswith("postgresql://")
    query = build_lookup(
        ACCOUNT,
        attribute,
        params.get("StartTime"),
        params.get("EndTime"),
        50,
        params.get("NextToken"),
        (lambda t: t) if pg else time_text,
    )
    if pg:
        import psycopg

        with psycopg.connect(store_where) as conn:
            plan = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + schema.pg(query.sql), query.params
            )
            return "\n".join("      " + r[0] for r in plan)
    conn = sqlite3.connect(store_where)
    rows = conn.execute("EXPLAIN QUERY PLAN " + query.sql, query.params).fetchall()
    conn.close()
    return "\n".join(f"      {r[3]}" for r in rows)


def rss_mib() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Trail:
    """One filled store with its pipeline, ready to be timed."""

    calls: dict[str, Callable[[], Any]]  # shape label -> one LookupEvents (or the raw read)
    filled: float  # seconds
    plans: list[str]
    own_calls_seen: Callable[[], int]


def prepare(stack: ExitStack, backend: str, size: int, want_plans: bool, writer: str) -> Trail:
    """A store of `size` records and a pipeline over it, closed with `stack`; the calls of every shape."""
    from rolecall.app import build_pipeline
    from rolecall.authn import root_caller
    from rolecall.core.config import ServerConfig
    from rolecall.credentials.secretbox import SecretBox

    store, where, filled = stack.enter_context(filled_store(backend, size))
    cfg_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="rolecall-lookup-cfg-"))
    config = ServerConfig(secret_box=SecretBox(b"k" * 32), token_box=SecretBox(b"t" * 32), data_dir=cfg_dir)
    trail = None
    if writer == "process":  # rolecall serve's default: records go through a pipe to a child process
        from rolecall.audit.trail_process import TrailProcess

        pg = where.startswith("postgresql://")
        trail = TrailProcess(
            data_dir=cfg_dir if pg else str(Path(where).parent), database_url=where if pg else None
        )
    pipeline = build_pipeline(store, config, trail=trail)
    stack.callback(pipeline.close)
    root = root_caller(ACCOUNT, None)

    def lookup(params: dict[str, Any]) -> dict[str, Any]:
        return pipeline.invoke(root, "cloudtrail", "LookupEvents", params)

    seen = 0

    def own_call() -> dict[str, Any]:
        nonlocal seen
        try:
            pipeline.invoke(root, "iam", "GetRole", {"RoleName": "missing"})
        except Exception:
            pass  # NoSuchEntity: the failed read is queued on the writer all the same
        out = lookup({})
        seen += any(e["EventName"] == "GetRole" and "fill" not in e["EventId"] for e in out["Events"])
        return out

    calls: dict[str, Callable[[], Any]] = {"own call": own_call}
    plans: list[str] = []
    for label, params, page in shapes(size):
        for _ in range(page - 1):
            token = lookup(params).get("NextToken")
            if not token:
                break  # a trail too small for this page
            params = {**params, "NextToken": token}
        else:
            calls[label] = functools.partial(lookup, params)
        if want_plans:
            plans.append(f"    {label}\n{explain(where, params)}")
    read, close = raw_reader(where)
    stack.callback(close)
    calls["raw"] = read
    return Trail(calls, filled, plans, lambda: seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--postgres", action="store_true", help="also a scratch database on 127.0.0.1:5432")
    parser.add_argument("--only-postgres", action="store_true", help="PostgreSQL alone")
    parser.add_argument(
        "--trail-writer",
        choices=["process", "thread"],
        default="process",
        help="who writes the own call's record, as rolecall serve --trail-writer (default: process)",
    )
    parser.add_argument("--explain", action="store_true", help="print each shape's plan at the largest size")
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    backends = ["postgres"] if args.only_postgres else ["sqlite", *(["postgres"] if args.postgres else [])]

    for backend in backends:
        with ExitStack() as stack:
            trails = {
                size: prepare(stack, backend, size, args.explain and size == sizes[-1], args.trail_writer)
                for size in sizes
            }
            rss_before = rss_mib()
            # Every size's shapes in the same rounds: the small trail is the large one's peer at each moment.
            calls = {
                (size, label): call for size, trail in trails.items() for label, call in trail.calls.items()
            }
            timings = timed(args.rounds, calls)
            rss_after = rss_mib()
            for size, trail in trails.items():
                if trail.own_calls_seen() != args.rounds + 1:
                    print(
                        f"  !! {size:,}: {trail.own_calls_seen()}/{args.rounds + 1} own calls seen",
                        file=sys.stderr,
                    )
        results = {size: {label: timings[(size, label)] for label in trails[size].calls} for size in sizes}
        fills = {size: trail.filled for size, trail in trails.items()}
        all_plans = trails[sizes[-1]].plans
        small, large = sizes[0], sizes[-1]
        print(
            f"\n{backend}: LookupEvents, {args.rounds} rounds per shape, ms median wall / CPU per request "
            f"(trail writer: {args.trail_writer})"
        )
        print("fill: " + ", ".join(f"{s:,} records in {fills[s]:.1f} s" for s in sizes))
        print(
            f"resident memory with every trail filled: {rss_before:.0f} MiB, "
            f"after the lookups: {rss_after:.0f} MiB"
        )
        header = f"{'shape':<26}" + "".join(f"{f'{s:,} records':>22}" for s in sizes)
        print(header + f"{'ratio':>8} {'÷newest':>8} {'events':>6}")
        for label in results[large]:
            row, have = f"{label:<26}", [s for s in sizes if label in results[s]]
            for size in sizes:
                f = results[size].get(label)
                row += f"{f.median_ms:>12.2f} /{f.cpu_ms:>7.2f}  " if f else f"{'-':>22}"
            ratio = results[large][label].median_ms / results[have[0]][label].median_ms
            counts = "/".join(str(results[s][label].results) for s in have)
            to_newest = results[large][label].median_ms / results[large]["newest"].median_ms
            print(row + f"{ratio:>7.2f}x {to_newest:>7.2f}x {counts:>6}")
        worst = max(
            (label for label in results[large] if label != "raw"), key=lambda k: results[large][k].median_ms
        )
        raw = results[large]["raw"].median_ms
        slowest = results[large][worst].median_ms
        line = f"slowest shape at {large:,}: {worst} {slowest:.2f} ms ({slowest / raw:.1f}x raw"
        if worst in results[small]:
            line += f", {slowest / results[small][worst].median_ms:.2f}x the same at {small:,}"
        print(line + ")")
        if all_plans:
            print(f"plans at {large:,} records:")
            print("\n".join(all_plans))
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
