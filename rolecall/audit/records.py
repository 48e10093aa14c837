"""CloudTrail records: one per request, allowed, denied or failed, and never a secret.

A request that changes state writes its record in the same transaction as the change. Every other
record (reads, denials, failures) goes through the TrailWriter, which batches them into one
transaction every few milliseconds and flushes on shutdown, so that reads stay cheap.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
from datetime import datetime
from typing import Any

from rolecall import ids
from rolecall.clock import iso
from rolecall.core.operations import Caller
from rolecall.store import Store

log = logging.getLogger("rolecall.trail")

EVENT_VERSION = "1.08"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# Members whose values are secrets wherever they appear (compared lower-cased).
SECRET_MEMBERS = frozenset(
    {
        "password",
        "oldpassword",
        "newpassword",
        "secretaccesskey",
        "sessiontoken",
        "privatekey",
        "token",
        "userdata",
    }
)


# Calls CloudTrail counts as data events (object-level S3, Lambda invocations): AWS records them only in
# trails configured for them and never shows them in LookupEvents; rolecall keeps and shows them all.
DATA_EVENTS = frozenset(
    {
        ("s3", op)
        for op in (
            "GetObject",
            "PutObject",
            "HeadObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "ListObjects",
            "ListObjectsV2",
        )
    }
    | {("lambda", "Invoke")}
    | {("logs", op) for op in ("PutLogEvents", "GetLogEvents", "FilterLogEvents")}
)
# Request members left out of the trail for their bulk (the messages of every PutLogEvents call).
BULK_MEMBERS = {("logs", "PutLogEvents"): frozenset({"logevents"})}
# Request members CloudTrail names differently from the API's shapes.
TRAIL_NAMES = {("s3", "Bucket"): "bucketName"}


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@functools.lru_cache(maxsize=512)
def sensitive_members(model: str, operation: str) -> frozenset[str]:
    """Lower-cased names of the members the service model marks sensitive in an operation's input or
    output (Lambda's Environment.Variables and ZipFile, EC2's UserData, IAM's Password...)."""
    try:
        op = _session().get_service_model(model).operation_model(operation)
    except Exception:  # an unknown model or operation has nothing to add
        return frozenset()
    found: set[str] = set()

    def walk(shape: Any, name: str, depth: int) -> None:
        if shape is None or depth > 20:
            return
        if shape.metadata.get("sensitive"):
            found.add(name.lower())
        if shape.type_name == "structure":
            for member, sub in shape.members.items():
                walk(sub, member, depth + 1)
        elif shape.type_name == "list":
            walk(shape.member, name, depth + 1)
        elif shape.type_name == "map":
            walk(shape.value, name, depth + 1)

    walk(op.input_shape, "", 0)
    walk(op.output_shape, "", 0)
    return frozenset(found - {""})


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def scrub(value: Any, hidden: frozenset[str] = frozenset()) -> Any:
    """A JSON-safe copy in CloudTrail's lowerCamel style with every secret (and every member in `hidden`,
    lower-cased) replaced."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = str(k).lower()
            out[_lower_camel(str(k))] = (
                HIDDEN if name in SECRET_MEMBERS or name in hidden else scrub(v, hidden)
            )
        return out
    if isinstance(value, list | tuple):
        return [scrub(v, hidden) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return HIDDEN
    return value


def _trail_names(service: str, params: dict[str, Any]) -> dict[str, Any]:
    for (svc, member), name in TRAIL_NAMES.items():
        key = _lower_camel(member)
        if svc == service and key in params:
            params[name] = params.pop(key)
    return params


def user_identity(caller: Caller | None) -> dict[str, Any]:
    if caller is None:
        return {}
    ident: dict[str, Any] = {
        "type": caller.type,
        "principalId": caller.principal_id,
        "arn": caller.arn,
        "accountId": caller.account,
    }
    if caller.access_key_id:
        ident["accessKeyId"] = caller.access_key_id
    if caller.user_name:
        ident["userName"] = caller.user_name
    if caller.session:
        s = caller.session
        ident["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": s.get("role_id"),
                "arn": s.get("role_arn"),
                "accountId": caller.account,
                "userName": s.get("role_name"),
            },
            "attributes": {
                "creationDate": s.get("issued_iso"),
                "mfaAuthenticated": "false",
            },
        }
        if s.get("source_identity"):
            ident["sessionContext"]["sourceIdentity"] = s["source_identity"]
        if s.get("ec2_role_delivery"):
            ident["sessionContext"]["ec2RoleDelivery"] = s["ec2_role_delivery"]
    return ident


def record(
    *,
    service: str,
    operation: str,
    caller: Caller | None,
    account: str,
    region: str,
    event_time: datetime,
    request_id: str,
    source_ip: str,
    user_agent: str,
    read_only: bool,
    request_parameters: dict[str, Any] | None,
    response_elements: dict[str, Any] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    resources: list[dict[str, str]] | None = None,
    hidden: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    hidden = hidden | BULK_MEMBERS.get((service, operation), frozenset())
    rec: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller),
        "eventTime": iso(event_time.timestamp()),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": _trail_names(service, scrub(request_parameters, hidden))
        if request_parameters
        else None,
        "responseElements": scrub(response_elements, hidden) if response_elements else None,
        "requestID": request_id,
        "eventID": ids.request_id(),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": (service, operation) not in DATA_EVENTS,
        "recipientAccountId": account,
        "eventCategory": "Data" if (service, operation) in DATA_EVENTS else "Management",
    }
    if error_code:
        rec["errorCode"] = error_code
        rec["errorMessage"] = error_message or ""
    if resources:
        rec["resources"] = resources
    return rec


class TrailWriter:
    """Writes records that belong to no transaction, in batches, from one background thread.

    put() only appends to a deque (atomic in CPython): no lock and no wake-up per request. The writer
    drains it every `interval` seconds, or at once when flush() or close() asks.
    """

    def __init__(self, store: Store, interval: float = 0.05):
        self._store = store
        self._pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._interval = interval
        self._wake = threading.Event()
        self._flushed = threading.Condition()
        self._rounds = 0  # completed drains, for flush() to wait on
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="rolecall-trail", daemon=True)
        self._thread.start()

    def put(self, account: str, rec: dict[str, Any]) -> None:
        self._pending.append((account, rec))

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            closing = self._closing
            items = []
            while self._pending:
                items.append(self._pending.popleft())
            if items:
                self._write(items)
            with self._flushed:
                self._rounds += 1
                self._flushed.notify_all()
            if closing:
                return

    def _write(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            with self._store.transaction() as tx:
                for account, rec in items:
                    tx.append_event(account, rec)
            return
        except Exception:
            log.exception("could not write a batch of %d trail records; writing them one by one", len(items))
        for account, rec in items:  # one bad record must not cost the others
            try:
                with self._store.transaction() as tx:
                    tx.append_event(account, rec)
            except Exception:  # never lose the server over the trail; say so loudly
                log.exception("could not write trail record %s", rec.get("eventID"))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything put so far is written."""
        if not self._thread.is_alive():
            return
        with self._flushed:
            target = self._rounds + 2  # a drain that starts after this call has completed
            self._wake.set()
            self._flushed.wait_for(lambda: self._rounds >= target or not self._thread.is_alive(), timeout)

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=30)
