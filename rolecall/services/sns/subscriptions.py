"""SNS subscriptions to HTTP/HTTPS endpoints, with SNS's confirmation handshake.

Subscribe makes a pending subscription and POSTs a SubscriptionConfirmation message to the endpoint, with a
Token and a SubscribeURL; the endpoint's owner confirms by visiting that URL or calling ConfirmSubscription
with the token. Only confirmed subscriptions get notifications. A subscription ARN is
TOPIC_ARN:UUID; until confirmed, SNS shows it as "PendingConfirmation" (or "pending confirmation" as
Subscribe's answer, unless ReturnSubscriptionArn is set).

Protocols: http and https (rolecall delivers nothing by email, SMS, SQS, Lambda or Firehose; Subscribe
refuses them with InvalidParameter saying so).
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING, Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.sns import subscription_store
from rolecall.services.sns.delivery import Delivery
from rolecall.services.sns.errors import InvalidParameter, NotFound
from rolecall.services.sns.topics import get_topic, iso_now, parse_topic_arn, topic_policy, topic_resource

SUBSCRIPTION = subscription_store.SUBSCRIPTION
PROTOCOLS = ("http", "https")
OTHER_PROTOCOLS = ("email", "email-json", "sms", "sqs", "application", "lambda", "firehose")


def _subscription_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    """A subscription's operations are authorized on its topic (SNS's resource for them)."""
    arn = params["SubscriptionArn"]
    topic = arn.rsplit(":", 1)[0]
    parse_topic_arn(topic)
    return topic


def _subscription_policy(ctx: OpContext, params: dict[str, Any]) -> Any:
    return topic_policy(ctx, {"TopicArn": _subscription_resource(ctx, params)})


def _all(ctx: OpContext, params: dict[str, Any]) -> str:
    return f"arn:aws:sns:{ctx.region}:{ctx.account}:*"


def view(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "SubscriptionArn": "PendingConfirmation" if sub["PendingConfirmation"] else sub["SubscriptionArn"],
        "Owner": sub["Owner"],
        "Protocol": sub["Protocol"],
        "Endpoint": sub["Endpoint"],
        "TopicArn": sub["TopicArn"],
    }


def confirm(ctx: OpContext, topic_arn: str, token: str, authenticated: bool) -> dict[str, Any]:
    """Confirm the subscription `token` was issued for (NotFound / InvalidParameter as SNS says)."""
    topic = get_topic(ctx, topic_arn)
    _, account, _ = parse_topic_arn(topic["TopicArn"])
    for sub in subscription_store.of_topic(ctx.tx, account, topic["TopicArn"]):
        if sub.get("Token") and secrets.compare_digest(sub["Token"], token):
            if sub["PendingConfirmation"]:
                sub.update(PendingConfirmation=False, ConfirmationWasAuthenticated=authenticated)
                ctx.tx.update(account, SUBSCRIPTION, subscription_store.sub_id(sub["SubscriptionArn"]), sub)
            return sub
    raise InvalidParameter("Invalid token")


if TYPE_CHECKING:
    from rolecall.services.sns import SNS


class SubscriptionOperations(Family):
    service: SNS

    @operation(
        "sns:Subscribe",
        resource=topic_resource,
        resource_policy=topic_policy,
        unsupported={"Attributes": ()},
    )
    def Subscribe(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = get_topic(ctx, params["TopicArn"])
        protocol, endpoint = params["Protocol"].lower(), params.get("Endpoint") or ""
        if protocol in OTHER_PROTOCOLS:
            raise InvalidParameter(
                f"Invalid parameter: rolecall delivers to http and https endpoints only, not {protocol}"
            )
        if protocol not in PROTOCOLS:
            raise InvalidParameter(
                f"Invalid parameter: Amazon SNS does not support this protocol string: {params['Protocol']}"
            )
        if not endpoint.lower().startswith(f"{protocol}://"):
            raise InvalidParameter("Invalid parameter: Endpoint must match the specified protocol")
        _, account, _ = parse_topic_arn(topic["TopicArn"])
        for sub in subscription_store.of_topic(ctx.tx, account, topic["TopicArn"]):
            if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                # Subscribing again: the same subscription (a pending one gets its confirmation again).
                if sub["PendingConfirmation"]:
                    self._send_confirmation(ctx, sub)
                    pending = not params.get("ReturnSubscriptionArn")
                    return {"SubscriptionArn": "pending confirmation" if pending else sub["SubscriptionArn"]}
                return {"SubscriptionArn": sub["SubscriptionArn"]}
        arn = f"{topic['TopicArn']}:{uuid.uuid4()}"
        sub = {
            "SubscriptionArn": arn,
            "TopicArn": topic["TopicArn"],
            "Protocol": protocol,
            "Endpoint": endpoint,
            "Owner": ctx.account,
            "PendingConfirmation": True,
            "ConfirmationWasAuthenticated": False,
            "Token": secrets.token_hex(64),
        }
        ctx.tx.insert(account, SUBSCRIPTION, subscription_store.sub_id(arn), sub)
        self._send_confirmation(ctx, sub)
        return {"SubscriptionArn": arn if params.get("ReturnSubscriptionArn") else "pending confirmation"}

    def _send_confirmation(self, ctx: OpContext, sub: dict[str, Any]) -> None:
        message = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": sub["Token"],
            "TopicArn": sub["TopicArn"],
            "Message": f"You have chosen to subscribe to the topic {sub['TopicArn']}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL": subscription_store.subscribe_url(ctx, sub["TopicArn"], sub["Token"]),
            "Timestamp": iso_now(ctx),
        }
        service = self.service
        delivery = Delivery(sub["Endpoint"], message)
        ctx.after_commit(lambda: service.deliver(delivery))

    @operation(
        "sns:ConfirmSubscription",
        resource=topic_resource,
        unsupported={"AuthenticateOnUnsubscribe": ("false",)},
    )
    def ConfirmSubscription(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        sub = confirm(ctx, params["TopicArn"], params["Token"], authenticated=True)
        return {"SubscriptionArn": sub["SubscriptionArn"]}

    @operation("sns:Unsubscribe", resource=_subscription_resource, resource_policy=_subscription_policy)
    def Unsubscribe(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        _, account, _ = parse_topic_arn(_subscription_resource(ctx, params))
        sub = subscription_store.get(ctx.tx, account, params["SubscriptionArn"])
        if sub is None:
            raise NotFound("Subscription does not exist")
        subscription_store.delete(ctx.tx, account, sub)
        return {}

    @operation("sns:ListSubscriptions", resource=_all)
    def ListSubscriptions(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        subs = sorted(
            (s for s in ctx.tx.list(ctx.account, SUBSCRIPTION) if s["TopicArn"].split(":")[3] == ctx.region),
            key=lambda s: s["SubscriptionArn"],
        )
        return _page([view(s) for s in subs], params.get("NextToken"))

    @operation("sns:ListSubscriptionsByTopic", resource=topic_resource, resource_policy=topic_policy)
    def ListSubscriptionsByTopic(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = get_topic(ctx, params["TopicArn"])
        _, account, _ = parse_topic_arn(topic["TopicArn"])
        return _page(
            [view(s) for s in subscription_store.of_topic(ctx.tx, account, topic["TopicArn"])],
            params.get("NextToken"),
        )

    @operation(
        "sns:GetSubscriptionAttributes", resource=_subscription_resource, resource_policy=_subscription_policy
    )
    def GetSubscriptionAttributes(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        _, account, _ = parse_topic_arn(_subscription_resource(ctx, params))
        sub = subscription_store.get(ctx.tx, account, params["SubscriptionArn"])
        if sub is None:
            raise NotFound("Subscription does not exist")
        return {
            "Attributes": {
                "SubscriptionArn": sub["SubscriptionArn"],
                "TopicArn": sub["TopicArn"],
                "Owner": sub["Owner"],
                "Protocol": sub["Protocol"],
                "Endpoint": sub["Endpoint"],
                "PendingConfirmation": "true" if sub["PendingConfirmation"] else "false",
                "ConfirmationWasAuthenticated": "true" if sub["ConfirmationWasAuthenticated"] else "false",
                "RawMessageDelivery": "false",
            }
        }


def _page(items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    start = int(token) if token and token.isdigit() else 0
    out: dict[str, Any] = {"Subscriptions": items[start : start + 100]}
    if start + 100 < len(items):
        out["NextToken"] = str(start + 100)
    return out
