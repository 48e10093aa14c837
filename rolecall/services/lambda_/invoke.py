"""Running an invocation once Invoke's transaction has committed: credentials, code, process, logs.

Nothing here holds a store transaction while the function runs: the function's own calls (boto3 against
AWS_ENDPOINT_URL, its log writes) come back into rolecall on other request threads, and would otherwise
wait for this request's write lock. Synchronous invocations take one of MAX_RUNNING slots, so request
threads always remain to serve those calls back; past that Lambda's TooManyRequestsException answers.
Event invocations run on a small pool of their own threads and never occupy a request thread.
"""

from __future__ import annotations

import base64
import logging
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolecall.services.lambda_.code import CodeCache, PackageMissing
from rolecall.services.lambda_.errors import ExecutionRoleUnusable, ServiceException, TooManyRequestsException
from rolecall.services.lambda_.functions import LAMBDA_SERVICE, ROLE_CANNOT_BE_ASSUMED, FunctionRef
from rolecall.services.lambda_.logs import write_function_logs
from rolecall.services.lambda_.runtime import Invocation, Launch, Outcome, invoke
from rolecall.services.lambda_.sandbox import (
    ISOLATION_NONE,
    EndpointRelay,
    Sandbox,
    SandboxLaunch,
    probe,
    unavailable_message,
)
from rolecall.services.sts.errors import ServiceCannotAssumeRole
from rolecall.services.sts.service_sessions import assume_role_for_service

if TYPE_CHECKING:
    from rolecall.core.host import Host

log = logging.getLogger("rolecall.lambda")

MAX_RUNNING = 4  # synchronous invocations at once (of the server's 8 request threads)
CACHE_DIR = "cache/lambda"  # under the data dir: this node's unpacked code (rolecall.services.lambda_.code)
EVENT_WORKERS = 2
CREDENTIAL_SECONDS = 3600


@dataclass
class Job:
    """One invocation, with a snapshot of the function taken in Invoke's transaction."""

    ref: FunctionRef
    config: dict[str, Any]
    code_sha256_hex: str
    variables: dict[str, str]  # the function's environment variables, opened from their seal
    request_id: str
    payload: bytes
    client_context: Any
    log_tail: bool = False


def endpoint_host(config: Any) -> str:
    """Where this server is reached on this machine (a wildcard listen address is reached on loopback)."""
    host: str = config.host or "127.0.0.1"
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return "::1" if host == "::" else host


def endpoint_url(config: Any) -> str:
    """Where a client on this machine reaches this server."""
    host = endpoint_host(config)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.port}"


class Runner:
    """Runs jobs for one Lambda service instance."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._slots = threading.BoundedSemaphore(MAX_RUNNING)
        self._events: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._scratch: str | None = None
        self.isolation = getattr(host.config, "lambda_isolation", "sandbox")
        self._sandbox: Sandbox | None = None
        self._relay: EndpointRelay | None = None

    def announce(self) -> None:
        """At start: say loudly when functions will run unisolated, or cannot run at all."""
        if self.isolation == ISOLATION_NONE:
            log.warning(
                "Lambda functions run WITHOUT isolation (--lambda-isolation=none): a function runs as the "
                "server's user and can read its data directory (master key, database) and environment."
            )
            return
        support = probe()
        if not support.available:
            log.warning(
                "%s Until then, Invoke fails with ServiceException.", unavailable_message(support.reason)
            )
        elif support.cgroups is None:
            log.warning(
                "Lambda functions run in a sandbox without cgroup limits (%s): memory is limited per process "
                "(RLIMIT_DATA) and the number of processes only by the sandbox's user.",
                "not root" if not support.as_root else "no writable cgroup v1 memory and pids controllers",
            )

    def launch(self, inv: Invocation) -> Launch:
        """How this invocation runs: in the sandbox, or unisolated where the server was told so."""
        if self.isolation == ISOLATION_NONE:
            return Launch(inv)
        support = probe()
        if not support.available:
            raise ServiceException(unavailable_message(support.reason))
        with self._lock:
            if self._sandbox is None:
                config = self.host.config
                self._relay = EndpointRelay(endpoint_host(config), config.port)
                self._sandbox = Sandbox(support, self._relay.path)
        return SandboxLaunch(inv, self._sandbox, self.host.config.port)

    def code_cache(self) -> CodeCache:
        """This node's unpacked function code: under the data dir (with PostgreSQL, a cache only: the packages
        are in the store), or for a host built without one (library use) in a directory of this process."""
        data_dir = self.host.config.data_dir
        if data_dir is None:
            with self._lock:
                if self._scratch is None:
                    self._scratch = tempfile.mkdtemp(prefix="rolecall-lambda-")
            return CodeCache(self._scratch, self.host.store)
        return CodeCache(Path(data_dir) / CACHE_DIR, self.host.store)

    def run_now(self, job: Job) -> dict[str, Any]:
        """A RequestResponse invocation: Invoke's output members."""
        if not self._slots.acquire(blocking=False):
            raise TooManyRequestsException("Rate Exceeded.")
        try:
            outcome = self._run(job, raise_on_role=True)
        finally:
            self._slots.release()
        assert outcome is not None
        out: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": outcome.payload}
        if outcome.function_error:
            out["FunctionError"] = outcome.function_error
        if job.log_tail:
            out["LogResult"] = base64.b64encode(outcome.log_tail().encode("utf-8")).decode("ascii")
        return out

    def run_later(self, job: Job) -> None:
        """An Event invocation: queued; its outcome shows only in the function's logs."""
        with self._lock:
            if self._events is None:
                self._events = ThreadPoolExecutor(EVENT_WORKERS, thread_name_prefix="rolecall-lambda-event")
        self._events.submit(self._run_logged, job)

    def _run_logged(self, job: Job) -> None:
        try:
            self._run(job, raise_on_role=False)
        except Exception:
            log.exception("event invocation %s of %s failed", job.request_id, job.ref.arn)

    def _run(self, job: Job, *, raise_on_role: bool) -> Outcome | None:
        if self.isolation != ISOLATION_NONE and not probe().available:  # before any credentials exist
            if raise_on_role:
                raise ServiceException(unavailable_message(probe().reason))
            log.warning(
                "event invocation %s not run: %s", job.request_id, unavailable_message(probe().reason)
            )
            return None
        host = self.host
        ref, config = job.ref, job.config
        try:
            credentials = assume_role_for_service(
                host,
                service=LAMBDA_SERVICE,
                role_arn=config["Role"],
                session_name=ref.name,
                duration=CREDENTIAL_SECONDS,
                source_arn=ref.arn,
                source_account=ref.account,
                session_context={"lambda:SourceFunctionArn": ref.arn},
                region=ref.region,
            ).as_dict()
        except ServiceCannotAssumeRole:
            if raise_on_role:
                raise ExecutionRoleUnusable(ROLE_CANNOT_BE_ASSUMED) from None
            log.warning("event invocation %s: Lambda cannot assume %s", job.request_id, config["Role"])
            return None
        now = host.clock.time()
        group = config["LoggingConfig"]["LogGroup"]
        stream = datetime.fromtimestamp(now, UTC).strftime("%Y/%m/%d/") + f"[$LATEST]{uuid.uuid4().hex}"
        try:
            task_root = self.code_cache().task_root(ref.account, ref.region, ref.name, job.code_sha256_hex)
        except PackageMissing as exc:  # updated or deleted since Invoke read it (on another node, say)
            if raise_on_role:
                raise ServiceException(
                    "The function's code changed while it was being invoked; invoke it again."
                ) from None
            log.warning("event invocation %s not run: %s", job.request_id, exc)
            return None
        inv = Invocation(
            request_id=job.request_id,
            function_name=ref.name,
            function_arn=ref.qualified_arn,
            runtime=config["Runtime"],
            handler=config["Handler"],
            task_root=task_root,
            timeout=config["Timeout"],
            memory_size=config["MemorySize"],
            ephemeral_mb=(config.get("EphemeralStorage") or {}).get("Size", 512),
            region=ref.region,
            log_group=group,
            log_stream=stream,
            credentials={k: credentials[k] for k in ("AccessKeyId", "SecretAccessKey", "Token")},
            endpoint_url=endpoint_url(host.config),
            variables=job.variables,
            payload=job.payload,
            client_context=job.client_context,
            clock_start=now,
        )
        outcome = invoke(inv, self.launch(inv))
        write_function_logs(host, credentials, ref.region, group, stream, outcome.log_events)
        return outcome

    def close(self) -> None:
        if self._events is not None:
            self._events.shutdown(wait=False, cancel_futures=True)
        if self._relay is not None:
            self._relay.close()
        if self._sandbox is not None:
            self._sandbox.close()
