"""SNS subscriptions as the store keeps them: "sns-subscription" documents in the topic's account, named by
the subscription's id, {SubscriptionArn, TopicArn, Protocol, Endpoint, Owner, PendingConfirmation, Token,
ConfirmationWasAuthenticated}."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from rolecall.core.context import OpContext
from rolecall.store import Tx

SUBSCRIPTION = "sns-subscription"


def of_topic(tx: Tx, account: str, topic_arn: str) -> list[dict[str, Any]]:
    return sorted(
        (s for s in tx.list(account, SUBSCRIPTION) if s["TopicArn"] == topic_arn),
        key=lambda s: s["SubscriptionArn"],
    )


def sub_id(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def get(tx: Tx, account: str, arn: str) -> dict[str, Any] | None:
    sub = tx.get(account, SUBSCRIPTION, sub_id(arn))
    return sub if sub is not None and sub["SubscriptionArn"] == arn else None


def delete(tx: Tx, account: str, sub: dict[str, Any]) -> None:
    tx.delete(account, SUBSCRIPTION, sub_id(sub["SubscriptionArn"]))


def base_url(ctx: OpContext) -> str:
    host = ctx.config.host if ctx.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{ctx.config.port}"


def subscribe_url(ctx: OpContext, topic_arn: str, token: str) -> str:
    """Where the endpoint confirms the subscription (without signing anything, as AWS's SubscribeURL)."""
    return f"{base_url(ctx)}/_rolecall/sns/confirm?" + urlencode({"TopicArn": topic_arn, "Token": token})


def unsubscribe_url(ctx: OpContext, subscription_arn: str) -> str:
    return f"{base_url(ctx)}/_rolecall/sns/unsubscribe?" + urlencode({"SubscriptionArn": subscription_arn})
