"""Delivering SNS messages to HTTP/HTTPS endpoints, and rolecall's own inbox endpoint.

A subscription confirmation or a notification is POSTed to the endpoint as AWS documents for HTTP/S
subscriptions: a JSON body {"Type": "SubscriptionConfirmation" | "Notification", "MessageId", "TopicArn",
"Message", "Timestamp", ...}, Content-Type text/plain; charset=UTF-8, and the x-amz-sns-message-type,
x-amz-sns-message-id, x-amz-sns-topic-arn (and x-amz-sns-subscription-arn) headers. Deliveries run on one
thread of the service, after the request that caused them has committed, never inside a request; a
delivery that fails (connection refused, a non-2xx answer) is tried again up to ATTEMPTS times, as SNS's
immediate retries do. rolecall does not sign messages (SignatureVersion, Signature and SigningCertURL are
absent): it holds no AWS signing certificate.

The inbox: POST /_rolecall/sns/inbox/NAME is an HTTP endpoint any topic can subscribe
(`http://HOST:PORT/_rolecall/sns/inbox/NAME`). It confirms a subscription at once by visiting its
SubscribeURL, as an application would, and keeps the last INBOX_SIZE messages it got; GET of the same path
answers them as JSON ({"Messages": [...]}, oldest first), so a user can read an alarm's notifications with
curl. It lives in the memory of the node that received the messages.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any

from rolecall.http import HttpRequest, HttpResponse

log = logging.getLogger("rolecall.sns")

ATTEMPTS = 3
TIMEOUT = 5  # seconds an endpoint has to answer
INBOX_PREFIX = "/_rolecall/sns/inbox/"
CONFIRM_PREFIX = "/_rolecall/sns/confirm"
INBOX_SIZE = 1000


@dataclass
class Delivery:
    endpoint: str
    message: dict[str, Any]
    subscription_arn: str | None = None


class Deliverer:
    """The service's delivery thread and its queue."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.inboxes: dict[str, deque[dict[str, Any]]] = {}
        self._inbox_lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sns-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.queue.put(None)
            self._thread.join(10)
            self._thread = None

    def send(self, delivery: Delivery) -> None:
        self.queue.put(delivery)

    def wait_idle(self) -> None:
        """Block until every delivery queued so far has been attempted (for in-process callers)."""
        self.queue.join()

    def _run(self) -> None:
        while True:
            delivery = self.queue.get()
            try:
                if delivery is None:
                    return
                self._deliver(delivery)
            except Exception:
                log.exception("SNS delivery failed")
            finally:
                self.queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        message = delivery.message
        body = json.dumps(message, indent=2).encode("utf-8")
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": message["Type"],
            "x-amz-sns-message-id": message["MessageId"],
            "x-amz-sns-topic-arn": message["TopicArn"],
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        if delivery.subscription_arn:
            headers["x-amz-sns-subscription-arn"] = delivery.subscription_arn
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(delivery.endpoint, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (http/https only)
                    if 200 <= response.status < 300:
                        return
            except (urllib.error.URLError, OSError) as exc:
                log.info("SNS delivery to %s failed (attempt %d): %s", delivery.endpoint, attempt, exc)
        log.warning("SNS gave up delivering %s to %s", message["MessageId"], delivery.endpoint)

    # -- the inbox ---------------------------------------------------------------------------------------

    def inbox(self, req: HttpRequest) -> HttpResponse:
        name = req.path[len(INBOX_PREFIX) :].strip("/") or "default"
        if req.method == "GET":
            with self._inbox_lock:
                messages = list(self.inboxes.get(name, ()))
            return _json(200, {"Messages": messages})
        if req.method != "POST":
            return _json(405, {"message": "GET or POST"})
        try:
            message = json.loads(req.body)
        except ValueError:
            return _json(400, {"message": "not an SNS message"})
        if not isinstance(message, dict) or "Type" not in message:
            return _json(400, {"message": "not an SNS message"})
        with self._inbox_lock:
            self.inboxes.setdefault(name, deque(maxlen=INBOX_SIZE)).append(message)
        if message["Type"] == "SubscriptionConfirmation" and message.get("SubscribeURL"):
            # Visit the SubscribeURL as an application would, once this request has been answered.
            url = message["SubscribeURL"]
            threading.Thread(target=_visit, args=(url,), name="sns-inbox-confirm", daemon=True).start()
        return _json(200, {})


def _visit(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT):  # noqa: S310 (rolecall's own SubscribeURL)
            pass
    except (urllib.error.URLError, OSError) as exc:
        log.warning("SNS inbox could not confirm its subscription at %s: %s", url, exc)


def _json(status: int, document: Any) -> HttpResponse:
    body = json.dumps(document).encode("utf-8")
    return HttpResponse(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body
    )
