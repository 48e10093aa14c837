"""SNS topics: create, describe, change and delete them, and Publish to their subscriptions.

Every topic operation is authorized on the topic's ARN with the topic's access policy as the resource-based
policy (owned by the topic's account). A topic gets AWS's default policy, which lets the owner account's
principals (AWS:SourceOwner) use it -- and so lets an AWS service acting for that account (CloudWatch
publishing an alarm) publish to it.

Store documents: "sns-topic" {TopicArn, Name, region, Attributes, Tags} named REGION/NAME in the topic's
account.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rolecall.authz.principals import compiled
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.policy import MalformedPolicy, Policy
from rolecall.services.sns import subscription_store
from rolecall.services.sns.delivery import Delivery
from rolecall.services.sns.errors import (
    InvalidParameter,
    NotFound,
    TopicLimitExceeded,
)

TOPIC = "sns-topic"
MAX_TOPICS = 100_000
_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_MESSAGE_BYTES = 256 * 1024
SETTABLE = ("Policy", "DisplayName", "DeliveryPolicy", "KmsMasterKeyId", "SignatureVersion", "TracingConfig")


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def parse_topic_arn(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"] or not parts[5]:
        raise InvalidParameter("Invalid parameter: TopicArn")
    return parts[3], parts[4], parts[5]


def default_policy(arn: str, account: str) -> str:
    """The access policy SNS gives a new topic (AWS's __default_policy_ID)."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        },
        separators=(",", ":"),
    )


def get_topic(ctx: OpContext, arn: str) -> dict[str, Any]:
    region, account, name = parse_topic_arn(arn)
    topic = ctx.tx.get(account, TOPIC, f"{region}/{name}")
    if topic is None or topic["TopicArn"] != arn:
        raise NotFound("Topic does not exist")
    return topic


def topic_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    arn = params.get("TopicArn") or params.get("TargetArn") or ""
    parse_topic_arn(arn)
    return arn


def topic_policy(ctx: OpContext, params: dict[str, Any]) -> tuple[Policy | None, str]:
    """The topic's access policy, owned by the topic's account (none yet for a topic not found)."""
    arn = topic_resource(ctx, params)
    _, account, _ = parse_topic_arn(arn)
    try:
        topic = get_topic(ctx, arn)
    except NotFound:
        return None, account
    return compiled(topic["Attributes"]["Policy"], "resource", f"access policy of {arn}"), account


def _create_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return topic_arn(ctx.region, ctx.account, params["Name"])


def _all_topics(ctx: OpContext, params: dict[str, Any]) -> str:
    return f"arn:aws:sns:{ctx.region}:{ctx.account}:*"


def _check_policy(text: str) -> None:
    try:
        Policy.parse(text, kind="resource", name="topic policy")
    except MalformedPolicy as exc:
        raise InvalidParameter(f"Invalid parameter: Policy Error: {exc.message}") from None


def iso_now(ctx: OpContext) -> str:
    return datetime.fromtimestamp(ctx.clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


if TYPE_CHECKING:
    from rolecall.services.sns import SNS


class TopicOperations(Family):
    service: SNS

    @operation("sns:CreateTopic", resource=_create_resource, unsupported=["DataProtectionPolicy"])
    def CreateTopic(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        attributes = dict(params.get("Attributes") or {})
        if attributes.get("FifoTopic", "false") == "true" or name.endswith(".fifo"):
            raise InvalidParameter("Invalid parameter: rolecall serves standard topics only, not FIFO topics")
        if not _NAME.fullmatch(name):
            raise InvalidParameter(
                "Invalid parameter: Topic Name must be made up of only uppercase and lowercase ASCII letters, "
                "numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
            )
        unknown = [k for k in attributes if k not in (*SETTABLE, "FifoTopic")]
        if unknown:
            raise InvalidParameter(f"Invalid parameter: Attributes Reason: Unknown attribute {unknown[0]}")
        arn = topic_arn(ctx.region, ctx.account, name)
        existing = ctx.tx.get(ctx.account, TOPIC, f"{ctx.region}/{name}")
        if existing is not None:  # CreateTopic is idempotent for the same attributes
            return {"TopicArn": arn}
        if len(ctx.tx.list(ctx.account, TOPIC)) >= MAX_TOPICS:
            raise TopicLimitExceeded("Topic limit exceeded")
        if "Policy" in attributes:
            _check_policy(attributes["Policy"])
        attributes.setdefault("Policy", default_policy(arn, ctx.account))
        attributes.setdefault("DisplayName", "")
        topic = {
            "TopicArn": arn,
            "Name": name,
            "region": ctx.region,
            "Attributes": attributes,
            "Tags": params.get("Tags") or [],
        }
        ctx.tx.insert(ctx.account, TOPIC, f"{ctx.region}/{name}", topic)
        return {"TopicArn": arn}

    @operation("sns:DeleteTopic", resource=topic_resource, resource_policy=topic_policy)
    def DeleteTopic(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        region, account, name = parse_topic_arn(params["TopicArn"])
        topic = ctx.tx.get(account, TOPIC, f"{region}/{name}")
        if topic is None:
            return {}  # deleting a topic that does not exist succeeds, as on AWS
        for sub in subscription_store.of_topic(ctx.tx, account, topic["TopicArn"]):
            subscription_store.delete(ctx.tx, account, sub)
        ctx.tx.delete(account, TOPIC, f"{region}/{name}")
        return {}

    @operation("sns:ListTopics", resource=_all_topics)
    def ListTopics(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        arns = sorted(t["TopicArn"] for t in ctx.tx.list(ctx.account, TOPIC) if t["region"] == ctx.region)
        start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
        out: dict[str, Any] = {"Topics": [{"TopicArn": a} for a in arns[start : start + 100]]}
        if start + 100 < len(arns):
            out["NextToken"] = str(start + 100)
        return out

    @operation("sns:GetTopicAttributes", resource=topic_resource, resource_policy=topic_policy)
    def GetTopicAttributes(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = get_topic(ctx, params["TopicArn"])
        _, account, _ = parse_topic_arn(topic["TopicArn"])
        subs = subscription_store.of_topic(ctx.tx, account, topic["TopicArn"])
        pending = sum(1 for s in subs if s["PendingConfirmation"])
        attributes = {
            **topic["Attributes"],
            "TopicArn": topic["TopicArn"],
            "Owner": account,
            "SubscriptionsConfirmed": str(len(subs) - pending),
            "SubscriptionsPending": str(pending),
            "SubscriptionsDeleted": "0",
            "EffectiveDeliveryPolicy": json.dumps(
                {"http": {"defaultHealthyRetryPolicy": {"numRetries": 3, "numNoDelayRetries": 3}}}
            ),
        }
        return {"Attributes": attributes}

    @operation("sns:SetTopicAttributes", resource=topic_resource, resource_policy=topic_policy)
    def SetTopicAttributes(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = get_topic(ctx, params["TopicArn"])
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        if name not in SETTABLE:
            raise InvalidParameter("Invalid parameter: AttributeName")
        if name == "Policy":
            _check_policy(value)
        topic["Attributes"][name] = value
        region, account, topic_name = parse_topic_arn(topic["TopicArn"])
        ctx.tx.update(account, TOPIC, f"{region}/{topic_name}", topic)
        return {}

    # Publishing to a platform endpoint or a phone number, and FIFO members, are not implemented.
    @operation(
        "sns:Publish",
        resource=topic_resource,
        resource_policy=topic_policy,
        unsupported=["TargetArn", "PhoneNumber", "MessageDeduplicationId", "MessageGroupId"],
    )
    def Publish(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("TopicArn"):
            raise InvalidParameter(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
            )
        topic = get_topic(ctx, params["TopicArn"])
        message = params["Message"]
        if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise InvalidParameter("Invalid parameter: Message too long")
        if params.get("MessageStructure") not in (None, "json"):
            raise InvalidParameter("Invalid parameter: MessageStructure")
        per_protocol: dict[str, Any] | None = None
        if params.get("MessageStructure") == "json":
            try:
                per_protocol = json.loads(message)
            except ValueError:
                per_protocol = None
            if not isinstance(per_protocol, dict) or "default" not in per_protocol:
                raise InvalidParameter(
                    "Invalid parameter: Message Structure - No default entry in JSON message body"
                )
        message_id = str(uuid.uuid4())
        _, account, _ = parse_topic_arn(topic["TopicArn"])
        attributes = {
            name: {"Type": a["DataType"], "Value": a.get("StringValue", "")}
            for name, a in (params.get("MessageAttributes") or {}).items()
        }
        deliveries = []
        for sub in subscription_store.of_topic(ctx.tx, account, topic["TopicArn"]):
            if sub["PendingConfirmation"]:
                continue
            body = (
                str(per_protocol.get(sub["Protocol"], per_protocol["default"])) if per_protocol else message
            )
            note: dict[str, Any] = {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": topic["TopicArn"],
                "Message": body,
                "Timestamp": iso_now(ctx),
                "UnsubscribeURL": subscription_store.unsubscribe_url(ctx, sub["SubscriptionArn"]),
            }
            if params.get("Subject"):
                note["Subject"] = params["Subject"]
            if attributes:
                note["MessageAttributes"] = attributes
            deliveries.append(Delivery(sub["Endpoint"], note, sub["SubscriptionArn"]))
        service = self.service

        def deliver() -> None:
            for delivery in deliveries:
                service.deliver(delivery)

        ctx.after_commit(deliver)
        return {"MessageId": message_id}
