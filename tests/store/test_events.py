"""CloudTrail history: every LookupAttribute, time ranges, ordering, pages."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rolecall.store import Conflict
from rolecall.store.events import build_lookup, encode_token, event_username, resource_name, time_text

A, B = "111111111111", "222222222222"
ROLE_ARN = f"arn:aws:iam::{A}:role/ops/Deployer"


def iam_user(name: str, key: str = "AKIAALICE00000000001") -> dict:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{A}:user/{name}",
        "accountId": A,
        "accessKeyId": key,
        "userName": name,
    }


def role_session(session: str, key: str = "ASIASESSION000000001") -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{A}:assumed-role/Deployer/{session}",
        "accountId": A,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": ROLE_ARN,
                "userName": "Deployer",
            },
            "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-28T17:00:00Z"},
        },
    }


def rec(
    event_id, minute, name="GetRole", source="iam.amazonaws.com", identity=None, read_only=True, resources=()
):
    when = datetime(2026, 11, 28, 18, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return {
        "eventVersion": "1.08",
        "eventID": event_id,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventName": name,
        "eventSource": source,
        "readOnly": read_only,
        "userIdentity": identity or iam_user("alice"),
        "resources": list(resources),
        "recipientAccountId": A,
    }


def ids(records) -> list[str]:
    return [r["eventID"] for r in records]


@pytest.fixture
def trail(store):
    """A small history in account A (and one event in B)."""
    records = [
        rec("e0", 0, "CreateRole", read_only=False, resources=[{"ARN": ROLE_ARN, "accountId": A, "type": "AWS::IAM::Role"}]),
        rec("e1", 1, "AssumeRole", "sts.amazonaws.com", resources=[{"ARN": ROLE_ARN, "accountId": A, "type": "AWS::IAM::Role"}]),
        rec("e2", 2, "GetCallerIdentity", "sts.amazonaws.com", identity=role_session("build-42")),
        rec("e3", 3, "PutRolePolicy", read_only=False, identity=role_session("build-42"),
            resources=[{"ARN": ROLE_ARN, "accountId": A, "type": "AWS::IAM::Role"},
                       {"ARN": f"arn:aws:iam::{A}:policy/Inline", "accountId": A, "type": "AWS::IAM::Policy"}]),
        rec("e4", 4, "ListRoles", identity={"type": "Root", "principalId": A, "arn": f"arn:aws:iam::{A}:root", "accountId": A, "accessKeyId": "AKIAROOT000000000001"}),
    ]  # fmt: skip
    with store.transaction() as tx:
        for r in records:
            tx.append_event(A, r)
        tx.append_event(B, rec("b0", 0, "CreateRole", read_only=False))
    return store


def look(store, key=None, value=None, **kw):
    attribute = (key, value) if key else None
    records, token = store.lookup_events(A, attribute=attribute, **kw)
    assert token is None
    return ids(records)


def test_newest_first_and_scoped_to_the_account(trail):
    assert look(trail) == ["e4", "e3", "e2", "e1", "e0"]
    assert ids(trail.lookup_events(B)[0]) == ["b0"]
    assert trail.lookup_events("333333333333") == ([], None)


def test_records_come_back_whole(trail):
    (first,), _ = trail.lookup_events(A, attribute=("EventId", "e2"))
    assert first == rec("e2", 2, "GetCallerIdentity", "sts.amazonaws.com", identity=role_session("build-42"))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventId", "e3", ["e3"]),
        ("EventId", "b0", []),
        ("EventName", "AssumeRole", ["e1"]),
        ("EventSource", "sts.amazonaws.com", ["e2", "e1"]),
        ("ReadOnly", "false", ["e3", "e0"]),
        ("ReadOnly", "true", ["e4", "e2", "e1"]),
        ("Username", "alice", ["e1", "e0"]),
        ("Username", "build-42", ["e3", "e2"]),  # a role session is looked up by its session name
        ("Username", "root", ["e4"]),
        ("AccessKeyId", "ASIASESSION000000001", ["e3", "e2"]),
        ("AccessKeyId", "AKIAROOT000000000001", ["e4"]),
        ("ResourceType", "AWS::IAM::Role", ["e3", "e1", "e0"]),
        ("ResourceType", "AWS::IAM::Policy", ["e3"]),
        ("ResourceName", ROLE_ARN, ["e3", "e1", "e0"]),
        ("ResourceName", "Deployer", ["e3", "e1", "e0"]),
        ("ResourceName", "Inline", ["e3"]),
        ("ResourceName", "deployer", []),
    ],
)
def test_each_lookup_attribute(trail, key, value, expected):
    assert look(trail, key, value) == expected


def test_time_range_is_inclusive_and_timezone_aware(trail):
    start = datetime(2026, 11, 28, 18, 1, tzinfo=UTC)
    end = datetime(2026, 11, 28, 18, 3, tzinfo=UTC)
    assert look(trail, start=start, end=end) == ["e3", "e2", "e1"]
    assert look(trail, start=start) == ["e4", "e3", "e2", "e1"]
    assert look(trail, end=end) == ["e3", "e2", "e1", "e0"]
    # The same instants in another zone, and naive datetimes taken as UTC.
    plus2 = timezone(timedelta(hours=2))
    assert look(trail, start=start.astimezone(plus2), end=end.astimezone(plus2)) == ["e3", "e2", "e1"]
    assert look(trail, start=start.replace(tzinfo=None), end=end.replace(tzinfo=None)) == ["e3", "e2", "e1"]
    # Combined with an attribute, on both kinds of index.
    assert look(trail, "ResourceName", "Deployer", start=start, end=end) == ["e3", "e1"]
    assert look(trail, "Username", "build-42", end=end - timedelta(seconds=1)) == ["e2"]
    assert look(trail, start=end + timedelta(hours=1)) == []


def test_order_follows_event_time_not_arrival(store):
    with store.transaction() as tx:
        tx.append_event(A, rec("late", 10))
        tx.append_event(A, rec("early", -10))
        tx.append_event(A, rec("middle", 0))
        tx.append_event(A, rec("middle-again", 0))  # same second: the later arrival is newer
    assert look(store) == ["late", "middle-again", "middle", "early"]


def test_pages_cover_everything_once(store):
    with store.transaction() as tx:
        for i in range(123):
            # Two events per second, so pages break inside runs of equal times too.
            r = rec(f"p{i:03}", 0, "GetUser" if i % 3 else "ListUsers")
            r["eventTime"] = f"2026-11-28T18:{i // 120:02}:{(i // 2) % 60:02}Z"
            tx.append_event(A, r)
    seen, token, pages = [], None, 0
    while True:
        page, token = store.lookup_events(A, max_results=50, next_token=token)
        seen += ids(page)
        pages += 1
        if not token:
            break
    assert pages == 3
    assert sorted(seen) == sorted(f"p{i:03}" for i in range(123))
    assert len(seen) == 123
    assert ids(store.events(A)) == seen

    # With a filter and a small page.
    listed, token = [], None
    while True:
        page, token = store.lookup_events(
            A, attribute=("EventName", "ListUsers"), max_results=7, next_token=token
        )
        assert len(page) <= 7
        listed += ids(page)
        if not token:
            break
    assert listed == [i for i in seen if int(i[1:]) % 3 == 0]


def test_pages_step_through_a_burst_of_equal_times(store):
    """A load test leaves thousands of records in one second: a page token goes on from its own record
    within that second (seq), with or without a filter or a time range, each record exactly once."""
    burst = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    with store.transaction() as tx:
        tx.append_event(A, rec("before", 29))
        for i in range(240):
            r = rec(
                f"s{i:03}",
                30,
                "ListRoles" if i % 3 else "GetRole",
                resources=[{"ARN": ROLE_ARN, "type": "AWS::IAM::Role"}] if i % 2 else [],
            )
            tx.append_event(A, r)
        tx.append_event(A, rec("after", 31))
    newest_first = [f"s{i:03}" for i in reversed(range(240))]

    def pages(**kw):
        seen, token = [], None
        while True:
            page, token = store.lookup_events(A, max_results=7, next_token=token, **kw)
            assert len(page) <= 7
            seen += ids(page)
            if not token:
                return seen

    assert pages() == ["after", *newest_first, "before"]
    assert pages(start=burst, end=burst) == newest_first
    get_role = [i for i in newest_first if int(i[1:]) % 3 == 0]
    assert pages(attribute=("EventName", "GetRole")) == ["after", *get_role, "before"]
    odd = [i for i in newest_first if int(i[1:]) % 2]
    assert pages(attribute=("ResourceName", "Deployer"), end=burst) == odd


def sqlite_steps(data_dir: str, *args) -> int:
    """SQLite VM instructions (in units of 100) that the SQL of store.lookup_events(A, *args) runs: how much
    of the trail a query touches, counted rather than timed."""
    query = build_lookup(A, *args, time_text)
    conn = sqlite3.connect(Path(data_dir) / "rolecall.db")
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 100)
    conn.execute(query.sql, query.params).fetchall()
    conn.close()
    return steps


@pytest.mark.parametrize(
    "attribute", [None, ("EventName", "GetRole"), ("Username", "alice"), ("ResourceName", "Deployer")]
)
def test_a_page_reads_a_page_however_deep_in_a_burst(sqlite_backend, attribute):
    """The page 100 records from the end of 2,000 records of one second costs what page 2 does (SQLite would
    otherwise seek to the second and step over every record of it that earlier pages returned), and a
    filter that matches nothing reads nothing."""
    store = sqlite_backend.open()
    role = [{"ARN": ROLE_ARN, "type": "AWS::IAM::Role"}]
    with store.transaction() as tx:
        tx.append_events([(A, rec(f"s{i:04}", 30, resources=role)) for i in range(2000)])
    moment = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    _, token = store.lookup_events(A, attribute=attribute, max_results=50)
    page2 = sqlite_steps(sqlite_backend.data_dir, attribute, None, None, 50, token)
    seq = store_seq(sqlite_backend.data_dir, "s0100")  # 100 records from the bottom of the burst
    deep = sqlite_steps(sqlite_backend.data_dir, attribute, None, None, 50, encode_token(moment, seq))
    assert deep <= 2 * page2 + 2
    none = ("EventName", "DeleteAccount") if attribute is None else (attribute[0], "nothing")
    assert sqlite_steps(sqlite_backend.data_dir, none, None, None, 50, None) <= 2


def store_seq(data_dir: str, event_id: str) -> int:
    conn = sqlite3.connect(Path(data_dir) / "rolecall.db")
    (seq,) = conn.execute("SELECT seq FROM events WHERE event_id = ?", (event_id,)).fetchone()
    conn.close()
    return seq


def test_a_page_token_survives_new_arrivals(store):
    with store.transaction() as tx:
        for i in range(5):
            tx.append_event(A, rec(f"old{i}", i))
    page, token = store.lookup_events(A, max_results=2)
    assert ids(page) == ["old4", "old3"]
    with store.transaction() as tx:
        tx.append_event(A, rec("new", 30))
    page, token = store.lookup_events(A, max_results=2, next_token=token)
    assert ids(page) == ["old2", "old1"]
    page, token = store.lookup_events(A, max_results=2, next_token=token)
    assert (ids(page), token) == (["old0"], None)


@pytest.mark.parametrize("token", ["garbage!", "", "bm90LWEtdG9rZW4=", "MTIzL25vdC1hLXRpbWU="])
def test_a_malformed_token_is_a_value_error(trail, token):
    if token == "":
        assert ids(trail.lookup_events(A, next_token=token)[0])  # no token at all
        return
    with pytest.raises(ValueError):
        trail.lookup_events(A, next_token=token)


@pytest.mark.parametrize("bad", [{"max_results": 0}, {"max_results": 51}, {"attribute": ("Region", "x")}])
def test_bad_lookup_arguments_are_value_errors(trail, bad):
    with pytest.raises(ValueError):
        trail.lookup_events(A, **bad)


def test_event_ids_are_unique_and_records_need_id_and_time(store):
    with store.transaction() as tx:
        tx.append_event(A, rec("dup", 0))
        with pytest.raises(Conflict):
            tx.append_event(B, rec("dup", 1))
        with pytest.raises(ValueError):
            tx.append_event(A, {"eventTime": "2026-11-28T18:00:00Z"})
        with pytest.raises(ValueError):
            tx.append_event(A, {"eventID": "x", "eventTime": "yesterday"})
    assert look(store) == ["dup"]


def test_username_of_each_identity_type():
    assert event_username(iam_user("alice")) == "alice"
    assert event_username(role_session("i-0abc")) == "i-0abc"
    assert event_username({"type": "AssumedRole", "principalId": "AROAX:sess"}) == "sess"
    assert event_username({"type": "Root", "arn": "arn:aws:iam::1:root"}) == "root"
    assert event_username({"type": "Root", "userName": "my-alias"}) == "my-alias"
    assert event_username({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}) == "ec2.amazonaws.com"
    assert event_username({"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/Bob"}) == "Bob"
    assert event_username({}) is None


def test_resource_name_is_the_last_segment():
    assert resource_name(ROLE_ARN) == "Deployer"
    assert resource_name("arn:aws:iam::1:instance-profile/web") == "web"
    assert resource_name("arn:aws:s3:::bucket") == "bucket"
    assert resource_name("i-0abc") == "i-0abc"
