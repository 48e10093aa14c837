"""The instance metadata service: one endpoint per running instance, as EC2 serves IMDSv1 and IMDSv2.

Each running instance gets its own listener on 127.0.0.1 and a port of its own (kept in the instance
document), because SDKs address the metadata service by host and port only: the JavaScript SDK v3 drops
any path in AWS_EC2_METADATA_SERVICE_ENDPOINT, so one port cannot tell instances apart by path. Listeners
start when an instance is launched or started, and for every running instance found in the store when the
server starts; they stop when the instance stops or terminates. All of them are served by one event loop
and a few worker threads (rolecall.services.ec2.imds.server), so instances cost descriptors, not threads.

The rules, as EC2 applies them:
- PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds in 1..21600 returns a token bound to
  this instance (and this boot of it); a missing or out-of-range TTL is 400, a PUT anywhere else 403/405.
- A request with X-Forwarded-For is refused (403): the service answers the instance itself, not proxies.
- A GET with a token that is invalid or expired is 401; without a token it is 401 when the instance
  requires IMDSv2 (HttpTokens=required), otherwise it is answered (IMDSv1).
- With HttpEndpoint=disabled every request is 403.
- Answers are text/plain; listings are LF-separated; unknown paths are 404.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rolecall.audit.explanations import explain_refusals
from rolecall.audit.records import RequestEvent
from rolecall.audit.requestlog import log_request, request_log
from rolecall.core.context import Caller, OpContext
from rolecall.core.operations import access_denied
from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.services.ec2.errors import (
    IncorrectInstanceState,
    InvalidInstanceIDNotFound,
    InvalidRequest,
    UnauthorizedOperation,
)
from rolecall.services.ec2.imds.content import InstanceCredentials, lookup, metadata_tree, read_snapshot
from rolecall.services.ec2.imds.server import (
    EndpointServer,
    Listener,
    Reply,
    Request,
    descriptor_room,
    error_page,
    raise_descriptor_limit,
)
from rolecall.services.ec2.records import INSTANCE, instance_arn
from rolecall.store import GLOBAL, Tx

if TYPE_CHECKING:
    from rolecall.core.host import Host

log = logging.getLogger("rolecall.imds")

TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
TOKEN_TTL_MAX = 21600
LOOKUP_PREFIX = "/_rolecall/imds/"
# The versions a metadata service lists at its root; every one of them serves the same tree here.
VERSIONS = ("1.0", "2009-04-04", "2016-09-02", "2018-09-24", "2020-10-27", "2022-09-24", "latest")


def _text(body: str, *extra: tuple[str, str], content_type: str = "text/plain") -> Reply:
    return Reply(200, body.encode("utf-8"), [("Content-Type", content_type), *extra])


class ImdsManager:
    """The metadata endpoints of every running instance, and their credentials. Owned by the EC2 service."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.credentials = InstanceCredentials(host)
        self._listeners: dict[str, Listener] = {}
        self._lock = threading.RLock()
        self._token_key = os.urandom(32)  # tokens end with the server, as they end with an instance's boot
        self.server = EndpointServer(self._answer)
        raise_descriptor_limit()  # one descriptor per endpoint: take all the process may have

    # -- listeners ---------------------------------------------------------------------------------------

    def open(self, account: str, instance_id: str, port: int = 0, *, move: bool = True) -> int:
        """Start (or keep) the instance's endpoint, on `port` when it is free, else (if `move`) on any free
        port; OSError when the port is taken and `move` is false."""
        with self._lock:
            held = self._listeners.get(instance_id)
            if held is not None:
                return held.port
            try:
                listener = self.server.listen(account, instance_id, port)
            except OSError:
                if not port or not move:
                    raise
                log.info("port %d of %s's metadata endpoint is taken; moving it", port, instance_id)
                listener = self.server.listen(account, instance_id, 0)
            self._listeners[instance_id] = listener
            return listener.port

    def room(self) -> int | None:
        """How many more endpoints this process has descriptors for (None: no telling, assume plenty)."""
        return descriptor_room()

    def close_instance(self, instance_id: str) -> None:
        """Stop the instance's endpoint and drop its credentials (an instance that starts again gets new ones)."""
        with self._lock:
            listener = self._listeners.pop(instance_id, None)
        if listener is not None:
            self.server.stop(listener)
        self.credentials.forget(instance_id)

    def port_of(self, instance_id: str) -> int | None:
        with self._lock:
            held = self._listeners.get(instance_id)
            return held.port if held is not None else None

    def ensure(self, account: str, instance_id: str) -> int | None:
        """The port of a running instance's endpoint, starting it (and recording a new port) if needed.

        When the recorded port is taken by another rolecall node already serving this instance (several
        nodes on one database and one host), that endpoint is left to it: programs may hold its URL.
        """
        with read_snapshot(self.host) as tx:
            doc = tx.get(account, INSTANCE, instance_id)
        if doc is None or doc["State"] != "running":
            return None
        recorded = doc.get("ImdsPort") or 0
        try:
            port = self.open(account, instance_id, recorded, move=False)
        except OSError:
            if _serves(recorded, instance_id):
                return recorded
            port = self.open(account, instance_id, 0)
        if port != recorded:
            with self.host.store.transaction() as tx:
                doc = tx.get(account, INSTANCE, instance_id)
                if doc is not None:
                    doc["ImdsPort"] = port
                    tx.update(account, INSTANCE, instance_id, doc)
        return port

    def start_known(self) -> None:
        """Endpoints for every running instance in the store (a server restarting brings them back)."""
        try:
            with self.host.store.transaction() as tx:
                running = [
                    (account["AccountId"], doc["InstanceId"])
                    for account in tx.list(GLOBAL, "account")
                    for doc in tx.list(account["AccountId"], INSTANCE)
                    if doc["State"] == "running"
                ]
            for account, instance_id in running:
                self.ensure(account, instance_id)
        except Exception:  # a store problem must not keep the API from starting; say so
            log.exception("could not start the metadata endpoints of running instances")

    def close(self) -> None:
        """Stop every endpoint (and the loop serving them; opening another starts it again)."""
        with self._lock:
            self._listeners.clear()
        self.server.close()
        self.credentials.forget_all()

    # -- tokens ------------------------------------------------------------------------------------------

    def _mac(self, instance: dict[str, Any], expires: int) -> str:
        message = f"{instance['InstanceId']}|{instance['LaunchTime']}|{expires}".encode()
        return hmac.new(self._token_key, message, hashlib.sha256).hexdigest()[:40]

    def new_token(self, instance: dict[str, Any], ttl: int) -> str:
        expires = int(self.host.clock.time()) + ttl
        return f"AQAE{expires:x}.{self._mac(instance, expires)}"

    def token_seconds_left(self, instance: dict[str, Any], token: str) -> int | None:
        """Seconds the token is still good for on this instance, or None when it is not a live token."""
        head, _, mac = token.partition(".")
        if not head.startswith("AQAE"):
            return None
        try:
            expires = int(head[4:], 16)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(instance, expires)):
            return None
        left = expires - int(self.host.clock.time())
        return left if left > 0 else None

    # -- requests ----------------------------------------------------------------------------------------

    def _instance(self, account: str, instance_id: str) -> dict[str, Any] | None:
        with read_snapshot(self.host) as tx:
            return tx.get(account, INSTANCE, instance_id)

    def _answer(self, account: str, instance_id: str, request: Request) -> Reply:
        return self.respond(account, instance_id, request.method, request.target, request.headers)

    def respond(
        self, account: str, instance_id: str, method: str, target: str, headers: dict[str, str]
    ) -> Reply:
        """The answer of `instance_id`'s endpoint to one request (`headers` keyed lower-case)."""
        path = target.split("?", 1)[0]
        instance = self._instance(account, instance_id)
        if instance is None or instance["State"] != "running":
            return error_page(404)
        options = instance["MetadataOptions"]
        if options.get("HttpEndpoint") == "disabled" or "x-forwarded-for" in headers:
            return error_page(403)
        if method == "PUT":
            return self._token(instance, path, headers)
        if method not in ("GET", "HEAD"):
            return Reply(405, b"", [("Allow", "GET, HEAD, PUT")])
        extra: list[tuple[str, str]] = []
        token = headers.get(TOKEN_HEADER)
        if token is not None:
            left = self.token_seconds_left(instance, token)
            if left is None:
                return error_page(401)
            extra.append(("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(left)))
        elif options.get("HttpTokens") == "required":
            return error_page(401)
        return self._content(account, instance, path, extra)

    def _token(self, instance: dict[str, Any], path: str, headers: dict[str, str]) -> Reply:
        if path != TOKEN_PATH:
            return error_page(403 if path.endswith("/api/token") else 405)
        raw = headers.get(TOKEN_TTL_HEADER, "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= TOKEN_TTL_MAX:
            return error_page(400)
        ttl = int(raw)
        return _text(self.new_token(instance, ttl), ("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(ttl)))

    def _content(
        self, account: str, instance: dict[str, Any], path: str, extra: list[tuple[str, str]]
    ) -> Reply:
        if path in ("", "/"):
            return _text("\n".join(VERSIONS), *extra)
        parts = path.strip("/").split("/")
        if parts[0] not in VERSIONS or "" in parts:
            return error_page(404)
        tree = metadata_tree(self.host, self.credentials, account, instance)
        if len(parts) == 1:  # the version's root lists its branches without trailing slashes
            return _text("\n".join(sorted(name.rstrip("/") for name in tree)), *extra)
        found = lookup(tree, parts[1:], path.endswith("/"))
        if found is None:
            return error_page(404)
        _, text = found
        if parts[1:] == ["user-data"]:
            return Reply(200, text.encode("latin-1"), [("Content-Type", "application/octet-stream"), *extra])
        return _text(text, *extra)

    # -- rolecall's own lookup: which port serves an instance -------------------------------------------

    def endpoint_response(self, req: HttpRequest) -> HttpResponse:
        """GET /_rolecall/imds/<instance-id>, signed like any API call: the instance's endpoint URL as JSON.

        Finding an instance's endpoint is describing the instance, so the trail records it as
        ec2:DescribeInstances (with additionalEventData.rolecallRoute), refusals explained as any API's are.
        """
        started = time.perf_counter()
        clock, config = self.host.clock, self.host.config
        event = RequestEvent("ec2", "ec2", req, datetime.fromtimestamp(clock.time(), UTC), config.region)
        event.operation = "DescribeInstances"
        event.extra["rolecallRoute"] = f"{req.method} {LOOKUP_PREFIX}"
        try:
            response = _json_response(200, self._endpoint(req, event))
        except AwsError as err:
            event.error = err
            body = {"Error": {"Code": err.code, "Message": err.message}, "RequestId": event.request_id}
            response = _json_response(err.status, body)
        for account, rec in event.records():
            self.host.record(account, rec)
        if request_log.isEnabledFor(logging.INFO):
            log_request(event, response.status, time.perf_counter() - started)
        return response

    def _endpoint(self, req: HttpRequest, event: RequestEvent) -> dict[str, Any]:
        instance_id = req.path[len(LOOKUP_PREFIX) :].strip("/")
        if req.method != "GET" or not instance_id:
            raise InvalidRequest("Use GET /_rolecall/imds/<instance-id>.")
        caller = self.host.authenticate(req)
        event.caller = caller
        event.params = {"InstanceIds": [instance_id]}
        with read_snapshot(self.host) as tx:
            doc = tx.get(caller.account, INSTANCE, instance_id)
            if doc is not None:
                self._authorize(req, tx, caller, doc, event)
        if doc is None or doc["State"] == "terminated":
            raise InvalidInstanceIDNotFound(f"The instance ID '{instance_id}' does not exist")
        arn = instance_arn(doc["Region"], caller.account, instance_id)
        event.resources = [{"ARN": arn, "accountId": caller.account, "type": "AWS::EC2::Instance"}]
        port = self.ensure(caller.account, instance_id)
        if port is None:
            raise IncorrectInstanceState(f"The instance '{instance_id}' is not in the 'running' state.")
        return {"InstanceId": instance_id, "Endpoint": f"http://127.0.0.1:{port}", "Region": doc["Region"]}

    def _authorize(
        self, req: HttpRequest, tx: Tx, caller: Caller, doc: dict[str, Any], event: RequestEvent
    ) -> None:
        """Finding an instance's endpoint is describing the instance: ec2:DescribeInstances."""
        ctx = OpContext(
            service="ec2",
            operation="DescribeInstances",
            account=caller.account,
            region=doc["Region"],
            caller=caller,
            tx=tx,
            host=self.host,
            request_id=event.request_id,
            source_ip=req.remote_addr or "127.0.0.1",
        )
        refused = ctx.authorize("ec2:DescribeInstances", "*")
        if refused is not None:
            ctx.denied = refused
        explain_refusals(event, ctx)
        if refused is not None:
            raise UnauthorizedOperation(access_denied(caller, refused).message)


def _serves(port: int, instance_id: str) -> bool:
    """Whether the endpoint listening on `port` (another process's) answers as `instance_id`'s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("PUT", TOKEN_PATH, headers={TOKEN_TTL_HEADER: "5"})
        answer = conn.getresponse()
        token = answer.read().decode("latin-1")
        if answer.status == 403:  # a disabled endpoint answers nothing, not even who it is
            return (answer.getheader("Server") or "").startswith("EC2ws")
        if answer.status != 200:
            return False
        conn.request("GET", "/latest/meta-data/instance-id", headers={TOKEN_HEADER: token})
        answer = conn.getresponse()
        return answer.status == 200 and answer.read().decode("latin-1") == instance_id
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _json_response(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())
