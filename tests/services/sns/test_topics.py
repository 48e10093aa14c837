"""SNS in process: topics and their access policy, subscriptions and the confirmation handshake, Publish
to confirmed subscriptions only, and who may do what (the topic policy and IAM)."""

from __future__ import annotations

import json

import pytest

from rolecall.errors import AwsError
from rolecall.services.sns.delivery import Delivery
from tests.services.conftest import ACCOUNT, allow, policy

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"


def sns(env, op: str, caller=None, **params):
    return env.invoke("sns", op, caller=caller, **params)


@pytest.fixture
def sent(env, monkeypatch) -> list[Delivery]:
    """What SNS hands its delivery thread (the HTTP posting itself is tested end to end)."""
    out: list[Delivery] = []
    monkeypatch.setattr(env.service("sns"), "deliver", out.append)
    return out


def test_topic_lifecycle_and_default_policy(env):
    assert sns(env, "CreateTopic", Name="alerts")["TopicArn"] == TOPIC
    assert sns(env, "CreateTopic", Name="alerts")["TopicArn"] == TOPIC  # idempotent
    attrs = sns(env, "GetTopicAttributes", TopicArn=TOPIC)["Attributes"]
    statement = json.loads(attrs["Policy"])["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    assert (attrs["Owner"], attrs["SubscriptionsConfirmed"]) == (ACCOUNT, "0")
    sns(env, "SetTopicAttributes", TopicArn=TOPIC, AttributeName="DisplayName", AttributeValue="Alerts")
    assert sns(env, "GetTopicAttributes", TopicArn=TOPIC)["Attributes"]["DisplayName"] == "Alerts"
    assert sns(env, "ListTopics")["Topics"] == [{"TopicArn": TOPIC}]
    with pytest.raises(AwsError) as bad:
        sns(env, "CreateTopic", Name="no spaces")
    assert bad.value.code == "InvalidParameter"
    with pytest.raises(AwsError) as bad_policy:
        sns(env, "SetTopicAttributes", TopicArn=TOPIC, AttributeName="Policy", AttributeValue="{}")
    assert bad_policy.value.code == "InvalidParameter"
    sns(env, "DeleteTopic", TopicArn=TOPIC)
    with pytest.raises(AwsError) as gone:
        sns(env, "GetTopicAttributes", TopicArn=TOPIC)
    assert gone.value.code == "NotFound"


def test_subscription_handshake_and_publish(env, sent):
    sns(env, "CreateTopic", Name="alerts")
    out = sns(env, "Subscribe", TopicArn=TOPIC, Protocol="https", Endpoint="https://hooks.example.com/sns")
    assert out["SubscriptionArn"] == "pending confirmation"
    (confirmation,) = sent
    assert confirmation.message["Type"] == "SubscriptionConfirmation"
    assert confirmation.message["SubscribeURL"].startswith("http://127.0.0.1:4577/_rolecall/sns/confirm?")
    (listed,) = sns(env, "ListSubscriptions")["Subscriptions"]
    assert listed["SubscriptionArn"] == "PendingConfirmation"
    sns(env, "Publish", TopicArn=TOPIC, Message="before confirmation")
    assert len(sent) == 1  # a pending subscription gets nothing
    with pytest.raises(AwsError) as wrong:
        sns(env, "ConfirmSubscription", TopicArn=TOPIC, Token="not-the-token")
    assert wrong.value.code == "InvalidParameter"
    arn = sns(env, "ConfirmSubscription", TopicArn=TOPIC, Token=confirmation.message["Token"])[
        "SubscriptionArn"
    ]
    assert arn.startswith(TOPIC + ":")
    attrs = sns(env, "GetSubscriptionAttributes", SubscriptionArn=arn)["Attributes"]
    assert (attrs["PendingConfirmation"], attrs["ConfirmationWasAuthenticated"]) == ("false", "true")
    message_id = sns(env, "Publish", TopicArn=TOPIC, Message="hello", Subject="greeting")["MessageId"]
    note = sent[-1]
    assert (note.endpoint, note.subscription_arn) == ("https://hooks.example.com/sns", arn)
    assert (
        note.message["Type"],
        note.message["MessageId"],
        note.message["Message"],
        note.message["Subject"],
    ) == (
        "Notification",
        message_id,
        "hello",
        "greeting",
    )
    structured = json.dumps({"default": "plain", "https": "for https"})
    sns(env, "Publish", TopicArn=TOPIC, Message=structured, MessageStructure="json")
    assert sent[-1].message["Message"] == "for https"
    assert [
        s["SubscriptionArn"] for s in sns(env, "ListSubscriptionsByTopic", TopicArn=TOPIC)["Subscriptions"]
    ] == [arn]
    sns(env, "Unsubscribe", SubscriptionArn=arn)
    assert sns(env, "ListSubscriptionsByTopic", TopicArn=TOPIC)["Subscriptions"] == []
    with pytest.raises(AwsError) as email:
        sns(env, "Subscribe", TopicArn=TOPIC, Protocol="email", Endpoint="me@example.com")
    assert email.value.code == "InvalidParameter" and "http and https" in email.value.message


def test_the_topic_policy_and_iam_decide(env, sent):
    sns(env, "CreateTopic", Name="alerts")
    outsider = env.user("outsider")  # no identity policy: the default topic policy does not name users
    for op, params in (
        ("Publish", {"TopicArn": TOPIC, "Message": "x"}),
        ("Subscribe", {"TopicArn": TOPIC, "Protocol": "http", "Endpoint": "http://x"}),
        ("GetTopicAttributes", {"TopicArn": TOPIC}),
        ("SetTopicAttributes", {"TopicArn": TOPIC, "AttributeName": "DisplayName", "AttributeValue": "x"}),
        ("DeleteTopic", {"TopicArn": TOPIC}),
        ("ListSubscriptionsByTopic", {"TopicArn": TOPIC}),
        ("ListTopics", {}),
        ("ListSubscriptions", {}),
        ("CreateTopic", {"Name": "mine"}),
        ("ConfirmSubscription", {"TopicArn": TOPIC, "Token": "t"}),
        ("Unsubscribe", {"SubscriptionArn": TOPIC + ":0000"}),
        ("GetSubscriptionAttributes", {"SubscriptionArn": TOPIC + ":0000"}),
    ):
        err = env.denied(outsider, "sns", op, **params)
        assert (err.code, err.status) == ("AuthorizationError", 403), op
        assert f"sns:{op}" in err.message
    # A topic policy naming the user lets it publish without any identity policy.
    grant = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/outsider"},
            "Action": "sns:Publish",
            "Resource": TOPIC,
        }
    )
    sns(env, "SetTopicAttributes", TopicArn=TOPIC, AttributeName="Policy", AttributeValue=grant)
    assert sns(env, "Publish", caller=outsider, TopicArn=TOPIC, Message="allowed")["MessageId"]
    publisher = env.user("publisher", allow("sns:Publish", TOPIC))
    assert sns(env, "Publish", caller=publisher, TopicArn=TOPIC, Message="by IAM")["MessageId"]
