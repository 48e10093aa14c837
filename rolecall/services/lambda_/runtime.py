"""One invocation of a Lambda function: a fresh Python process, its result, and its log lines.

The process runs rolecall/services/lambda_/bootstrap.py in the function's unpacked code with an environment built
from scratch -- Lambda's variables, the execution role's credentials, AWS_ENDPOINT_URL pointing back at
rolecall, and the function's own variables -- and nothing inherited from the server, whose environment may
hold credentials (ROLECALL_*, AWS_*). A Launch says how the process starts and ends: in a sandbox
(rolecall.services.lambda_.sandbox), or, where the server was told to run functions without isolation, as a
plain local process (Launch itself). The handler's INIT phase (importing its module) gets up to INIT_LIMIT
seconds; the invocation proper gets the function's Timeout, after which the process is killed and the
result is Lambda's "Task timed out" error.

Log lines carry millisecond timestamps on the server's clock: the invocation's start on that clock plus
the real time elapsed when each line arrived.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
INIT_LIMIT = 10.0  # seconds: Lambda's limit on the INIT phase of an on-demand function
TAIL_BYTES = 4096  # X-Amz-Log-Result: the last 4 KB of the invocation's log
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # synchronous responses; larger ones fail as Lambda fails them
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Invocation:
    """What the runtime needs to run one invocation."""

    request_id: str
    function_name: str
    function_arn: str  # as invoked (with the qualifier if one was given)
    runtime: str
    handler: str
    task_root: Path
    timeout: int  # seconds
    memory_size: int  # MB
    ephemeral_mb: int  # EphemeralStorage.Size: the size of /tmp
    region: str
    log_group: str
    log_stream: str
    credentials: dict[str, str]  # AccessKeyId, SecretAccessKey, Token
    endpoint_url: str
    variables: dict[str, str] = field(default_factory=dict)
    payload: bytes = b""
    client_context: Any = None  # the decoded X-Amz-Client-Context, if any
    clock_start: float = 0.0  # the invocation's start on the server's clock (seconds)


@dataclass
class Outcome:
    payload: bytes  # what Invoke returns
    function_error: str | None  # "Unhandled" when the function failed
    log_events: list[tuple[int, str]]  # (timestamp ms, message), in order
    duration_ms: float

    def log_tail(self) -> str:
        """The invocation's log as X-Amz-Log-Result carries it, before base64: its last 4 KB."""
        text = "".join(message + "\n" for _, message in self.log_events).encode("utf-8")
        return text[-TAIL_BYTES:].decode("utf-8", "ignore")


class Launch:
    """How an invocation's process starts and ends. This base runs a plain local process as the server's
    user, which can read everything the server can: used only with --lambda-isolation=none."""

    def __init__(self, inv: Invocation) -> None:
        self.inv = inv

    def command(self) -> list[str]:
        return [sys.executable, "-u", "-P", str(BOOTSTRAP)]

    def environment(self) -> dict[str, str]:
        return lambda_environment(
            self.inv,
            task_root=str(self.inv.task_root),
            runtime_dir=str(BOOTSTRAP.parent),
            python_dir=os.path.dirname(sys.executable),
            endpoint_url=self.inv.endpoint_url,
        )

    def cwd(self) -> str | None:
        return str(self.inv.task_root)

    def process_environment(self) -> dict[str, str]:
        """The environment of the launched program (here, the runtime itself)."""
        return self.environment()

    def preamble(self) -> bytes:
        """What the launched program reads on stdin before anything else (here, nothing)."""
        return b""

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """Kill what is left of the invocation: here its process group (children that left it survive)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def release(self) -> None:
        """After the process is reaped: free what the launch held."""

    def peak_memory_kb(self, proc: subprocess.Popen[bytes]) -> int:
        """VmHWM of the process while it still runs (for a report after a timeout)."""
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def out_of_memory(self) -> bool:
        """Was the function killed for using more than its MemorySize?"""
        return False

    def exit_signal(self, code: int) -> int | None:
        """The signal that ended the runtime, from the exit code of the launched process."""
        return -code if code < 0 else None


def lambda_environment(
    inv: Invocation, *, task_root: str, runtime_dir: str, python_dir: str, endpoint_url: str
) -> dict[str, str]:
    """The process environment: Lambda's reserved variables, then the function's own."""
    env = {
        "PATH": f"{python_dir}:{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "_HANDLER": inv.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{inv.runtime}",
        "AWS_REGION": inv.region,
        "AWS_DEFAULT_REGION": inv.region,
        "AWS_LAMBDA_FUNCTION_NAME": inv.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(inv.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": inv.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": inv.log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_ACCESS_KEY_ID": inv.credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": inv.credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": inv.credentials["Token"],
        "AWS_ENDPOINT_URL": endpoint_url,
        # Not Lambda's: keep the SDK from reading the server user's ~/.aws profiles, which could hold
        # real credentials or settings. The environment's credentials come first anyway.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.update(inv.variables)
    return env


class _Process:
    """The bootstrap process and the threads reading its two channels."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            launch.command(),
            cwd=launch.cwd(),
            env=launch.process_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, which Launch.kill ends
        )
        preamble = launch.preamble()
        if preamble:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(preamble)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.closed = False  # the result channel reached its end (the process is gone or going)
        self.lines: list[tuple[float, str]] = []  # (monotonic arrival, line)
        self._readers = [
            threading.Thread(target=self._read_results, daemon=True),
            threading.Thread(target=self._read_log, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_results(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.messages.put(json.loads(raw))
            except ValueError:
                continue
        self.messages.put(None)

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n").replace("\r", "\n")
            self.lines.append((time.monotonic(), line))

    def next_message(self, deadline: float) -> dict[str, Any] | None:
        """The next result-channel message, or None if the channel closed or the deadline passed first."""
        if self.closed:
            return None
        try:
            message = self.messages.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            return None
        if message is None:
            self.closed = True
        return message

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def finish(self) -> int:
        """Kill what is left of the invocation, reap the process and drain the channels."""
        self.launch.kill(self.proc)
        code = self.proc.wait()
        for reader in self._readers:
            reader.join(5)
        return code


def invoke(inv: Invocation, launch: Launch | None = None) -> Outcome:
    """Run one invocation to its end (result, error, crash or timeout)."""
    launch = launch or Launch(inv)
    try:
        return _invoke(inv, launch)
    finally:
        launch.release()


def _invoke(inv: Invocation, launch: Launch) -> Outcome:
    clock_ms = inv.clock_start * 1000
    process = _Process(launch)
    origin = process.started

    def stamp(at: float) -> int:
        return int(clock_ms + (at - origin) * 1000)

    ready = process.next_message(origin + INIT_LIMIT)
    request = {
        "requestId": inv.request_id,
        "functionArn": inv.function_arn,
        "timeout": inv.timeout,
        "clientContext": inv.client_context,
        "event": inv.payload.decode("utf-8"),
    }
    began = time.monotonic()
    result: dict[str, Any] | None = None
    timed_out = False
    if ready is not None:
        process.send(json.dumps(request).encode("utf-8"))
        result = process.next_message(began + inv.timeout)
    timed_out = result is None and not process.closed
    peak_kb = launch.peak_memory_kb(process.proc) if timed_out else 0
    ended = time.monotonic()
    exit_code = process.finish()

    events: list[tuple[int, str]] = [(stamp(origin), f"START RequestId: {inv.request_id} Version: $LATEST")]
    events += [(stamp(at), line) for at, line in process.lines]
    tail = max(ts for ts, _ in events + [(stamp(ended), "")])  # later entries never go back in time
    function_error: str | None = None
    duration_ms = (ended - began) * 1000
    if result is not None and "result" in result:
        payload = result["result"].encode("utf-8")
        if len(payload) > MAX_RESPONSE_BYTES:
            function_error = "Unhandled"
            payload = _error(
                "Function.ResponseSizeTooLarge",
                f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
            )
    elif result is not None and "error" in result:
        function_error = "Unhandled"
        payload = json.dumps(result["error"]).encode("utf-8")
        events.append((tail, result.get("errorLog", "")))
    elif timed_out:
        function_error = "Unhandled"
        when = datetime.fromtimestamp(clock_ms / 1000 + (ended - origin), UTC)
        stamp_text = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        message = f"Task timed out after {inv.timeout:.2f} seconds"
        events.append((tail, f"{stamp_text} {inv.request_id} {message}"))
        payload = _error("Sandbox.Timedout", f"RequestId: {inv.request_id} Error: {message}")
        duration_ms = inv.timeout * 1000.0
    else:
        function_error = "Unhandled"
        signum = launch.exit_signal(exit_code)
        status = f"signal: {_signal_name(signum)}" if signum is not None else f"exit status {exit_code}"
        message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {status}"
        error_type = "Runtime.OutOfMemory" if launch.out_of_memory() else "Runtime.ExitError"
        events.append((tail, f"{message}\n{error_type}"))
        payload = _error(error_type, message)
        peak_kb = peak_kb or launch.peak_memory_kb(process.proc)
    if result is not None:
        duration_ms = float(result.get("durationMs", duration_ms))
        peak_kb = int(result.get("maxRssKb", 0))
    init_ms = float(ready.get("initMs", 0.0)) if ready else INIT_LIMIT * 1000
    events.append((tail, f"END RequestId: {inv.request_id}"))
    events.append(
        (
            tail,
            f"REPORT RequestId: {inv.request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms + init_ms)} ms\tMemory Size: {inv.memory_size} MB\t"
            f"Max Memory Used: {math.ceil(peak_kb / 1024)} MB\tInit Duration: {init_ms:.2f} ms\t",
        )
    )
    return Outcome(payload, function_error, events, duration_ms)


def _signal_name(signum: int) -> str:
    """As Lambda's runtime interface (Go) names signals: "killed", "segmentation fault"..."""
    names = {
        signal.SIGKILL: "killed",
        signal.SIGTERM: "terminated",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGABRT: "aborted",
    }
    try:
        return names.get(signal.Signals(signum), signal.Signals(signum).name)
    except ValueError:
        return str(signum)


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode("utf-8")
