"""One invocation of a Lambda function: a fresh local-Python process, its result, and its log lines.

The process runs rolecall/services/lambda_/bootstrap.py in the function's unpacked code with an environment built
from scratch -- Lambda's variables, the execution role's credentials, AWS_ENDPOINT_URL pointing back at
rolecall, and the function's own variables -- and nothing inherited from the server, whose environment may
hold credentials (ROLECALL_*, AWS_*). The handler's INIT phase (importing its module) gets up to
INIT_LIMIT seconds; the invocation proper gets the function's Timeout, after which the process group is
killed and the result is Lambda's "Task timed out" error.

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


def lambda_environment(inv: Invocation) -> dict[str, str]:
    """The process environment: Lambda's reserved variables, then the function's own."""
    python_dir = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{python_dir}:{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(inv.task_root),
        "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
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
        "AWS_ENDPOINT_URL": inv.endpoint_url,
        # Not Lambda's: keep the SDK from reading the server user's ~/.aws profiles, which could hold
        # real credentials or settings. The environment's credentials come first anyway.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.update(inv.variables)
    return env


class _Process:
    """The bootstrap process and the threads reading its two channels."""

    def __init__(self, inv: Invocation) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-P", str(BOOTSTRAP)],
            cwd=inv.task_root,
            env=lambda_environment(inv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills the function's children too
        )
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

    def peak_memory_kb(self) -> int:
        """VmHWM of the process while it still runs (for a report after a timeout)."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def finish(self) -> int:
        """Kill what is left of the process group, reap the process and drain the channels."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.proc.wait()
        for reader in self._readers:
            reader.join(5)
        return code


def invoke(inv: Invocation) -> Outcome:
    """Run one invocation to its end (result, error, crash or timeout)."""
    clock_ms = inv.clock_start * 1000
    process = _Process(inv)
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
    peak_kb = process.peak_memory_kb() if timed_out else 0
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
        status = f"signal: {signal.Signals(-exit_code).name}" if exit_code < 0 else f"exit status {exit_code}"
        message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {status}"
        events.append((tail, f"{message}\nRuntime.ExitError"))
        payload = _error("Runtime.ExitError", message)
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


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode("utf-8")
