"""Signed, authorized requests per second: rolecall's server against moto_server, in the same run.

    python bench/server_requests.py [--duration 10] [--threads 2] [--connections 16] [--repeat 3]

Both servers get the same treatment. Through boto3, as root, the script creates an IAM user with 10
attached customer managed policies of 10 statements each, an access key for it, a role, and a second
user with no policies. It then measures two operations signed with the first user's key:
iam:GetRole on the role, and sts:GetCallerIdentity.

The load generator is wrk (https://github.com/wg/wrk). It replays requests signed in advance. A real
boto3 client builds each request and a `before-send` hook captures it before it is sent. Each captured
request is then signed again with botocore's SigV4Auth. Its SDK invocation id is signed along with the
other headers, so every request carries its own signature. The requests go into a Lua script that cycles
through them. Signatures expire after a few minutes, so the script signs just before each run.

Before timing, the script checks each server. A replayed request must get HTTP 200 with the expected
body, and 403 once its signature is tampered with. A GetRole request signed by the user without
permissions must get 403, which proves that authorization is on. The script aborts if any check fails,
or if any request fails during a run.

Both servers run side by side and take turns, operation by operation, so that a change in the
machine's load falls on both. With --repeat K each pair of runs happens K times and the best rate is
kept. Besides the rate, the script reports the server process's CPU time per request, from /proc.

moto enforces IAM only once INITIAL_NO_AUTH_ACTION_COUNT requests have been served without checks. The
script starts moto_server with a count high enough for the setup calls. After setup it sets the count to
0 through moto's /moto-api/reset-auth endpoint, the one moto's own `set_initial_no_auth_action_count`
decorator uses in server mode. moto lets sts:GetCallerIdentity through without evaluating any policy
(moto/iam/access_control.py), as AWS does. It still verifies that request's signature.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

# Run from a checkout without installing: `python bench/server_requests.py`.
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.servers import Server as RolecallServer  # noqa: E402
from tests.servers import create_pg_database, drop_pg_database, free_port  # noqa: E402

REGION = "us-east-1"
POLICY_COUNT = 10
STATEMENTS_PER_POLICY = 10
# Shares of the bare ASGI app's rate that rolecall should reach on one process (issue 16).
TARGET_OF_BARE = {"GetRole": 0.30, "GetCallerIdentity": 0.40}

USER = "bench-user"
DENIED_USER = "bench-user-without-policies"
ROLE = "bench-target-role"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# Servers that check the request time refuse a signature older than this (AWS allows 15 minutes).
SIGNATURE_LIFETIME = 300
NO_RETRIES = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


class BenchError(Exception):
    """A check before timing failed; the message says which and what the server answered."""


# --- the workload -------------------------------------------------------------------------------------


def statements_of_policy(index: int) -> list[dict[str, Any]]:
    """Ten statements: wildcard Allows across services, and Denies for actions other than the two measured.

    Only the last statement of the last policy allows iam:GetRole on the target role, so an evaluator
    has to look through all 100 statements before it can allow the request.
    """
    last = index == POLICY_COUNT - 1
    get_role_resource = "arn:aws:iam::*:role/bench-*" if last else f"arn:aws:iam::*:role/svc-{index}-*"
    return [
        {
            "Sid": f"ReadBucket{index}",
            "Effect": "Allow",
            "Action": ["s3:Get*", "s3:List*"],
            "Resource": [f"arn:aws:s3:::bench-bucket-{index}", f"arn:aws:s3:::bench-bucket-{index}/*"],
        },
        {"Sid": f"Describe{index}", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
        {
            "Sid": f"NoIamWrites{index}",
            "Effect": "Deny",
            "Action": ["iam:Delete*", "iam:Put*"],
            "Resource": "*",
        },
        {
            "Sid": f"Items{index}",
            "Effect": "Allow",
            "Action": "dynamodb:*Item",
            "Resource": f"arn:aws:dynamodb:*:*:table/bench-{index}",
        },
        {
            "Sid": f"ListAppRoles{index}",
            "Effect": "Allow",
            "Action": "iam:List*",
            "Resource": f"arn:aws:iam::*:role/app-{index}-*",
        },
        {
            "Sid": f"NoDestruction{index}",
            "Effect": "Deny",
            "Action": ["s3:DeleteBucket*", "ec2:TerminateInstances", "kms:ScheduleKeyDeletion"],
            "Resource": "*",
        },
        {
            "Sid": f"Queue{index}",
            "Effect": "Allow",
            "Action": ["sqs:Send*", "sqs:Receive*", "sqs:DeleteMessage"],
            "Resource": f"arn:aws:sqs:*:*:queue-{index}*",
        },
        {
            "Sid": f"Logs{index}",
            "Effect": "Allow",
            "Action": ["logs:Describe*", "logs:Get*"],
            "Resource": "*",
        },
        {
            "Sid": f"NoUserKeys{index}",
            "Effect": "Deny",
            "Action": ["iam:CreateAccessKey", "iam:Update*"],
            "Resource": "arn:aws:iam::*:user/*",
        },
        {"Sid": f"ReadRoles{index}", "Effect": "Allow", "Action": "iam:Get*", "Resource": get_role_resource},
    ]


def policy_documents() -> list[dict[str, Any]]:
    docs = [{"Version": "2012-10-17", "Statement": statements_of_policy(i)} for i in range(POLICY_COUNT)]
    assert all(len(d["Statement"]) == STATEMENTS_PER_POLICY for d in docs)
    return docs


@dataclass
class Workload:
    user_key: Credentials
    denied_key: Credentials
    user_arn: str


def create_workload(endpoint: str, root: Credentials) -> Workload:
    """The user, its 10 policies and key, the role, and the user without permissions, created as root."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=root.access_key,
        aws_secret_access_key=root.secret_key,
        config=NO_RETRIES,
    )
    user_arn = iam.create_user(UserName=USER)["User"]["Arn"]
    for i, doc in enumerate(policy_documents()):
        arn = iam.create_policy(PolicyName=f"bench-policy-{i}", PolicyDocument=json.dumps(doc))["Policy"][
            "Arn"
        ]
        iam.attach_user_policy(UserName=USER, PolicyArn=arn)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
    iam.create_user(UserName=DENIED_USER)
    denied = iam.create_access_key(UserName=DENIED_USER)["AccessKey"]
    return Workload(
        user_key=Credentials(key["AccessKeyId"], key["SecretAccessKey"]),
        denied_key=Credentials(denied["AccessKeyId"], denied["SecretAccessKey"]),
        user_arn=user_arn,
    )


# --- the operations measured, and their pre-signed requests --------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    service: str
    call: Callable[[Any], Any]  # makes the call on a boto3 client of `service`
    expect_in_body: Callable[[Workload], str]  # a string a correct 200 response contains


OPERATIONS = [
    Operation(
        "GetRole", "iam", lambda c: c.get_role(RoleName=ROLE), lambda w: f"<RoleName>{ROLE}</RoleName>"
    ),
    Operation(
        "GetCallerIdentity", "sts", lambda c: c.get_caller_identity(), lambda w: f"<Arn>{w.user_arn}</Arn>"
    ),
]


@dataclass
class SignedRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]  # includes Host; Content-Length is left to the sender
    body: bytes


@dataclass
class _Unsent:
    """The raw body of the stand-in reply to a request that is captured instead of sent.

    botocore still parses the reply, so it must be a query-protocol document for the operation.
    """

    operation: str

    def stream(self, **_: Any) -> Iterator[bytes]:
        name = self.operation
        yield f"<{name}Response><{name}Result/></{name}Response>".encode()


def capture_requests(endpoint: str, key: Credentials, operation: Operation, count: int) -> list[AWSRequest]:
    """`count` requests exactly as a boto3 client builds them, captured at `before-send`, never sent."""
    client = boto3.client(
        operation.service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key.access_key,
        aws_secret_access_key=key.secret_key,
        config=NO_RETRIES,
    )
    captured: list[AWSRequest] = []

    def keep(request: Any, **_: Any) -> AWSResponse:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        captured.append(
            AWSRequest(method=request.method, url=request.url, headers=headers, data=request.body)
        )
        return AWSResponse(request.url, 200, {}, _Unsent(operation.name))

    client.meta.events.register("before-send", keep)
    for _ in range(count):
        operation.call(client)
    return captured


def sign(request: AWSRequest, key: Credentials, service: str) -> SignedRequest:
    """Sign one captured request afresh with SigV4Auth, its per-call SDK headers included."""
    url = urlsplit(request.url)
    for name in ("Authorization", "X-Amz-Date", "Content-Length"):
        if name in request.headers:
            del request.headers[name]
    request.headers["Host"] = url.netloc
    SigV4Auth(key, service, REGION).add_auth(request)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return SignedRequest(request.method, path, list(request.headers.items()), body)


def signed_requests(endpoint: str, key: Credentials, operation: Operation, count: int) -> list[SignedRequest]:
    return [sign(r, key, operation.service) for r in capture_requests(endpoint, key, operation, count)]


def replay(endpoint: str, request: SignedRequest) -> tuple[int, str]:
    """Send one pre-signed request byte for byte as given; the status and body of the answer."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


# --- wrk ----------------------------------------------------------------------------------------------

LUA_DRIVER = """
-- Cycle through the pre-signed requests; each thread starts at its own place in the list.
local next_thread = 0
function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local formatted = {}
local position = 0
function init(args)
  for i, r in ipairs(signed) do
    formatted[i] = wrk.format(r[1], r[2], r[3], r[4])
  end
  position = ((thread_index or 0) * 7919) % #formatted
end

function request()
  position = position % #formatted + 1
  return formatted[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "latency_p50_us": %d, "latency_p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(value: str | bytes) -> str:
    """A Lua string literal for any bytes: printable ASCII kept, everything else as a decimal escape."""
    data = value.encode() if isinstance(value, str) else value
    out = []
    for b in data:
        ch = chr(b)
        if ch in '"\\' or not 32 <= b < 127:
            out.append(f"\\{b:03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def lua_script(requests: list[SignedRequest]) -> str:
    """The requests as a Lua table {method, path, headers, body}, followed by the driver."""
    rows = []
    for r in requests:
        # wrk.format sets Content-Length itself from the body.
        headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in r.headers)
        body = lua_string(r.body) if r.body else "nil"
        rows.append(f"  {{{lua_string(r.method)}, {lua_string(r.path)}, {{{headers}}}, {body}}},")
    return "signed = {\n" + "\n".join(rows) + "\n}\n" + LUA_DRIVER


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_p50_ms: float
    latency_p99_ms: float
    cpu_us_per_request: float | None = None  # the server process's CPU time over the run, per request
    writer_us_per_request: float | None = None  # of which the trail writer processes'
    # rolecall only: records of the run's requests missing from the trail 0.2 s after the load stopped
    # (None: not counted), and how many more requests the server answered than wrk counted.
    trail_missing: int | None = None
    trail_complete_after: float | None = None  # seconds after the load until every record was there

    @property
    def cpu_text(self) -> str:
        return "n/a" if self.cpu_us_per_request is None else f"{self.cpu_us_per_request:.0f} us"

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """User plus system CPU time so far of a process and every live process below it (a server's workers and
    trail writer processes), and of those trail writers alone, from /proc (None where there is no /proc)."""
    if _stat(pid) is None:
        return None
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    total = writers = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(parents.get(p, []))
        f = _stat(p)
        if f is None:
            continue
        ticks = int(f[11]) + int(f[12])  # fields 14 and 15 of stat(5), utime and stime, counted after the ")"
        total += ticks
        try:
            if b"rolecall.store.event_pipe" in Path(f"/proc/{p}/cmdline").read_bytes():
                writers += ticks
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK"), writers / os.sysconf("SC_CLK_TCK")


def run_wrk(endpoint: str, script: Path, seconds: float, threads: int, connections: int) -> WrkResult:
    cmd = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={script}",
        endpoint + "/",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or not match:
        raise BenchError(f"wrk failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    data = json.loads(match.group(1))
    errors = {k: data[k] for k in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        latency_p50_ms=data["latency_p50_us"] / 1000,
        latency_p99_ms=data["latency_p99_us"] / 1000,
    )


# --- profiling (--profile) ----------------------------------------------------------------------------


@contextmanager
def py_spy(pid: int, seconds: float, out: Path) -> Iterator[None]:
    """Sample `pid` with py-spy while the body runs, only the thread holding the GIL.

    Both servers are one Python process that a single core's worth of GIL time bounds, so the GIL
    holder's stacks show where the serial time goes. Threads blocked on the GIL are left out; they
    would otherwise pile up at whatever call they just returned from.
    """
    if shutil.which("py-spy") is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")
    cmd = ["py-spy", "record", "--pid", str(pid), "--duration", str(round(seconds)), "--rate", "250", "--gil"]
    proc = subprocess.Popen(
        [*cmd, "--format", "raw", "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield
    finally:
        log = proc.communicate(timeout=seconds + 60)[0].decode(errors="replace")
        if proc.returncode != 0:
            raise BenchError(f"py-spy failed (it needs ptrace rights over the server):\n{log}")


FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def _function_of(frame: str) -> str:
    """'name (path/to/file.py:12)' -> 'name (file.py)', so all lines of one function count together."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match.group('function')} ({file})"


def profile_summary(raw: Path, top: int = 25) -> str:
    """Functions by share of samples: own time (at the top of the stack) and total (anywhere in it)."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function_of(f) for f in stack.split(";") if f and not f.startswith("thread (")]
        if not frames:
            continue
        samples += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for name in set(frames):
            total[name] = total.get(name, 0) + count
    if not samples:
        return "no samples (was the server busy?)"
    lines = [f"{samples} samples of the thread holding the GIL", "", "  own%  total%  function (own time)"]
    for name, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / samples:6.1f}  {100 * total[name] / samples:6.1f}  {name}")
    lines += ["", "  total%  function (including callees)"]
    for name, count in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / samples:8.1f}  {name}")
    return "\n".join(lines)


# --- the two servers ----------------------------------------------------------------------------------


@dataclass
class Target:
    """A running server with the workload in place, ready to be measured."""

    name: str
    endpoint: str
    workload: Workload | None  # None: the bare app, which replays rolecall's requests
    pid: int
    trail: TrailCounter | None = None


def _wait_until_up(proc: subprocess.Popen, url: str, what: str, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited at startup:\n{log.read_text()}")
        try:
            parts = urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1)
            conn.request("GET", parts.path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{what} did not start within 60 s:\n{log.read_text()}")


@contextmanager
def moto_target(workdir: Path) -> Iterator[Target]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = workdir / "moto.log"
    # Enforcement is armed but deferred past the setup calls; reset-auth below makes it start at once.
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="1000000")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(proc, endpoint + "/moto-api/", "moto_server", log)
        # moto accepts any key while enforcement is deferred; as root, this one is as good as any.
        root = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        workload = create_workload(endpoint, root)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/moto-api/reset-auth", body=b"0")
        answer = conn.getresponse()
        if answer.status != 200:
            raise BenchError(f"moto reset-auth failed: {answer.status} {answer.read()!r}")
        yield Target("moto", endpoint, workload, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def rolecall_target(workdir: Path, extra_args: list[str], postgres: bool = False) -> Iterator[Target]:
    data_dir = workdir / "rolecall"
    data_dir.mkdir()
    database_url = create_pg_database() if postgres else None
    server = RolecallServer(
        data_dir=data_dir, auth="enforce", extra_args=extra_args, database_url=database_url
    )
    try:
        server.start()
        assert server.proc is not None
        root = Credentials(server.access_key, server.secret_key)
        workload = create_workload(server.url, root)
        name = "rolecall-pg" if postgres else "rolecall"
        trail = TrailCounter(database_url or str(data_dir / "rolecall.db"))
        yield Target(name, server.url, workload, pid=server.proc.pid, trail=trail)
    finally:
        server.stop()
        if database_url:
            drop_pg_database(database_url)


@contextmanager
def bare_target(workdir: Path, workers: int) -> Iterator[Target]:
    """bench/bare_app.py under uvicorn with httptools and uvloop: the floor of the HTTP stack."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = workdir / "bare.log"
    cmd = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(proc, endpoint + "/", "the bare ASGI app", log)
        yield Target("bare", endpoint, None, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class TrailCounter:
    """Counts a rolecall server's trail records of one event name, straight from its database: after a run,
    every answered request must have its record, and none may still be queued once the load stops."""

    def __init__(self, where: str):
        self.where = where

    def count(self, event_name: str) -> int:
        sql = "SELECT count(*) FROM events WHERE event_name = %s"
        if self.where.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(self.where, autocommit=True) as conn:
                row = conn.execute(sql, (event_name,)).fetchone()
        else:
            import sqlite3

            conn = sqlite3.connect(self.where)
            try:
                row = conn.execute(sql.replace("%s", "?"), (event_name,)).fetchone()
            finally:
                conn.close()
        return int(row[0]) if row else 0


# --- measuring ----------------------------------------------------------------------------------------


def tampered_signature(request: SignedRequest) -> SignedRequest:
    """The same request with the last hex digit of its signature changed."""

    def alter(name: str, value: str) -> str:
        if name.lower() != "authorization":
            return value
        return value[:-1] + ("0" if value[-1] != "0" else "1")

    return SignedRequest(
        request.method, request.path, [(k, alter(k, v)) for k, v in request.headers], request.body
    )


def verify(target: Target, operation: Operation, sample: SignedRequest) -> None:
    """A replayed request must succeed, and fail once its signature is tampered with.

    For GetRole, the same call signed by the user without policies must be refused too.
    """
    status, body = replay(target.endpoint, sample)
    expected = operation.expect_in_body(target.workload)
    if status != 200 or expected not in body:
        raise BenchError(
            f"{target.name}: a replayed, signed {operation.name} got HTTP {status}, expected 200 "
            f"with {expected!r} in the body:\n{body[:2000]}"
        )
    forged = tampered_signature(sample)
    status, body = replay(target.endpoint, forged)
    if status != 403:
        raise BenchError(
            f"{target.name}: {operation.name} with a tampered signature got HTTP {status}, expected 403, "
            f"so signatures are not being verified:\n{body[:2000]}"
        )
    if operation.name == "GetRole":
        denied = signed_requests(target.endpoint, target.workload.denied_key, operation, 1)[0]
        status, body = replay(target.endpoint, denied)
        if status != 403:
            raise BenchError(
                f"{target.name}: GetRole signed by {DENIED_USER}, who has no policies, got HTTP {status}, "
                f"expected 403, so authorization is not being enforced:\n{body[:2000]}"
            )


@dataclass
class Measurement:
    server: str
    operation: str
    result: WrkResult


def measure(
    target: Target,
    operation: Operation,
    args: argparse.Namespace,
    workdir: Path,
    profile: bool,
    script: Path | None = None,
) -> WrkResult:
    """One timed wrk run of `operation` against `target`, on requests signed just before it (or, for the
    bare app, on `script`: the requests just signed for rolecall, so that both get the same bytes)."""
    # Sign just before the run: the signatures must still be fresh when wrk sends the last one.
    started = time.time()
    if script is None:
        assert target.workload is not None
        requests = signed_requests(target.endpoint, target.workload.user_key, operation, args.signed)
        verify(target, operation, requests[0])
        script = workdir / f"{target.name}-{operation.name}.lua"
        script.write_text(lua_script(requests))
    counted_before = None
    if target.trail is not None:
        time.sleep(0.3)  # the checks' own records
        counted_before = target.trail.count(operation.name)
    warm = None
    if args.warmup > 0:
        warm = run_wrk(target.endpoint, script, args.warmup, args.threads, args.connections)
    cpu_before = cpu_seconds(target.pid)
    result = run_wrk(target.endpoint, script, args.duration, args.threads, args.connections)
    cpu_after = cpu_seconds(target.pid)
    if target.trail is not None and counted_before is not None:
        time.sleep(0.2)
        answered = result.requests + (warm.requests if warm else 0)
        written = target.trail.count(operation.name) - counted_before
        result.trail_missing = max(0, answered - written)
        waited = 0.2
        while answered > written and waited < 10:  # how long until the writer caught up
            time.sleep(0.1)
            waited += 0.1
            written = target.trail.count(operation.name) - counted_before
        result.trail_complete_after = waited if answered <= written else None
    if cpu_before is not None and cpu_after is not None and result.requests:
        result.cpu_us_per_request = (cpu_after[0] - cpu_before[0]) / result.requests * 1e6
        result.writer_us_per_request = (cpu_after[1] - cpu_before[1]) / result.requests * 1e6
    if result.failed:
        raise BenchError(
            f"{target.name} {operation.name}: {result.failed} of {result.requests} requests failed "
            f"during the run ({result.errors}; 'status' counts answers other than 2xx/3xx)"
        )
    trail = ""
    if result.trail_missing is not None:
        done = result.trail_complete_after
        trail = f", trail records missing after 0.2 s: {result.trail_missing}" + (
            f" (all written {done:.1f} s after the load)"
            if done is not None
            else " (some still missing after 10 s)"
        )
    print(
        f"  {target.name:11} {operation.name:18} {result.rate:9.1f} req/s  "
        f"({result.requests} in {result.seconds:.1f} s, p50 {result.latency_p50_ms:.1f} ms, "
        f"p99 {result.latency_p99_ms:.1f} ms, server CPU {result.cpu_text} per request{trail})",
        flush=True,
    )
    if profile and target.workload is not None:
        # A separate run, so that the sampler's overhead never touches the figure above.
        raw = args.profile / f"{target.name}-{operation.name}.txt"
        with py_spy(target.pid, args.duration, raw):
            run_wrk(target.endpoint, script, args.duration, args.threads, args.connections)
        summary = args.profile / f"{target.name}-{operation.name}-summary.txt"
        summary.write_text(profile_summary(raw) + "\n")
        print(f"  profile of {target.name} {operation.name}: {summary} (collapsed stacks in {raw})")
    if time.time() - started > SIGNATURE_LIFETIME:
        print(f"warning: {target.name} {operation.name} outlasted its signatures; shorten the run")
    return result


def load_warning() -> str | None:
    """A note when other processes already keep the CPUs busy, which skews every figure."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cores = os.cpu_count() or 1
    if load < 0.5 * cores:
        return None
    return (
        f"warning: load average {load:.1f} on {cores} cores before starting; other processes compete "
        "with the servers and wrk, so rates are noisy (--repeat keeps the best of several runs)"
    )


def print_table(measurements: list[Measurement]) -> None:
    """One row per server and operation; ratios sit on rolecall's rows, against the peers in this run.

    The CPU column is the server process's CPU time per request. It moves much less than the rate
    when other processes compete for the machine.
    """
    by_key = {(m.server, m.operation): m.result for m in measurements}
    print()
    print(
        f"{'server':12} {'operation':18} {'requests/s':>11} {'of bare':>8} {'x moto':>8} {'pg/sqlite':>10} "
        f"{'CPU us/req':>11} {'writer':>7} {'trail left':>11}"
    )
    for m in measurements:
        bare, moto = by_key.get(("bare", m.operation)), by_key.get(("moto", m.operation))
        sqlite = by_key.get(("rolecall", m.operation))
        of_bare = x_moto = pg = ""
        if m.server.startswith("rolecall"):
            if bare is not None:
                of_bare = f"{100 * m.result.rate / bare.rate:.0f}%"
            if moto is not None:
                x_moto = f"{m.result.rate / moto.rate:.1f}x"
            if m.server == "rolecall-pg" and sqlite is not None:
                pg = f"{m.result.rate / sqlite.rate:.2f}"
        cpu = "" if m.result.cpu_us_per_request is None else f"{m.result.cpu_us_per_request:.0f}"
        writer = "" if not m.result.writer_us_per_request else f"{m.result.writer_us_per_request:.0f}"
        left = "" if m.result.trail_missing is None else str(m.result.trail_missing)
        print(
            f"{m.server:12} {m.operation:18} {m.result.rate:11.1f} {of_bare:>8} {x_moto:>8} {pg:>10} "
            f"{cpu:>11} {writer:>7} {left:>11}"
        )
    print()
    for op in OPERATIONS:
        ours, bare = by_key.get(("rolecall", op.name)), by_key.get(("bare", op.name))
        if ours is None or bare is None:
            continue
        target = TARGET_OF_BARE[op.name]
        share = ours.rate / bare.rate
        print(
            f"{op.name}: rolecall {'meets' if share >= target else 'misses'} {target:.0%} of the bare app "
            f"({share:.0%}) in this run"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per timed run (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of untimed load first (default: %(default)s)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument(
        "--signed", type=int, default=500, help="distinct signed requests per run (default: %(default)s)"
    )
    parser.add_argument(
        "--only",
        choices=["rolecall", "moto", "bare", "rolecall-pg"],
        action="append",
        help="measure only these servers (repeatable; default: moto, rolecall and bare)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also measure rolecall on a PostgreSQL store (a scratch database on 127.0.0.1:5432, as the tests use)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes for rolecall and the bare app alike (default: %(default)s)",
    )
    parser.add_argument(
        "--rolecall-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `rolecall serve`, e.g. --rolecall-arg=--threads=4 (repeatable)",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after setup, print each server's pid and wait for Enter before measuring (to attach a profiler)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after each timed run, run again under py-spy and write collapsed stacks and a summary to DIR",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per server and operation; the best is kept (default: 1)"
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    rolecall_args = [*args.rolecall_arg, *([f"--workers={args.workers}"] if args.workers > 1 else [])]
    candidates: list[tuple[str, Callable[[Path], Any]]] = [
        ("moto", moto_target),
        ("rolecall", lambda d: rolecall_target(d, rolecall_args)),
        ("rolecall-pg", lambda d: rolecall_target(d, rolecall_args, postgres=True)),
        ("bare", lambda d: bare_target(d, args.workers)),
    ]
    chosen = set(args.only or ["moto", "rolecall", "bare", *(["rolecall-pg"] if args.postgres else [])])
    targets = [(name, start) for name, start in candidates if name in chosen]

    print(
        f"{POLICY_COUNT} policies x {STATEMENTS_PER_POLICY} statements on the caller; wrk {args.threads} threads, "
        f"{args.connections} connections, {args.duration:g} s per run after {args.warmup:g} s warm-up, "
        f"{args.signed} distinct signed requests, {args.workers} worker process(es)"
    )
    warning = load_warning()
    if warning:
        print(warning)
    best: dict[tuple[str, str], Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="rolecall-bench-") as tmp, ExitStack() as servers:
        try:
            running: list[tuple[Target, Path]] = []
            for name, start in targets:
                workdir = Path(tmp) / name
                workdir.mkdir()
                running.append((servers.enter_context(start(workdir)), workdir))
            if args.hold:
                pids = ", ".join(f"{t.name} {t.pid}" for t, _ in running)
                input(f"servers up ({pids}); press Enter to measure ")
            # Both servers run side by side and take turns, so that a change in the machine's load
            # between runs falls on both of them.
            for repetition in range(args.repeat):
                for operation in OPERATIONS:
                    script = None
                    for target, workdir in running:
                        profile = bool(args.profile) and repetition == 0
                        if target.workload is None and script is None:
                            # The bare app replays what was just signed for another server.
                            raise BenchError("the bare app needs rolecall or moto in the same run")
                        result = measure(
                            target, operation, args, workdir, profile, None if target.workload else script
                        )
                        if target.workload is not None:
                            script = workdir / f"{target.name}-{operation.name}.lua"
                        key = (target.name, operation.name)
                        if key not in best or result.rate > best[key].result.rate:
                            best[key] = Measurement(target.name, operation.name, result)
        except BenchError as exc:
            print(f"aborted: {exc}", file=sys.stderr)
            return 1
    order = ["bare", "moto", "rolecall", "rolecall-pg"]
    measurements = [best[k] for k in sorted(best, key=lambda k: (k[1] != "GetRole", order.index(k[0])))]
    print_table(measurements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
