"""Many instances on one metadata loop: a listening socket each, a constant handful of threads, kept-alive
connections with TCP_NODELAY, and descriptors that come back when instances go."""

from __future__ import annotations

import http.client
import logging
import os
import resource
import socket
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError
from botocore.utils import InstanceMetadataFetcher

from rolecall.app import build_pipeline
from rolecall.services.ec2.imds.server import DESCRIPTOR_RESERVE, WORKERS
from tests.e2e.ec2.helpers import AMI, code, imds, launch, make_profile
from tests.servers import InProcessServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")

ACCOUNT = "123456789012"
SLACK = 24  # descriptors the test's own clients and the loop may open besides the endpoints


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("imds-scale")).start()
    yield s
    s.stop()


def manager(srv):
    return srv.pipeline.services["ec2"].imds


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def imds_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("imds")]


def wait_until(condition, what: str, seconds: float = 30.0) -> None:
    """Wait for the server to catch up with something it does asynchronously (no timing is asserted)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_two_hundred_instances_share_one_loop(srv):
    ec2 = srv.session().client("ec2", region_name="eu-central-1", endpoint_url=srv.url)
    ec2.describe_instances()  # the API's own connection and threads exist before the baseline is taken
    threads_before, fds_before = threading.active_count(), descriptors()
    srv.config.ec2_vcpu_limit = 200  # 200 m1.small, 1 vCPU each
    try:
        launched = ec2.run_instances(ImageId=AMI, MinCount=200, MaxCount=200)["Instances"]
    finally:
        srv.config.ec2_vcpu_limit = 32
    ids = [i["InstanceId"] for i in launched]
    ports = {iid: manager(srv).port_of(iid) for iid in ids}
    assert len(ids) == 200 and len(set(ports.values())) == 200

    # Every endpoint answers as its own instance; the answers come from one loop and a few workers.
    for iid, port in ports.items():
        answer = imds(port, "/latest/meta-data/instance-id")
        assert (answer.status, answer.text) == (200, iid)
    assert len(imds_threads()) <= 1 + WORKERS, imds_threads()
    assert threading.active_count() <= threads_before + 1 + WORKERS

    # One descriptor per endpoint; the closed client connections give theirs back.
    wait_until(
        lambda: not manager(srv).server.connections(), "the server closes connections the clients closed"
    )
    assert 200 <= descriptors() - fds_before <= 200 + SLACK

    ec2.terminate_instances(InstanceIds=ids)
    assert all(refused(port) for port in ports.values())
    assert descriptors() - fds_before <= SLACK
    assert len(imds_threads()) <= 1 + WORKERS


def test_kept_alive_connection_serves_every_request_with_nodelay(srv):
    role, profile = make_profile(srv)
    iid = launch(srv, profile)["InstanceId"]
    port = manager(srv).port_of(iid)
    server = manager(srv).server
    accepted = server.accepted
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        answer = conn.getresponse()
        token = answer.read().decode()
        assert answer.status == 200 and answer.getheader("Connection") is None
        path = f"/latest/meta-data/iam/security-credentials/{role['RoleName']}"
        for _ in range(3):
            conn.request("GET", path, headers={"X-aws-ec2-metadata-token": token})
            answer = conn.getresponse()
            assert answer.status == 200 and b"AccessKeyId" in answer.read()
        assert server.accepted == accepted + 1  # four requests, one connection
        (accepted_socket,) = server.connections()
        assert accepted_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()
    wait_until(lambda: not server.connections(), "the server closes its side")


def test_botocore_fetches_credentials_over_one_connection(srv):
    role, profile = make_profile(srv)
    iid = launch(srv, profile, MetadataOptions={"HttpTokens": "required"})["InstanceId"]
    server = manager(srv).server
    accepted = server.accepted
    fetcher = InstanceMetadataFetcher(
        timeout=5, num_attempts=1, base_url=f"http://127.0.0.1:{manager(srv).port_of(iid)}"
    )
    creds = fetcher.retrieve_iam_role_credentials()
    assert creds["role_name"] == role["RoleName"] and creds["access_key"].startswith("ASIA")
    assert server.accepted == accepted + 1  # token PUT, role listing, credentials: one kept-alive connection


def test_http_framing(srv):
    iid = launch(srv)["InstanceId"]
    port = manager(srv).port_of(iid)

    def exchange(raw: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(raw)
            chunks = []
            while chunk := s.recv(65536):  # the server closes after its last answer
                chunks.append(chunk)
            return b"".join(chunks)

    # Pipelined requests are answered in order on one connection; the last one asks to close.
    out = exchange(
        b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n"
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n"
        b"Content-Length: 5\r\n\r\nhello"
        b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 3 and out.count(iid.encode()) == 2
    assert out.rstrip().endswith(iid.encode()) and b"Connection: close\r\n" in out
    assert b"Server: EC2ws\r\n" in out

    # A chunked body is read and dropped like any other.
    out = exchange(
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        b"GET /latest/meta-data/instance-id HTTP/1.0\r\n\r\n"
    )
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 2 and out.endswith(iid.encode())

    # HTTP/1.0 closes unless asked to keep the connection; HEAD has no body.
    out = exchange(b"HEAD /latest/meta-data/instance-id HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n")
    assert f"Content-Length: {len(iid)}\r\n".encode() in out

    # Malformed requests get an error page and the connection is closed.
    for raw, status in (
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /latest HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /latest/meta-data/instance-id HTTP/1.1\r\nBad Header: x\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431"),
        (b"PUT /latest/api/token HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", b"413"),
        (b"PUT /latest/api/token HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
    ):
        out = exchange(raw)
        assert out.startswith(b"HTTP/1.1 " + status + b" "), (raw[:40], out[:60])
        assert b"Connection: close\r\n" in out and b"text/html" in out


def test_stopping_an_instance_closes_its_open_connections(srv):
    iid = launch(srv)["InstanceId"]
    port = manager(srv).port_of(iid)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/latest/meta-data/instance-id")
    assert conn.getresponse().read().decode() == iid
    kept = conn.sock
    srv.client("ec2").stop_instances(InstanceIds=[iid])
    assert kept.recv(1) == b""  # the server hung up: a stopped instance answers nothing
    conn.close()
    assert refused(port)


def test_no_descriptors_left_is_insufficient_capacity_not_a_dead_server(srv):
    """When another endpoint would eat into the descriptors the process needs to go on answering, EC2's
    InsufficientInstanceCapacity refuses the launch (or MaxCount shrinks) and the API keeps working."""
    ec2 = srv.session().client("ec2", region_name="us-west-1", endpoint_url=srv.url)
    ec2.describe_instances()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors() + DESCRIPTOR_RESERVE + 4, hard))
    try:
        launched = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=20)["Instances"]
        assert 1 <= len(launched) <= 4
        with pytest.raises(ClientError) as exc:
            ec2.run_instances(ImageId=AMI, MinCount=5, MaxCount=5)
        assert code(exc) == "InsufficientInstanceCapacity"
        assert exc.value.response["Error"]["Message"].startswith(
            "We currently do not have sufficient m1.small capacity in the Availability Zone you requested "
            "(us-west-1a)."
        )
        assert len(ec2.describe_instances()["Reservations"]) == 1  # nothing more launched; the API answers
        for instance in launched:
            answer = imds(manager(srv).port_of(instance["InstanceId"]), "/latest/meta-data/instance-id")
            assert answer.text == instance["InstanceId"]
        # Starting a stopped instance needs an endpoint too.
        first = launched[0]["InstanceId"]
        ec2.stop_instances(InstanceIds=[first])
        resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors() + DESCRIPTOR_RESERVE - 1, hard))
        with pytest.raises(ClientError) as exc:
            ec2.start_instances(InstanceIds=[first])
        assert code(exc) == "InsufficientInstanceCapacity"
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    ec2.start_instances(InstanceIds=[first])
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in launched])


def test_the_server_raises_its_open_file_limit(srv, caplog):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 1024:
        pytest.skip("needs a finite hard limit of at least 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        with caplog.at_level(logging.DEBUG, logger="rolecall.imds"):
            node = build_pipeline(srv.store, srv.config, clock=srv.clock)  # a server starting
            node.close()
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
        assert f"raised the open-file limit (RLIMIT_NOFILE) from 512 to {hard}" in caplog.text
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_closing_the_manager_frees_every_port_and_a_later_launch_starts_it_again(srv):
    """What a server stopping (or `--auth off`'s reset) does: no endpoint or thread outlives it."""
    iid = launch(srv)["InstanceId"]
    node = build_pipeline(srv.store, srv.config, clock=srv.clock)  # another node, with endpoints of its own
    try:
        other = node.services["ec2"].imds
        port = other.open(ACCOUNT, iid)
        assert imds(port, "/latest/meta-data/instance-id").text == iid
        loops = imds_threads().count("imds-loop")
        other.close()
        assert refused(port)
        assert imds_threads().count("imds-loop") == loops - 1
        again = other.open(ACCOUNT, iid)
        assert imds(again, "/latest/meta-data/instance-id").text == iid
    finally:
        node.close()
    assert refused(again)
