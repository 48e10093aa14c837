"""What a caller controls at the edge of the server cannot forge its identity or hold the server: forwarding
headers are believed only from configured proxies, bodies have limits checked before they are read and a
deadline while they arrive, and the generated root secret is printed only to a terminal."""

from __future__ import annotations

import json
import socket
import time

import pytest
import urllib3

from rolecall import server as server_module
from tests.servers import InProcessServer, Server

DENY_OUTSIDE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        },
    ],
}


def user_limited_to_an_address(srv):
    iam = srv.client("iam")
    iam.create_user(UserName="from-office")
    iam.put_user_policy(UserName="from-office", PolicyName="office", PolicyDocument=json.dumps(DENY_OUTSIDE))
    key = iam.create_access_key(UserName="from-office")["AccessKey"]
    return srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"])


def forwarded(client):
    """Every request of `client` claims to come from the office through a proxy."""
    client.meta.events.register(
        "before-sign.iam.*",
        lambda request, **_: request.headers.__setitem__("X-Forwarded-For", "203.0.113.9"),
    )
    return client


def last_source_ip(srv):
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "from-office"}], MaxResults=1
    )["Events"]
    return json.loads(events[0]["CloudTrailEvent"])["sourceIPAddress"]


def test_x_forwarded_for_is_not_believed_by_default(tmp_path):
    srv = Server(tmp_path).start()
    try:
        office = forwarded(user_limited_to_an_address(srv))
        with pytest.raises(Exception) as exc:
            office.list_roles()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
        assert last_source_ip(srv) == "127.0.0.1"
    finally:
        srv.stop()


def test_a_configured_proxy_is_believed(tmp_path):
    srv = Server(tmp_path, extra_args=["--forwarded-allow-ips", "127.0.0.1"]).start()
    try:
        office = forwarded(user_limited_to_an_address(srv))
        office.list_roles()
        assert last_source_ip(srv) == "203.0.113.9"
    finally:
        srv.stop()


def test_the_root_secret_is_not_printed_to_a_log(tmp_path):
    srv = Server(tmp_path, env_root=False).start()
    try:
        output = srv.output()
        assert srv.secret_key not in output
        assert "not shown: standard output is not a terminal" in output
        assert srv.client("sts").get_caller_identity()["Arn"].endswith(":root")  # the file holds the keys
    finally:
        srv.stop()


@pytest.fixture
def inproc(tmp_path, monkeypatch):
    monkeypatch.setattr(server_module, "BODY_READ_TIMEOUT", 0.5)
    srv = InProcessServer(tmp_path).start()
    yield srv
    srv.stop()


def test_a_body_over_the_limit_is_refused_before_it_is_read(inproc):
    scope = "Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
    with socket.create_connection(("127.0.0.1", inproc.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Authorization: AWS4-HMAC-SHA256 {scope}\r\n".encode()
            + f"Content-Length: {(1 << 20) + 1}\r\n\r\n".encode()
        )
        answer = sock.recv(4096)  # no byte of the body was sent: the answer cannot have waited for it
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_body_that_stops_arriving_times_out(inproc):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", inproc.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=List")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 9  # answered by the deadline, not by the client's own timeout


def test_the_server_still_serves_others(inproc):
    assert urllib3.PoolManager().request("GET", inproc.url + "/_rolecall/health").status == 200


def test_heads_without_bodies_and_100_continue_reach_the_client(tmp_path):
    """A response head with no body to travel with (HEAD, 100 Continue) still goes out, and a kept-alive
    connection goes on serving after it (`rolecall serve`'s transport holds a head for its body)."""
    srv = Server(tmp_path).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")  # before any byte of the body
            sock.sendall(b"Action")
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 ") and b"\r\n\r\n" in first
            sock.sendall(b"HEAD /_rolecall/health HTTP/1.1\r\nHost: x\r\n\r\n")
            head = sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 ") and head.endswith(b"\r\n\r\n")
            sock.sendall(b"GET /_rolecall/health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b'"running"' not in answer:
                chunk = sock.recv(65536)
                assert chunk
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
    finally:
        srv.stop()
