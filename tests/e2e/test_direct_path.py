"""The server's direct path (rolecall.server.HttpProtocol): a signed IAM, STS or CloudTrail call is answered from
the HTTP parser's callbacks, without an ASGI cycle, and what reaches the client is what the ASGI way sends:
the same headers, in order on a connection, closed when asked, 408 for a body that stops, 500 for a failure.
Other requests (a slow action, an unsigned call, a path of our own) still go the ASGI way."""

from __future__ import annotations

import json
import socket
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rolecall import server as server_module
from tests.servers import InProcessServer

CALLER_IDENTITY = "Action=GetCallerIdentity&Version=2011-06-15"


@pytest.fixture
def srv(tmp_path, monkeypatch):
    """An in-process server whose App counts the requests that reach it by way of ASGI."""
    monkeypatch.setattr(server_module, "BODY_READ_TIMEOUT", 0.5)
    calls: list[str] = []
    asgi = server_module.App.__call__

    async def counted(self, scope, receive, send):
        if scope["type"] == "http":
            calls.append(scope["path"])
        await asgi(self, scope, receive, send)

    monkeypatch.setattr(server_module.App, "__call__", counted)
    s = InProcessServer(tmp_path).start()
    s.asgi_calls = calls
    yield s
    s.stop()


def signed(srv, body: str, service: str = "sts", extra: str = "", version: str = "1.1") -> bytes:
    """A whole signed POST, as bytes on the wire."""
    request = AWSRequest(
        method="POST",
        url=srv.url + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(srv.access_key, srv.secret_key), service, "us-east-1").add_auth(request)
    lines = [f"POST / HTTP/{version}", f"Host: 127.0.0.1:{srv.port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n" + body).encode()


def responses(sock: socket.socket, count: int) -> list[tuple[bytes, dict[str, str], bytes]]:
    """Read `count` responses (status line, headers, body) from a connection, by their Content-Length."""
    data, found = b"", []
    while len(found) < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(found)} responses"
        data += chunk
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            status, *lines = head.split(b"\r\n")
            headers = {k.decode().lower(): v.decode() for k, v in (line.split(b": ", 1) for line in lines)}
            length = int(headers["content-length"])
            if len(rest) < length:
                break
            found.append((status, headers, rest[:length]))
            data = rest[length:]
    assert data == b""
    return found


def closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    return sock.recv(1) == b""


def test_a_signed_call_is_answered_without_asgi_with_the_same_headers(srv):
    boto = srv.client("sts").get_caller_identity()
    assert boto["Arn"].endswith(":root")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(signed(srv, CALLER_IDENTITY))
        ((status, headers, body),) = responses(sock, 1)
    assert status == b"HTTP/1.1 200 OK"
    assert b"<GetCallerIdentityResult>" in body and headers["content-type"].startswith("text/xml")
    assert headers["x-amzn-requestid"] and headers["date"] and headers["server"] == "uvicorn"
    assert srv.asgi_calls == []  # neither boto3's call nor ours went by way of ASGI
    srv.client("iam").get_account_summary()
    assert srv.asgi_calls == []


def test_pipelined_calls_are_answered_in_order(srv):
    iam = srv.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="first", AssumeRolePolicyDocument=json.dumps(trust))
    get_role = "Action=GetRole&Version=2010-05-08&RoleName="
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(signed(srv, get_role + "first", "iam") + signed(srv, get_role + "absent", "iam"))
        (first, second) = responses(sock, 2)
    assert first[0] == b"HTTP/1.1 200 OK" and b"<RoleName>first</RoleName>" in first[2]
    assert second[0] == b"HTTP/1.1 404 Not Found" and b"NoSuchEntity" in second[2]
    assert srv.asgi_calls == []


def test_a_body_in_pieces_is_waited_for_and_one_that_stops_gets_408(srv):
    whole = signed(srv, CALLER_IDENTITY)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(whole[:-10])
        time.sleep(0.2)  # under the (shortened) read deadline
        sock.sendall(whole[-10:])
        ((status, _, _),) = responses(sock, 1)
        assert status == b"HTTP/1.1 200 OK"
        sock.sendall(whole[:-10])  # and never the rest
        started = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408") and b"connection: close" in answer
        assert closed(sock) and time.monotonic() - started < 5
    assert srv.asgi_calls == []


@pytest.mark.parametrize(
    ("extra", "version"),
    [("Connection: close\r\n", "1.1"), ("", "1.0")],
    ids=["connection-close", "http-1.0"],
)
def test_a_connection_that_asks_to_end_is_closed_after_its_answer(srv, extra, version):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(signed(srv, CALLER_IDENTITY, extra=extra, version=version))
        ((status, headers, _),) = responses(sock, 1)
        assert status == b"HTTP/1.1 200 OK" and headers["connection"] == "close"
        assert closed(sock)


def test_a_kept_alive_connection_stays_open(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(signed(srv, CALLER_IDENTITY))
            ((status, headers, _),) = responses(sock, 1)
            assert status == b"HTTP/1.1 200 OK" and "connection" not in headers


def test_a_failure_in_the_pipeline_is_a_500_and_the_connection_ends(srv, monkeypatch):
    def broken(req, service=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(srv.pipeline, "handle", broken)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(signed(srv, CALLER_IDENTITY))
        ((status, headers, body),) = responses(sock, 1)
        assert status == b"HTTP/1.1 500 Internal Server Error" and body == b"Internal Server Error"
        assert headers["connection"] == "close" and closed(sock)


def test_slow_actions_unsigned_calls_and_our_own_paths_go_by_way_of_asgi(srv, monkeypatch):
    reads = []  # each request's headers are read into a request once, by the protocol or else by App
    read = server_module.request_from
    monkeypatch.setattr(server_module, "request_from", lambda *a: reads.append(a[1]) or read(*a))
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
    }
    simulate = urlencode(
        {
            "Action": "SimulateCustomPolicy",
            "Version": "2010-05-08",
            "ActionNames.member.1": "iam:GetRole",
            "PolicyInputList.member.1": json.dumps(allow),
        }
    )
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        # The slow call, then a fast one behind it on the same connection: answered in order.
        sock.sendall(signed(srv, simulate, "iam") + signed(srv, CALLER_IDENTITY))
        (slow, fast) = responses(sock, 2)
    assert slow[0] == b"HTTP/1.1 200 OK" and b"<EvalDecision>allowed</EvalDecision>" in slow[2]
    assert fast[0] == b"HTTP/1.1 200 OK" and b"<GetCallerIdentityResult>" in fast[2]
    # The simulation on a thread, and the call behind it queued as uvicorn queues pipelined requests.
    assert srv.asgi_calls == ["/", "/"]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(b"GET /_rolecall/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert responses(sock, 1)[0][0] == b"HTTP/1.1 200 OK"
        unsigned = "Action=GetCallerIdentity&Version=2011-06-15"
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(unsigned)}\r\n\r\n{unsigned}".encode()
        )
        assert responses(sock, 1)[0][0].startswith(b"HTTP/1.1 403")
    assert srv.asgi_calls == ["/", "/", "/_rolecall/health", "/"]
    assert reads == [b"/", b"/", b"/_rolecall/health", b"/"]


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout_and_a_busy_one_is_not(srv, monkeypatch):
    made = server_module.HttpProtocol.connection_made

    def short_keep_alive(self, transport):
        self.timeout_keep_alive = 1.0
        made(self, transport)

    monkeypatch.setattr(server_module.HttpProtocol, "connection_made", short_keep_alive)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        for _ in range(4):  # 1.8 s in all, never 1 s without a request
            sock.sendall(signed(srv, CALLER_IDENTITY))
            assert responses(sock, 1)[0][0] == b"HTTP/1.1 200 OK"
            time.sleep(0.6)
        started = time.monotonic()
        assert closed(sock)
        assert time.monotonic() - started < 1.5  # idle since the last answer, 0.6 s before
    assert srv.asgi_calls == []


def test_the_date_header_follows_the_clock(srv):
    """The server's own headers are kept while uvicorn's list of them stays the same: a second later, a new
    Date."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(signed(srv, CALLER_IDENTITY))
        first = responses(sock, 1)[0][1]["date"]
        time.sleep(1.3)
        sock.sendall(signed(srv, CALLER_IDENTITY))
        second = responses(sock, 1)[0][1]["date"]
    assert first != second
    assert abs(parsedate_to_datetime(second).timestamp() - time.time()) < 3
