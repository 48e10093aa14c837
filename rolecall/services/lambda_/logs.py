"""A function's log lines into CloudWatch Logs, written with its execution role's own credentials.

As Lambda does it: CreateLogGroup (an existing group is fine), CreateLogStream, then PutLogEvents in
batches -- each through the Logs API and the whole request pipeline (Host.call), so a role
whose policies do not allow logs:CreateLogStream / logs:PutLogEvents gets no logs, and each denial is in
the trail under the role's session. A failure never fails the invocation.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rolecall.core.host import Host

log = logging.getLogger("rolecall.lambda")

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes PutLogEvents counts per event besides its message
MAX_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD
USER_AGENT = "awslambda-worker rolecall"


def write_function_logs(
    host: Host,
    credentials: dict[str, str],
    region: str,
    group: str,
    stream: str,
    events: list[tuple[int, str]],
) -> bool:
    """Write `events` ((timestamp ms, message), in order) to group/stream. True if all of them landed."""

    def call(operation: str, params: dict) -> str | None:
        result = host.call("logs", operation, params, credentials, region, user_agent=USER_AGENT)
        return result.error_code

    error = call("CreateLogGroup", {"logGroupName": group})
    if error not in (None, "ResourceAlreadyExistsException"):
        log.info("function logs: CreateLogGroup %s failed: %s", group, error)  # the group may exist anyway
    error = call("CreateLogStream", {"logGroupName": group, "logStreamName": stream})
    if error not in (None, "ResourceAlreadyExistsException"):
        log.info("function logs: CreateLogStream %s/%s failed: %s", group, stream, error)
        return False
    complete = True
    for batch in _batches(events):
        error = call("PutLogEvents", {"logGroupName": group, "logStreamName": stream, "logEvents": batch})
        if error is not None:
            log.info("function logs: PutLogEvents %s/%s failed: %s", group, stream, error)
            complete = False
            break
    return complete


def _batches(events: list[tuple[int, str]]) -> list[list[dict]]:
    batches: list[list[dict]] = []
    current: list[dict] = []
    size = 0
    for timestamp, message in events:
        data = message.encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore") or " "
        cost = len(data.encode("utf-8")) + EVENT_OVERHEAD
        if current and (len(current) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append({"timestamp": timestamp, "message": data})
        size += cost
    if current:
        batches.append(current)
    return batches
