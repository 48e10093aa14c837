"""Amazon SNS (query protocol): topics and Publish (topics), HTTP/HTTPS subscriptions with the confirmation
handshake (subscriptions, subscription_store), and their delivery, plus rolecall's inbox endpoint
(delivery).

Beside the API it serves GET /_rolecall/sns/confirm?TopicArn=...&Token=... (a SubscriptionConfirmation's
SubscribeURL), GET /_rolecall/sns/unsubscribe?SubscriptionArn=... (a notification's UnsubscribeURL) and the
inbox at /_rolecall/sns/inbox/NAME.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from rolecall import ids
from rolecall.core.context import Caller, Check, OpContext
from rolecall.core.host import Host, InternalRoute
from rolecall.core.operations import Service, access_denied
from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse
from rolecall.services.sns import subscription_store
from rolecall.services.sns.delivery import CONFIRM_PREFIX, INBOX_PREFIX, Deliverer, Delivery
from rolecall.services.sns.errors import AuthorizationError
from rolecall.services.sns.subscriptions import SubscriptionOperations, confirm
from rolecall.services.sns.topics import TopicOperations, parse_topic_arn
from rolecall.store import Tx

UNSUBSCRIBE_PREFIX = "/_rolecall/sns/unsubscribe"


class SNS(Service):
    name = "sns"
    model = "sns"
    families = (TopicOperations, SubscriptionOperations)

    def __init__(self) -> None:
        super().__init__()
        self.deliverer = Deliverer()

    def start(self, host: Host) -> None:
        super().start(host)
        self.deliverer.start()

    def stop(self) -> None:
        self.deliverer.stop()

    def reset(self) -> None:
        self.deliverer.inboxes.clear()

    def deliver(self, delivery: Delivery) -> None:
        self.deliverer.send(delivery)

    def denial(self, ctx: OpContext, check: Check) -> AwsError:
        """SNS words its denials as AuthorizationError (403), with IAM's explanation."""
        return AuthorizationError(access_denied(ctx.caller, check).message)

    def internal_routes(self) -> dict[str, InternalRoute]:
        return {
            INBOX_PREFIX: self.deliverer.inbox,
            CONFIRM_PREFIX: self._confirm_route,
            UNSUBSCRIBE_PREFIX: self._unsubscribe_route,
        }

    def _context(self, tx: Tx, account: str, region: str, operation: str) -> OpContext:
        assert self.host is not None
        anonymous = Caller(account=account, arn="anonymous", type="AWSAccount", principal_id="anonymous")
        return OpContext(
            service="sns",
            operation=operation,
            account=account,
            region=region,
            caller=anonymous,
            tx=tx,
            host=self.host,
            request_id=ids.request_id(),
        )

    def _confirm_route(self, req: HttpRequest) -> HttpResponse:
        """A SubscribeURL: confirms the subscription its token was issued for, without a signature."""
        query = {k: v[0] for k, v in parse_qs(req.query_string).items()}
        try:
            region, account, _ = parse_topic_arn(query.get("TopicArn", ""))
            assert self.host is not None
            with self.host.store.transaction() as tx:
                sub = confirm(
                    self._context(tx, account, region, "ConfirmSubscription"),
                    query["TopicArn"],
                    query.get("Token", ""),
                    authenticated=False,
                )
        except AwsError as err:
            return _xml(
                err.status,
                f"<ErrorResponse><Error><Code>{err.code}</Code><Message>{err.message}</Message></Error></ErrorResponse>",
            )
        return _xml(
            200,
            "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
            f"{sub['SubscriptionArn']}</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>",
        )

    def _unsubscribe_route(self, req: HttpRequest) -> HttpResponse:
        """A notification's UnsubscribeURL: ends the subscription."""
        query = {k: v[0] for k, v in parse_qs(req.query_string).items()}
        arn = query.get("SubscriptionArn", "")
        try:
            _, account, _ = parse_topic_arn(arn.rsplit(":", 1)[0])
        except AwsError as err:
            return _xml(err.status, f"<ErrorResponse><Error><Code>{err.code}</Code></Error></ErrorResponse>")
        assert self.host is not None
        with self.host.store.transaction() as tx:
            sub = subscription_store.get(tx, account, arn)
            if sub is not None:
                subscription_store.delete(tx, account, sub)
        return _xml(200, "<UnsubscribeResponse/>")


def _xml(status: int, text: str) -> HttpResponse:
    body = text.encode("utf-8")
    return HttpResponse(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body)


__all__ = ["SNS"]
