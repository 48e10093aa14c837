"""SNS against a real server with boto3 and the AWS CLI: an HTTP endpoint of the test's own confirms its
subscription through the SubscribeURL and receives notifications; rolecall's inbox endpoint; refusals."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import as_key, name, new_user

WAIT = 20


class Endpoint:
    """An HTTP endpoint on a free port that queues every SNS message POSTed to it."""

    def __init__(self) -> None:
        self.messages: queue.Queue[tuple[dict, dict]] = queue.Queue()
        received = self.messages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.put((self.headers, json.loads(body)))  # header names: case-insensitive
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self) -> tuple[dict, dict]:
        return self.messages.get(timeout=WAIT)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


def test_http_subscription_handshake_and_notifications(server, endpoint):
    sns = server.client("sns")
    topic = sns.create_topic(Name=name("alerts"))["TopicArn"]
    assert (
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)["SubscriptionArn"]
        == "pending confirmation"
    )
    headers, confirmation = endpoint.next()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == topic and confirmation["Token"]
    with urllib.request.urlopen(confirmation["SubscribeURL"]) as answer:  # as the endpoint's owner would
        assert b"<SubscriptionArn>" in answer.read()
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert attrs["PendingConfirmation"] == "false" and attrs["ConfirmationWasAuthenticated"] == "false"
    message_id = sns.publish(TopicArn=topic, Message="disk almost full", Subject="warning")["MessageId"]
    headers, note = endpoint.next()
    assert headers["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
    assert (note["Type"], note["MessageId"], note["Message"], note["Subject"]) == (
        "Notification",
        message_id,
        "disk almost full",
        "warning",
    )
    out = json.loads(server.cli("sns", "publish", "--topic-arn", topic, "--message", "from the CLI").stdout)
    assert endpoint.next()[1]["MessageId"] == out["MessageId"]
    assert any(
        s["SubscriptionArn"] == sub["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]
    )
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    sns.delete_topic(TopicArn=topic)


def test_confirm_subscription_with_the_token_and_the_inbox(server, endpoint):
    sns = server.client("sns")
    topic = sns.create_topic(Name=name("inbox-topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    token = endpoint.next()[1]["Token"]
    confirmed = sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"]
    assert confirmed.startswith(topic + ":")
    inbox = f"{server.url}/_rolecall/sns/inbox/{name('me')}"
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=inbox)

    def inbox_confirmed() -> bool:
        subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        return all(s["SubscriptionArn"] != "PendingConfirmation" for s in subs)

    deadline = time.monotonic() + WAIT
    while not inbox_confirmed() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert inbox_confirmed()
    sns.publish(TopicArn=topic, Message="to both")
    assert endpoint.next()[1]["Message"] == "to both"
    deadline = time.monotonic() + WAIT
    messages: list = []
    while time.monotonic() < deadline:
        messages = json.loads(urllib.request.urlopen(inbox).read())["Messages"]
        if any(m["Type"] == "Notification" for m in messages):
            break
        time.sleep(0.1)
    assert [m["Type"] for m in messages] == ["SubscriptionConfirmation", "Notification"]
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["SubscriptionsConfirmed"] == "2"
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Inbox")
    topics = json.loads(server.cli("sns", "list-topics").stdout)["Topics"]
    assert {"TopicArn": topic} in topics


def test_a_user_the_topic_policy_does_not_name_is_refused(server):
    sns = server.client("sns")
    topic = sns.create_topic(Name=name("private"))["TopicArn"]
    _, key = new_user(server, server.client("iam"))
    with pytest.raises(ClientError) as refused:
        as_key(server, key, "sns").publish(TopicArn=topic, Message="x")
    error = refused.value.response["Error"]
    assert error["Code"] == "AuthorizationError" and "sns:Publish" in error["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
