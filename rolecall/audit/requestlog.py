"""One log line per request, at --log-level info (logger "rolecall.requests"):

    iam:CreateRole by arn:aws:iam::123456789012:user/dev -> 403 AccessDenied (request 5f0c..., 2.1 ms)

Service, operation, the caller's ARN, the outcome (HTTP status and error code), the request id (what
`rolecall explain` takes) and the time spent. Only what the trail already shows: never a key, signature,
token or request body. Callers check request_log.isEnabledFor(logging.INFO) first, so that a server
logging at warning pays nothing for it.
"""

from __future__ import annotations

import logging

from rolecall.audit.records import RequestEvent

request_log = logging.getLogger("rolecall.requests")


def log_request(event: RequestEvent, status: int, seconds: float) -> None:
    who = event.caller.arn if event.caller is not None else "(unauthenticated)"
    outcome = f"{status} {event.error.code}" if event.error is not None else str(status)
    request_log.info(
        "%s:%s by %s -> %s (request %s, %.1f ms)",
        event.service,
        event.operation or "-",
        who,
        outcome,
        event.request_id,
        seconds * 1000,
    )
