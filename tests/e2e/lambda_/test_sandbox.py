"""A Lambda function holds nothing but its role's credentials (issue 15, items 1 and 9).

Each test runs real functions in rolecall's sandbox, on a real `rolecall serve` whose environment holds the
root account's secret key and whose data dir holds the generated master key and the database, and attacks
the way the finding describes: read the master key, the database, the server's environment through /proc,
the data dir, another function's code; reach PostgreSQL, another loopback service, or the server without
the relay; rewrite the function's own code; leave processes behind. Each attack must fail while the
role's credentials keep working. The machine must be able to sandbox (CI installs bubblewrap): where it
cannot, these tests fail rather than skip, since rolecall would refuse to run functions there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from rolecall.services.lambda_.sandbox import SANDBOX_UID, probe, python_prefix
from tests.e2e.lambda_.helpers import (
    ACCOUNT,
    allow,
    create_function,
    doc,
    invoke_json,
    log_messages,
    make_role,
)
from tests.servers import Server


class GeneratedKeyServer(Server):
    """A server without ROLECALL_MASTER_KEY: it generates one and keeps it in DATA_DIR/master.key."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("ROLECALL_MASTER_KEY")
        return env


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    support = probe()
    assert support.available, f"this machine cannot sandbox functions: {support.reason}"
    s = GeneratedKeyServer(tmp_path_factory.mktemp("sandbox"), extra_args=["--host", "0.0.0.0"]).start()
    assert (s.data_dir / "master.key").is_file() and (s.data_dir / "rolecall.db").is_file()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def role(srv):
    return make_role(srv, inline=doc(allow(["sts:GetCallerIdentity", "iam:ListRoles"])))


def host_addresses() -> list[str]:
    """This machine's own non-loopback IPv4 addresses (the kernel's LOCAL routes), where a server listening
    on 0.0.0.0 is reached without going through loopback."""
    found = []
    last = ""
    for line in Path("/proc/net/fib_trie").read_text().splitlines():
        text = line.strip()
        if text.startswith("|--") or text.startswith("+--"):
            last = text.split()[1]
        elif text == "/32 host LOCAL" and not last.startswith("127.") and last not in found:
            found.append(last)
    return found


ATTACK = """
import glob, json, os, socket

def attempt(action):
    try:
        return "succeeded: " + repr(action())[:300]
    except Exception as exc:
        return "failed: " + type(exc).__name__

def read(path):
    with open(path, "rb") as f:
        return f.read()

def connect(host, port):
    with socket.create_connection((host, port), timeout=3) as s:
        return s.getpeername()

def handler(event, context):
    out = {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "master_key": attempt(lambda: read(event["data_dir"] + "/master.key")),
        "database": attempt(lambda: read(event["data_dir"] + "/rolecall.db")),
        "data_dir": attempt(lambda: os.listdir(event["data_dir"])),
        "server_environ": attempt(lambda: read("/proc/%d/environ" % event["server_pid"])),
        "parent_environ": attempt(lambda: read("/proc/%d/environ" % os.getppid())),
        "other_code": attempt(lambda: os.listdir(event["other_code"])),
        "home": attempt(lambda: sorted(os.listdir(event["home"]))),
        "passwords": attempt(lambda: read("/etc/shadow")),
        "postgres": attempt(lambda: connect("127.0.0.1", 5432)),
        "canary": attempt(lambda: connect("127.0.0.1", event["canary_port"])),
        "server_direct": [attempt(lambda a=a: connect(a, event["server_port"])) for a in event["addresses"]],
        "relay": attempt(lambda: connect("127.0.0.1", event["server_port"])),
        "task_root": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"])),
        "own_environ": dict(os.environ),
    }
    environs = {}
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            environs[path] = read(path).decode("latin-1")
        except OSError as exc:
            environs[path] = "unreadable: " + type(exc).__name__
    out["environs"] = environs
    out["processes"] = sorted(int(p.split("/")[2]) for p in glob.glob("/proc/[0-9]*"))
    import boto3
    out["identity"] = boto3.client("sts").get_caller_identity()["Arn"]
    out["roles"] = len(boto3.client("iam").list_roles()["Roles"]) > 0
    print("attack finished")
    return out
"""


def test_the_findings_attacks_fail_and_the_role_still_works(srv, role):
    lam = srv.client("lambda")
    other = create_function(lam, role["Arn"], "def handler(e, c):\n    return 'other'\n")
    other_sha = lam.get_function(FunctionName=other["FunctionName"])  # its code is unpacked on first use
    invoke_json(lam, other["FunctionName"])
    other_dir = srv.data_dir / "cache" / "lambda" / ACCOUNT / "us-east-1" / other["FunctionName"]
    other_code = next(p for p in other_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert other_sha and (other_code / "app.py").is_file()

    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen(8)
    canary.settimeout(0.2)
    accepted: list[object] = []

    def watch() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not stop.is_set():
            try:
                accepted.append(canary.accept()[1])
            except OSError:
                continue

    stop = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    addresses = host_addresses()
    for address in addresses:  # the server is reachable on these addresses from outside the sandbox
        socket.create_connection((address, srv.port), timeout=3).close()

    name = create_function(lam, role["Arn"], ATTACK, Timeout=60)["FunctionName"]
    event = {
        "data_dir": str(srv.data_dir),
        "server_pid": srv.proc.pid,
        "other_code": str(other_code),
        "canary_port": canary.getsockname()[1],
        "server_port": srv.port,
        "addresses": addresses,
        "home": str(Path.home()),
    }
    response, out = invoke_json(lam, name, event)
    stop.set()
    watcher.join()
    canary.close()
    assert "FunctionError" not in response, out

    # A separate unprivileged user, with no supplementary groups.
    assert (out["uid"], out["gid"], out["groups"]) == (SANDBOX_UID, SANDBOX_UID, [])
    # Nothing of the server: its keys, its database, its data dir, its environment, its processes.
    for attack in ("master_key", "database", "data_dir", "server_environ", "other_code", "passwords"):
        assert out[attack].startswith("failed"), (attack, out[attack])
    # The server user's home: absent, or (a Python installed under it, as pyenv does) only the way to it.
    prefix = python_prefix()
    if prefix.is_relative_to(Path.home()):
        assert out["home"] == f"succeeded: {[prefix.relative_to(Path.home()).parts[0]]!r}", out["home"]
    else:
        assert out["home"].startswith("failed"), out["home"]
    assert srv.proc.pid not in out["processes"] or out["server_environ"].startswith("failed")
    secrets = [srv.secret_key, (srv.data_dir / "master.key").read_bytes().hex()[:16], "ROLECALL_"]
    everything = json.dumps([out["environs"], out["own_environ"], out["parent_environ"]])
    for secret in secrets:
        assert secret not in everything
    assert out["task_root"] == ["app.py"]  # its own code only
    # No network but rolecall's endpoint, through the relay.
    assert out["postgres"].startswith("failed") and out["canary"].startswith("failed"), out
    assert all(r.startswith("failed") for r in out["server_direct"]), out
    assert not accepted, "the function reached a loopback service of the host"
    assert out["relay"].startswith("succeeded")
    # The role's credentials work, and only they are in the function's environment.
    assert out["identity"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/")
    assert out["roles"] is True
    assert out["own_environ"]["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{srv.port}"
    assert any("attack finished" in m for m in log_messages(srv, name, expect="attack finished"))


REWRITE = """
import os

MARK = "original"

def attempt(action):
    try:
        action()
        return "succeeded"
    except OSError as exc:
        return "failed: " + type(exc).__name__

def overwrite():
    with open(__file__, "w") as f:
        f.write("MARK = 'rewritten'\\ndef handler(e, c):\\n    return {'mark': MARK}\\n")

def handler(event, context):
    root = os.environ["LAMBDA_TASK_ROOT"]
    return {
        "mark": MARK,
        "overwrite": attempt(overwrite),
        "chmod": attempt(lambda: os.chmod(__file__, 0o777)),
        "remove": attempt(lambda: os.remove(__file__)),
        "create": attempt(lambda: open(os.path.join(root, "extra.py"), "w").close()),
        "rename": attempt(lambda: os.rename(__file__, os.path.join(root, "moved.py"))),
        "files": sorted(os.listdir(root)),
        "source": open(__file__).read(),
    }
"""


def test_a_function_cannot_rewrite_its_own_code(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], REWRITE, Timeout=30)["FunctionName"]
    first = invoke_json(lam, name)[1]
    assert first["mark"] == "original"
    for attack in ("overwrite", "chmod", "remove", "create", "rename"):
        assert first[attack].startswith("failed"), (attack, first[attack])
    assert first["files"] == ["app.py"] and 'MARK = "original"' in first["source"]
    second = invoke_json(lam, name)[1]  # nothing persisted to the next invocation either
    assert second["mark"] == "original" and second["files"] == ["app.py"]


LEAVE_BEHIND = """
import os, subprocess, time

def handler(event, context):
    marker = event["marker"]
    # A child in a session of its own, escaping the process group.
    subprocess.Popen(["sleep", marker], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A daemon: double fork, setsid, standard streams closed.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            os.execvp("sleep", ["sleep", marker])
        os._exit(0)
    time.sleep(0.3)
    if event.get("hang"):
        time.sleep(60)
    return "left"
"""


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("hang", [False, True], ids=["returns", "times-out"])
def test_no_process_outlives_the_invocation(srv, role, hang):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], LEAVE_BEHIND, Timeout=3)["FunctionName"]
    marker = f"{300 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"  # a unique `sleep` argument
    response, out = invoke_json(lam, name, {"marker": marker, "hang": hang})
    if hang:
        assert out["errorType"] == "Sandbox.Timedout"
    else:
        assert out == "left", out
    deadline = time.time() + 3
    while processes_with(marker) and time.time() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


MEMORY = """
def handler(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page
        block[i] = 1
    return len(block) // (1024 * 1024)
"""


def test_memory_is_limited_to_memory_size(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], MEMORY, Timeout=30, MemorySize=128)["FunctionName"]
    assert invoke_json(lam, name, {"mb": 40})[1] == 40  # within its 128 MB
    response, out = invoke_json(lam, name, {"mb": 400})
    assert response.get("FunctionError") == "Unhandled", out
    if probe().cgroups is not None:  # the cgroup's OOM killer ends it, as Lambda's limit does
        assert out["errorType"] == "Runtime.OutOfMemory", out
        assert out["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    else:  # RLIMIT_DATA: the allocation fails inside the function
        assert out["errorType"] == "MemoryError", out


THREADS = """
import threading, time

def handler(event, context):
    stop = threading.Event()
    started = 0
    try:
        for _ in range(event["n"]):
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
    except RuntimeError:
        pass
    stop.set()
    return started
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the process limit needs root (cgroups or a uid of its own)")
def test_processes_are_limited(srv, role):
    lam = srv.client("lambda")
    name = create_function(lam, role["Arn"], THREADS, Timeout=60, MemorySize=1024)["FunctionName"]
    assert invoke_json(lam, name, {"n": 50})[1] == 50
    started = invoke_json(lam, name, {"n": 3000})[1]
    assert isinstance(started, int) and 900 < started < 1024, started


def test_tmp_is_private_and_bounded(srv, role):
    source = """
import os

def handler(event, context):
    seen = sorted(os.listdir("/tmp"))
    open("/tmp/mine", "w").close()
    written = 0
    try:
        with open("/tmp/big", "wb") as f:
            for _ in range(event["chunks"]):
                f.write(b"\\1" * (8 * 1024 * 1024))
                f.flush()
                written += 8
    except OSError as exc:
        return {"seen": seen, "written": written, "error": exc.strerror}
    return {"seen": seen, "written": written}
"""
    lam = srv.client("lambda")
    name = create_function(
        lam, role["Arn"], source, Timeout=60, MemorySize=2048, EphemeralStorage={"Size": 512}
    )["FunctionName"]
    first = invoke_json(lam, name, {"chunks": 4})[1]
    assert first == {"seen": [], "written": 32}
    second = invoke_json(lam, name, {"chunks": 80})[1]  # 640 MB into a 512 MB /tmp
    assert second["seen"] == []  # nothing left by the earlier invocation
    assert second["error"] == "No space left on device" and second["written"] <= 512, second


class NoBubblewrapServer(Server):
    """A server on a PATH without bwrap: a machine that cannot sandbox."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "PATH": str(self.data_dir / "empty-path")}


@pytest.mark.parametrize("isolation", [None, "sandbox", "none"])
def test_without_a_sandbox_functions_run_only_by_explicit_opt_in(tmp_path, isolation):
    (tmp_path / "empty-path").mkdir()
    extra = ["--lambda-isolation", isolation] if isolation else []
    srv = NoBubblewrapServer(tmp_path, extra_args=extra).start()
    try:
        lam = srv.client("lambda")
        name = create_function(lam, make_role(srv)["Arn"], "def handler(e, c):\n    return 'ran'\n")[
            "FunctionName"
        ]
        if isolation == "none":
            assert invoke_json(lam, name)[1] == "ran"
            assert "Lambda functions run WITHOUT isolation (--lambda-isolation=none)" in srv.output()
            return
        with pytest.raises(lam.exceptions.ServiceException) as exc:
            invoke_json(lam, name)
        error = exc.value.response["Error"]
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert error["Message"] == (
            "rolecall cannot run Lambda functions in a sandbox on this machine: bubblewrap (bwrap) is not "
            "installed (Debian: apt-get install bubblewrap). To run them anyway, start `rolecall serve "
            "--lambda-isolation=none` (or set ROLECALL_LAMBDA_ISOLATION=none) to run functions without "
            "isolation, where a function can read the server's data directory and keys."
        )
        assert "rolecall cannot run Lambda functions in a sandbox on this machine" in srv.output()
        # An Event invocation is accepted, as Lambda accepts it, and never runs.
        assert lam.invoke(FunctionName=name, InvocationType="Event")["StatusCode"] == 202
    finally:
        srv.stop()


SLEEPER = """
import time

def handler(event, context):
    time.sleep(event["seconds"])
    return "slept"
"""


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the environment of the server's children")
def test_the_function_environment_reaches_only_the_function(srv, role):
    """What the server starts (sh, bwrap -- as root for a root server -- and setpriv) runs with none of the
    function's variables or credentials: they would be readable in /proc/PID/environ, and a variable such
    as LD_PRELOAD would act on them."""
    lam = srv.client("lambda")
    marker = f"marker-{uuid.uuid4().hex}"
    name = create_function(
        lam, role["Arn"], SLEEPER, Timeout=30, Environment={"Variables": {"MARK": marker}}
    )["FunctionName"]
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(invoke_json(lam, name, {"seconds": 3})[1]))
    thread.start()
    seen: dict[int, bytes] = {}
    deadline = time.time() + 10
    while thread.is_alive() and time.time() < deadline:
        for pid in children_of(srv.proc.pid):
            try:
                seen[pid] = (Path("/proc") / str(pid) / "environ").read_bytes()
            except OSError:
                continue
        time.sleep(0.05)
    thread.join()
    assert result == ["slept"]
    assert seen, "no process of the invocation was seen"
    for environ in seen.values():
        assert marker.encode() not in environ and b"AWS_SECRET_ACCESS_KEY" not in environ, environ


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build the preloaded library")
def test_ld_preload_in_the_function_environment_acts_only_inside_the_sandbox(srv, role, tmp_path):
    witness = tmp_path / "witness"
    witness.mkdir(mode=0o777)
    witness.chmod(0o777)
    library = tmp_path / "preload.so"
    source = tmp_path / "preload.c"
    source.write_text(
        "#include <fcntl.h>\n#include <stdio.h>\n#include <unistd.h>\n"
        "__attribute__((constructor)) static void ran(void) {\n"
        f'  char path[512]; snprintf(path, sizeof path, "{witness}/uid-%d", (int) getuid());\n'
        "  close(open(path, O_CREAT | O_WRONLY, 0644));\n}\n"
    )
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    library.chmod(0o755)
    lam = srv.client("lambda")
    name = create_function(
        lam, role["Arn"], SLEEPER, Timeout=30, Environment={"Variables": {"LD_PRELOAD": str(library)}}
    )["FunctionName"]
    assert invoke_json(lam, name, {"seconds": 0})[1] == "slept"
    # Neither the server's tools (as root) nor the function (which cannot see tmp_path) loaded it.
    assert sorted(p.name for p in witness.iterdir()) == []
