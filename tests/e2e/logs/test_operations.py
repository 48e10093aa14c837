"""CloudWatch Logs against a real server: groups, streams, events, filtering, pagination, errors, IAM."""

from __future__ import annotations

import json
import threading
import uuid

import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.servers import InProcessServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


def status(exc) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def group_arn(group: str, region: str = REGION) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("logs")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def logs(srv):
    return srv.client("logs")


def now_ms(srv) -> int:
    return int(srv.clock.time() * 1000)


def new_stream(logs, group: str | None = None, stream: str = "s") -> tuple[str, str]:
    group = group or unique("/test/group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group, stream


def put(logs, group, stream, *events):
    return logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": m} for ts, m in events],
    )


def user_client(srv, policy: str, service: str = "logs"):
    iam = srv.client("iam")
    name = unique("u")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return srv.client(service, key["AccessKeyId"], key["SecretAccessKey"]), name


def role_session_client(srv, *, managed: str | None = None, inline: str | None = None):
    """A logs client with the credentials of a role session obtained through STS AssumeRole."""
    iam = srv.client("iam")
    caller = iam.create_user(UserName=unique("assumer"))["User"]
    key = iam.create_access_key(UserName=caller["UserName"])["AccessKey"]
    role = unique("r")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": caller["Arn"]}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    if managed:
        iam.attach_role_policy(RoleName=role, PolicyArn=managed)
    if inline:
        iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=inline)
    sts = srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="fn")[
        "Credentials"
    ]
    client = srv.client("logs", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    return client, f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/fn"


# --- log groups ---------------------------------------------------------------------------------------------


def test_log_groups_create_describe_delete(srv, logs):
    base = unique("/app")
    for suffix in ("a", "b", "c", "B"):
        logs.create_log_group(logGroupName=f"{base}/{suffix}")
    logs.create_log_group(logGroupName=f"{base}-other")
    found = logs.describe_log_groups(logGroupNamePrefix=f"{base}/")["logGroups"]
    # Names are case-sensitive ("B" and "b" are two groups) and listed in order.
    assert [g["logGroupName"] for g in found] == [f"{base}/{s}" for s in ("B", "a", "b", "c")]
    g = found[1]
    assert g["arn"] == group_arn(f"{base}/a") + ":*"
    assert g["logGroupArn"] == group_arn(f"{base}/a")
    assert g["storedBytes"] == 0 and g["metricFilterCount"] == 0 and g["logGroupClass"] == "STANDARD"
    assert abs(g["creationTime"] - now_ms(srv)) < 5000

    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=f"{base}/a")
    assert code(exc) == "ResourceAlreadyExistsException"
    assert message(exc) == "The specified log group already exists"
    assert status(exc) == 400

    logs.delete_log_group(logGroupName=f"{base}/a")
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=f"{base}/a")
    assert code(exc) == "ResourceNotFoundException"
    assert message(exc) == "The specified log group does not exist."
    names = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]]
    assert names == [f"{base}-other", f"{base}/B", f"{base}/b", f"{base}/c"]
    names = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="/b")["logGroups"]]
    assert names == [f"{base}/b"]


def test_describe_log_groups_pages(logs):
    base = unique("/page")
    for i in range(5):
        logs.create_log_group(logGroupName=f"{base}/{i}")
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"logGroupNamePrefix": base, "limit": 2, **({"nextToken": token} if token else {})}
        resp = logs.describe_log_groups(**kwargs)
        seen += [g["logGroupName"] for g in resp["logGroups"]]
        pages += 1
        token = resp.get("nextToken")
        if not token:
            break
    assert seen == [f"{base}/{i}" for i in range(5)] and pages == 3
    paginated = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=base, PaginationConfig={"PageSize": 4}
    )
    assert [g["logGroupName"] for page in paginated for g in page["logGroups"]] == seen
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(nextToken="not-a-token")
    assert code(exc) == "InvalidParameterException"


def test_log_group_validation(logs):
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="has space")
    assert code(exc) == "InvalidParameterException" and status(exc) == 400
    assert "at 'logGroupName' failed to satisfy constraint" in message(exc)
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="aws/reserved")
    assert code(exc) == "InvalidParameterException"
    assert message(exc) == "Log groups starting with AWS/ are reserved for AWS."
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName="/x", logStreamName="a:b")
    assert code(exc) == "InvalidParameterException" and "[^:*]*" in message(exc)


def test_log_groups_are_regional(srv, logs):
    group = unique("/regional")
    logs.create_log_group(logGroupName=group)
    west = srv.session().client(
        "logs",
        region_name="us-west-2",
        endpoint_url=srv.url,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    assert west.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    west.create_log_group(logGroupName=group)
    arns = [g["arn"] for g in west.describe_log_groups(logGroupNamePrefix=group)["logGroups"]]
    assert arns == [group_arn(group, "us-west-2") + ":*"]


# --- log streams --------------------------------------------------------------------------------------------


def test_log_streams(srv, logs):
    group = unique("/streams")
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert code(exc) == "ResourceNotFoundException"
    assert message(exc) == "The specified log group does not exist."
    logs.create_log_group(logGroupName=group)
    for name in ("2024/01/01/[$LATEST]b", "2024/01/01/[$LATEST]a", "other", "Other"):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group, logStreamName="other")
    assert code(exc) == "ResourceAlreadyExistsException"
    assert message(exc) == "The specified log stream already exists"

    t = now_ms(srv)
    put(logs, group, "other", (t - 3000, "x"))
    put(logs, group, "2024/01/01/[$LATEST]a", (t - 1000, "y"), (t - 500, "z"))
    put(logs, group, "Other", (t - 2000, "w"))

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [
        "2024/01/01/[$LATEST]a",
        "2024/01/01/[$LATEST]b",
        "Other",
        "other",
    ]
    a = streams[0]
    assert a["arn"] == group_arn(group) + ":log-stream:2024/01/01/[$LATEST]a"
    assert (a["firstEventTimestamp"], a["lastEventTimestamp"]) == (t - 1000, t - 500)
    assert a["lastIngestionTime"] >= t - 1 and a["storedBytes"] == 0
    assert "firstEventTimestamp" not in streams[1]

    prefixed = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="2024/", descending=True)
    assert [s["logStreamName"] for s in prefixed["logStreams"]] == [
        "2024/01/01/[$LATEST]b",
        "2024/01/01/[$LATEST]a",
    ]
    latest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True, limit=2)
    assert [s["logStreamName"] for s in latest["logStreams"]] == ["2024/01/01/[$LATEST]a", "Other"]
    rest = logs.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True, limit=2, nextToken=latest["nextToken"]
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["other", "2024/01/01/[$LATEST]b"]
    assert "nextToken" not in rest
    by_arn = logs.describe_log_streams(logGroupIdentifier=group_arn(group), logStreamNamePrefix="o")
    assert [s["logStreamName"] for s in by_arn["logStreams"]] == ["other"]

    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="o")
    assert code(exc) == "InvalidParameterException"
    assert message(exc) == "Cannot order by LastEventTime with a logStreamNamePrefix."
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=group + "-missing")
    assert code(exc) == "ResourceNotFoundException"

    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []


# --- events -------------------------------------------------------------------------------------------------


def test_put_log_events_rules(srv, logs):
    group, stream = new_stream(logs)
    t = now_ms(srv)
    with pytest.raises(ClientError) as exc:
        put(logs, group, "missing", (t, "m"))
    assert code(exc) == "ResourceNotFoundException"
    assert message(exc) == "The specified log stream does not exist."
    with pytest.raises(ClientError) as exc:
        put(logs, group + "-missing", stream, (t, "m"))
    assert message(exc) == "The specified log group does not exist."
    with pytest.raises(ClientError) as exc:
        put(logs, group, stream, (t, "second"), (t - 1, "first"))
    assert code(exc) == "InvalidParameterException"
    assert message(exc) == "Log events in a single PutLogEvents request must be in chronological order."
    with pytest.raises(ClientError) as exc:
        put(logs, group, stream, (t - DAY_MS - 1, "a"), (t, "b"))
    assert code(exc) == "InvalidParameterException" and "24 hours" in message(exc)
    with pytest.raises(ClientError) as exc:
        put(logs, group, stream, *[(t, "x" * 100_000)] * 11)
    assert code(exc) == "InvalidParameterException" and "1048576" in message(exc)

    # Too old (more than 14 days) and too new (more than 2 hours ahead) are reported, the rest kept.
    old = t - 14 * DAY_MS - 1000
    resp = put(logs, group, stream, (old, "old1"), (old + 1, "old2"), (old + 10 * HOUR_MS, "kept"))
    assert resp["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    resp = put(logs, group, stream, (t, "now"), (t + 2 * HOUR_MS + 1000, "future"))
    assert resp["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    token = resp["nextSequenceToken"]
    # Sequence tokens are ignored: a stale one is accepted.
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t + 1, "message": "later"}],
        sequenceToken="123",
    )
    assert token.isdigit()
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["kept", "now", "later"]
    assert all(e["ingestionTime"] >= t for e in got)


def test_get_log_events_windows_and_tokens(srv, logs):
    group, stream = new_stream(logs)
    t = now_ms(srv) - 100_000
    # Two batches whose timestamps interleave: reads come back in timestamp order.
    put(logs, group, stream, *[(t + 2 * i, f"even {i}") for i in range(5)])
    put(logs, group, stream, *[(t + 2 * i + 1, f"odd {i}") for i in range(5)])
    order = [f"{kind} {i}" for i in range(5) for kind in ("even", "odd")]

    def messages(resp):
        return [e["message"] for e in resp["events"]]

    assert messages(logs.get_log_events(logGroupName=group, logStreamName=stream)) == order
    head = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=3)
    assert messages(head) == order[:3]
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=3)
    assert messages(tail) == order[-3:]

    # Forward through the stream page by page; at the end the same token comes back.
    seen, token = messages(head), head["nextForwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=3, nextToken=token)
        if not page["events"]:
            assert page["nextForwardToken"] == token
            break
        seen += messages(page)
        token = page["nextForwardToken"]
    assert seen == order
    # New events show up on the token that had reached the end.
    put(logs, group, stream, (t + 50, "appended"))
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token)
    assert messages(page) == ["appended"]

    back = logs.get_log_events(
        logGroupName=group, logStreamName=stream, limit=3, nextToken=tail["nextBackwardToken"]
    )
    assert messages(back) == order[-6:-3]

    window = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=t + 2, endTime=t + 5)
    assert messages(window) == ["even 1", "odd 1", "even 2"]  # startTime inclusive, endTime exclusive
    by_arn = logs.get_log_events(logGroupIdentifier=group_arn(group), logStreamName=stream, limit=1)
    assert messages(by_arn) == ["appended"]

    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken="f/garbage")
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logGroupIdentifier=group, logStreamName=stream)
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert message(exc) == "The specified log stream does not exist."
    empty_group, empty = new_stream(logs)
    resp = logs.get_log_events(logGroupName=empty_group, logStreamName=empty)
    assert resp["events"] == [] and resp["nextForwardToken"].startswith("f/")


def test_filter_log_events(srv, logs):
    group = unique("/filter")
    logs.create_log_group(logGroupName=group)
    for name in ("app-1", "app-2", "web"):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    t = now_ms(srv) - 60_000
    put(logs, group, "app-1", (t, "ERROR disk full"), (t + 10, "INFO started"), (t + 20, "WARN slow request"))
    put(logs, group, "app-2", (t + 5, "error lower case"), (t + 15, "ERROR Failed to connect to db"))
    put(logs, group, "web", (t + 1, "GET /index 200"), (t + 12, "ERROR Exiting now"))

    def found(**kwargs):
        resp = logs.filter_log_events(logGroupName=group, **kwargs)
        return [(e["logStreamName"], e["message"]) for e in resp["events"]]

    everything = found()
    assert [m for _, m in everything] == [
        "ERROR disk full",
        "GET /index 200",
        "error lower case",
        "INFO started",
        "ERROR Exiting now",
        "ERROR Failed to connect to db",
        "WARN slow request",
    ]
    assert [m for _, m in found(filterPattern="ERROR")] == [
        "ERROR disk full",
        "ERROR Exiting now",
        "ERROR Failed to connect to db",
    ]
    assert [m for _, m in found(filterPattern="ERROR connect")] == ["ERROR Failed to connect to db"]
    assert [m for _, m in found(filterPattern='"Failed to connect"')] == ["ERROR Failed to connect to db"]
    assert [m for _, m in found(filterPattern='"to connect Failed"')] == []
    assert [m for _, m in found(filterPattern="?WARN ?INFO")] == ["INFO started", "WARN slow request"]
    assert [m for _, m in found(filterPattern="ERROR -Exiting")] == [
        "ERROR disk full",
        "ERROR Failed to connect to db",
    ]
    assert found(filterPattern="ERROR", logStreamNames=["web"]) == [("web", "ERROR Exiting now")]
    assert [s for s, _ in found(logStreamNamePrefix="app-")] == ["app-1", "app-2", "app-1", "app-2", "app-1"]
    assert [m for _, m in found(startTime=t + 10, endTime=t + 15)] == [
        "INFO started",
        "ERROR Exiting now",
        "ERROR Failed to connect to db",
    ]  # both ends inclusive
    by_arn = logs.filter_log_events(logGroupIdentifier=group_arn(group), filterPattern="GET")
    event = by_arn["events"][0]
    assert event["logStreamName"] == "web" and event["timestamp"] == t + 1 and len(event["eventId"]) == 56

    pages, token = [], None
    while True:
        resp = logs.filter_log_events(logGroupName=group, limit=3, **({"nextToken": token} if token else {}))
        pages.append([e["message"] for e in resp["events"]])
        token = resp.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1] and sum(pages, []) == [m for _, m in everything]
    ids = [e["eventId"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert len(set(ids)) == len(ids)

    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(
            logGroupName=group, filterPattern="[ip, user]"
        )  # space-delimited: not implemented
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, logStreamNames=["web"], logStreamNamePrefix="w")
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group + "-missing")
    assert code(exc) == "ResourceNotFoundException"


def test_filter_log_events_latest_first(srv, logs):
    group, stream = new_stream(logs)
    t = now_ms(srv) - 60_000
    put(logs, group, stream, *[(t + i, f"m{i}") for i in range(5)])
    latest = logs.filter_log_events(logGroupName=group, startFromHead=False)["events"]
    assert [e["message"] for e in latest] == ["m4", "m3", "m2", "m1", "m0"]
    pages, token = [], None
    while True:
        more = {"nextToken": token} if token else {"startFromHead": False}
        resp = logs.filter_log_events(logGroupName=group, limit=2, **more)
        pages.append([e["message"] for e in resp["events"]])
        token = resp.get("nextToken")
        if not token:
            break
    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    # The token's direction wins over startFromHead.
    first = logs.filter_log_events(logGroupName=group, limit=2, startFromHead=False)
    rest = logs.filter_log_events(logGroupName=group, nextToken=first["nextToken"], startFromHead=True)
    assert [e["message"] for e in rest["events"]] == ["m2", "m1", "m0"]
    earliest = logs.filter_log_events(logGroupName=group, startFromHead=True)["events"]
    assert [e["message"] for e in earliest] == ["m0", "m1", "m2", "m3", "m4"]
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, startFromHead=False, startTime=1_700_000_000_000)
    assert code(exc) == "InvalidParameterException" and "Jan 1, 2024" in message(exc)


def test_unmask_needs_the_unmask_permission(srv, logs):
    group, stream = new_stream(logs)
    put(logs, group, stream, (now_ms(srv), "card 4111-1111-1111-1111"))
    reads = allow(["logs:GetLogEvents", "logs:FilterLogEvents"], group_arn(group) + ":*")
    client, user = user_client(srv, doc(reads))
    assert client.filter_log_events(logGroupName=group)["events"]
    for call in (
        lambda c: c.filter_log_events(logGroupName=group, unmask=True),
        lambda c: c.get_log_events(logGroupName=group, logStreamName=stream, unmask=True),
    ):
        with pytest.raises(ClientError) as exc:
            call(client)
        assert code(exc) == "AccessDeniedException"
        assert f"logs:Unmask on resource: {group_arn(group)} because" in message(exc)
    unmasking, _ = user_client(srv, doc(reads, allow("logs:Unmask", group_arn(group))))
    events = unmasking.filter_log_events(logGroupName=group, unmask=True)["events"]
    assert [e["message"] for e in events] == ["card 4111-1111-1111-1111"]  # rolecall masks nothing


def test_linked_accounts_are_refused_not_ignored(logs):
    assert "logGroups" in logs.describe_log_groups(includeLinkedAccounts=False)
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(includeLinkedAccounts=True)
    assert code(exc) == "NotImplemented" and status(exc) == 501
    assert message(exc) == (
        "rolecall does not implement the member includeLinkedAccounts of DescribeLogGroups (it accepts only "
        "false); the request changed nothing."
    )


def test_aws_cli(srv):
    group = unique("/cli")
    srv.cli("logs", "create-log-group", "--log-group-name", group)
    srv.cli("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "main")
    t = now_ms(srv)
    srv.cli(
        "logs",
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "main",
        "--log-events",
        f"timestamp={t},message=hello-from-cli",
        f"timestamp={t + 1},message=second",
    )
    out = json.loads(
        srv.cli("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "hello").stdout
    )
    assert [e["message"] for e in out["events"]] == ["hello-from-cli"]
    out = json.loads(srv.cli("logs", "describe-log-groups", "--log-group-name-prefix", group).stdout)
    assert out["logGroups"][0]["logGroupName"] == group and out["logGroups"][0]["storedBytes"] == 20
    failed = srv.cli("logs", "delete-log-group", "--log-group-name", group + "-missing", check=False)
    assert failed.returncode != 0 and "ResourceNotFoundException" in failed.stderr


# --- concurrency --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [6])
def test_concurrent_put_log_events_lose_nothing(any_server, threads):
    logs = any_server.client("logs")
    group, stream = new_stream(logs)
    import time

    base = int(time.time() * 1000)
    errors: list[Exception] = []

    def writer(n: int) -> None:
        client = any_server.client("logs")
        try:
            for batch in range(4):
                put(client, group, stream, *[(base + i, f"w{n} b{batch} e{i}") for i in range(25)])
        except Exception as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    got = logs.filter_log_events(logGroupName=group)["events"]
    assert len(got) == threads * 4 * 25
    assert len({e["message"] for e in got}) == len(got)


# --- authorization ------------------------------------------------------------------------------------------


def test_user_allowed_on_one_group_only(srv, logs):
    mine, other = unique("/team/mine"), unique("/team/other")
    for g in (mine, other):
        logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName=g, logStreamName="s")
    policy = doc(
        allow(
            [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:DescribeLogStreams",
            ],
            group_arn(mine) + ":*",
        ),
        allow("logs:DescribeLogGroups", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"),
    )
    client, user = user_client(srv, policy)
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    t = now_ms(srv)
    put(client, mine, "s", (t, "allowed"))
    client.create_log_stream(logGroupName=mine, logStreamName="new")
    assert [e["message"] for e in client.get_log_events(logGroupName=mine, logStreamName="s")["events"]] == [
        "allowed"
    ]
    assert client.filter_log_events(logGroupName=mine)["events"]
    assert len(client.describe_log_streams(logGroupName=mine)["logStreams"]) == 2
    assert client.describe_log_groups(logGroupNamePrefix="/team/")["logGroups"]

    with pytest.raises(ClientError) as exc:
        put(client, other, "s", (t, "denied"))
    assert code(exc) == "AccessDeniedException" and status(exc) == 400
    assert message(exc) == (
        f"User: {user_arn} is not authorized to perform: logs:PutLogEvents on resource: "
        f"{group_arn(other)}:log-stream:s because no identity-based policy allows the logs:PutLogEvents action"
    )
    with pytest.raises(ClientError) as exc:
        client.create_log_group(logGroupName=unique("/team/new"))
    assert code(exc) == "AccessDeniedException"
    assert (
        "logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:123456789012:log-group:/team/new-"
        in message(exc)
    )
    with pytest.raises(ClientError) as exc:
        client.filter_log_events(logGroupName=other)
    assert message(exc).endswith(
        f"on resource: {group_arn(other)}:log-stream: because no identity-based "
        "policy allows the logs:FilterLogEvents action"
    )
    with pytest.raises(ClientError) as exc:
        client.delete_log_group(logGroupName=mine)
    assert code(exc) == "AccessDeniedException"
    # Nothing was written to the other group.
    assert logs.get_log_events(logGroupName=other, logStreamName="s")["events"] == []

    # The denial is in the trail.
    srv.pipeline.trail.flush()
    recs = [
        json.loads(e["CloudTrailEvent"])
        for e in srv.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}]
        )["Events"]
    ]
    denied = [r for r in recs if r["eventName"] == "PutLogEvents" and r.get("errorCode")]
    assert denied and denied[0]["eventSource"] == "logs.amazonaws.com"


def test_group_arn_without_wildcard_does_not_cover_streams(srv, logs):
    group, stream = new_stream(logs)
    client, _ = user_client(
        srv, doc(allow(["logs:PutLogEvents", "logs:DescribeLogGroups"], group_arn(group)))
    )
    with pytest.raises(ClientError) as exc:
        put(client, group, stream, (now_ms(srv), "m"))
    assert code(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        client.describe_log_groups()
    assert f"on resource: arn:aws:logs:{REGION}:{ACCOUNT}:log-group::log-stream: because" in message(exc)


def test_request_tags_are_authorized(srv, logs):
    policy = doc(
        {
            "Effect": "Allow",
            "Action": "logs:CreateLogGroup",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}},
        },
        allow("logs:TagResource", "*"),
    )
    client, _ = user_client(srv, policy)
    client.create_log_group(logGroupName=unique("/tagged"), tags={"team": "blue"})
    for tags in ({"team": "red"}, None):
        with pytest.raises(ClientError) as exc:
            client.create_log_group(logGroupName=unique("/tagged"), **({"tags": tags} if tags else {}))
        assert code(exc) == "AccessDeniedException"
    # Tagging on creation also needs logs:TagResource.
    untagger, _ = user_client(srv, doc(allow("logs:CreateLogGroup", "*")))
    untagger.create_log_group(logGroupName=unique("/untagged"))
    with pytest.raises(ClientError) as exc:
        untagger.create_log_group(logGroupName=unique("/tagged"), tags={"team": "blue"})
    assert "logs:TagResource" in message(exc)


def test_lambda_basic_execution_role_session(srv, logs):
    client, session_arn = role_session_client(
        srv, managed="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    group = unique("/aws/lambda/fn")
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")
    put(client, group, "2026/01/01/[$LATEST]abc", (now_ms(srv), "START RequestId: 1"))
    # Reading is not part of the basic execution policy.
    with pytest.raises(ClientError) as exc:
        client.get_log_events(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")
    assert message(exc).startswith(f"User: {session_arn} is not authorized to perform: logs:GetLogEvents")
    events = logs.get_log_events(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")["events"]
    assert [e["message"] for e in events] == ["START RequestId: 1"]


def test_role_session_scoped_to_one_log_group(srv, logs):
    fn, other = unique("/aws/lambda/fn"), unique("/aws/lambda/other")
    policy = doc(
        allow("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:*"),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], group_arn(fn) + ":*"),
    )
    client, session_arn = role_session_client(srv, inline=policy)
    client.create_log_group(logGroupName=fn)
    client.create_log_group(logGroupName=other)
    client.create_log_stream(logGroupName=fn, logStreamName="s")
    put(client, fn, "s", (now_ms(srv), "ok"))
    with pytest.raises(ClientError) as exc:
        client.create_log_stream(logGroupName=other, logStreamName="s")
    assert message(exc) == (
        f"User: {session_arn} is not authorized to perform: logs:CreateLogStream on resource: "
        f"{group_arn(other)}:log-stream:s because no identity-based policy allows the logs:CreateLogStream action"
    )
    logs.create_log_stream(logGroupName=other, logStreamName="s")
    with pytest.raises(ClientError) as exc:
        put(client, other, "s", (now_ms(srv), "nope"))
    assert code(exc) == "AccessDeniedException"
    assert logs.get_log_events(logGroupName=other, logStreamName="s")["events"] == []
