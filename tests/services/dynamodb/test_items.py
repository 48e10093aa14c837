"""DynamoDB items in process, through the authorizer: writes with condition and update expressions, reads
with projections, batches, DynamoDB's validation messages, and fine-grained access control
(dynamodb:LeadingKeys, dynamodb:Attributes, dynamodb:Select, dynamodb:ReturnValues)."""

from __future__ import annotations

import pytest

from rolecall.audit.records import HIDDEN
from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow

TABLE = "Games"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"


def ddb(env, op: str, caller=None, **params):
    return env.invoke("dynamodb", op, caller=caller, **params)


def fails(env, op: str, caller=None, **params) -> AwsError:
    with pytest.raises(AwsError) as raised:
        ddb(env, op, caller=caller, **params)
    return raised.value


@pytest.fixture
def table(env) -> str:
    ddb(
        env,
        "CreateTable",
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "UserId", "AttributeType": "S"},
            {"AttributeName": "GameTitle", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "UserId", "KeyType": "HASH"},
            {"AttributeName": "GameTitle", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return TABLE


def key(user: str, game: str) -> dict:
    return {"UserId": {"S": user}, "GameTitle": {"S": game}}


def test_items_are_put_read_updated_and_deleted_under_conditions(env, table):
    item = {**key("alice", "Chess"), "TopScore": {"N": "1.50"}, "Tags": {"SS": ["a", "b"]}}
    ddb(env, "PutItem", TableName=table, Item=item, ConditionExpression="attribute_not_exists(UserId)")
    again = fails(
        env, "PutItem", TableName=table, Item=item, ConditionExpression="attribute_not_exists(UserId)"
    )
    assert (again.code, again.message) == (
        "ConditionalCheckFailedException",
        "The conditional request failed",
    )
    got = ddb(env, "GetItem", TableName=table, Key=key("alice", "Chess"))["Item"]
    assert got["TopScore"] == {"N": "1.5"}  # numbers come back normalised
    assert ddb(env, "GetItem", TableName=table, Key=key("alice", "Go")) == {}

    updated = ddb(
        env,
        "UpdateItem",
        TableName=table,
        Key=key("alice", "Chess"),
        UpdateExpression="SET TopScore = TopScore + :inc, #w = if_not_exists(#w, :zero) REMOVE Tags ADD Plays :one",
        ConditionExpression="TopScore < :limit AND contains(Tags, :a)",
        ExpressionAttributeNames={"#w": "Wins"},
        ExpressionAttributeValues={
            ":inc": {"N": "2"},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":limit": {"N": "10"},
            ":a": {"S": "a"},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert updated == {
        **key("alice", "Chess"),
        "TopScore": {"N": "3.5"},
        "Wins": {"N": "0"},
        "Plays": {"N": "1"},
    }
    projected = ddb(
        env,
        "GetItem",
        TableName=table,
        Key=key("alice", "Chess"),
        ProjectionExpression="#s, Plays",
        ExpressionAttributeNames={"#s": "TopScore"},
    )["Item"]
    assert projected == {"TopScore": {"N": "3.5"}, "Plays": {"N": "1"}}

    refused = fails(
        env,
        "DeleteItem",
        TableName=table,
        Key=key("alice", "Chess"),
        ConditionExpression="Plays > :n",
        ExpressionAttributeValues={":n": {"N": "5"}},
    )
    assert refused.code == "ConditionalCheckFailedException"
    old = ddb(env, "DeleteItem", TableName=table, Key=key("alice", "Chess"), ReturnValues="ALL_OLD")
    assert old["Attributes"]["Plays"] == {"N": "1"}
    assert ddb(env, "GetItem", TableName=table, Key=key("alice", "Chess")) == {}

    # The trail: data events naming the table and key, never an item's values.
    put = env.trail("PutItem")[-1]
    assert (put["eventCategory"], put["managementEvent"], put["resources"][0]["ARN"]) == (
        "Data",
        False,
        TABLE_ARN,
    )
    assert put["requestParameters"]["item"] == HIDDEN and put["responseElements"] is None
    updated_record = env.trail("UpdateItem")[0]
    assert updated_record["requestParameters"]["key"] == {"UserId": "alice", "GameTitle": "Chess"}
    assert updated_record["requestParameters"]["expressionAttributeValues"] == HIDDEN


def test_bad_requests_get_dynamodbs_messages_and_change_nothing(env, table):
    cases = [
        (
            dict(Item={"UserId": {"S": "a"}}),
            "One or more parameter values were invalid: Missing the key GameTitle in the item",
        ),
        (
            dict(Item={"UserId": {"N": "1"}, "GameTitle": {"S": "x"}}),
            "One or more parameter values were invalid: Type mismatch for key UserId expected: S actual: N",
        ),
        (
            dict(Item=key("a", "b"), ConditionExpression="attribute_exists(#x)"),
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
            "attribute name: #x",
        ),
        (
            dict(Item=key("a", "b"), ConditionExpression="a = :v"),
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
            "attribute value: :v",
        ),
        (
            dict(
                Item=key("a", "b"), ConditionExpression="a = ", ExpressionAttributeValues={":v": {"S": "x"}}
            ),
            'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "="',
        ),
        (
            dict(
                Item=key("a", "b"),
                ExpressionAttributeValues={":v": {"S": "x"}},
                ConditionExpression="a = :w",
            ),  # fmt: skip
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
            "attribute value: :w",
        ),
        (
            dict(
                Item=key("a", "b"),
                ConditionExpression="attribute_not_exists(a)",
                ExpressionAttributeValues={":unused": {"S": "x"}},
            ),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
        ),
        (
            dict(Item={**key("a", "b"), "n": {"N": "abc"}}),
            "A value provided cannot be converted into a number",
        ),
        (
            dict(Item={**key("a", "b"), "s": {"SS": ["x", "x"]}}),
            "Input collection [x, x] contains duplicates.",
        ),
        (dict(Item=key("a", "b"), ReturnValues="ALL_NEW"), "ReturnValues can only be ALL_OLD or NONE"),
    ]
    for params, message in cases:
        err = fails(env, "PutItem", TableName=table, **params)
        assert (err.code, err.message) == ("ValidationException", message), params
    err = fails(
        env, "UpdateItem", TableName=table, Key=key("a", "b"), UpdateExpression="SET UserId = :v",
        ExpressionAttributeValues={":v": {"S": "b"}},
    )  # fmt: skip
    assert err.message == (
        "One or more parameter values were invalid: Cannot update attribute UserId. This attribute is part of the key"
    )
    err = fails(env, "GetItem", TableName=table, Key={"UserId": {"S": "a"}})
    assert err.message == "The provided key element does not match the schema"
    missing = fails(env, "GetItem", TableName="Nope", Key={"UserId": {"S": "a"}})
    assert (missing.code, missing.message) == ("ResourceNotFoundException", "Requested resource not found")
    assert ddb(env, "Scan", TableName=table)["Count"] == 0


def test_batches_write_and_read_many_items(env, table):
    puts = [{"PutRequest": {"Item": {**key("bob", g), "Score": {"N": str(i)}}}} for i, g in enumerate("ABC")]
    assert ddb(env, "BatchWriteItem", RequestItems={table: puts}) == {"UnprocessedItems": {}}
    got = ddb(
        env,
        "BatchGetItem",
        RequestItems={
            table: {
                "Keys": [key("bob", "A"), key("bob", "C"), key("bob", "Z")],
                "ProjectionExpression": "Score",
            }
        },
    )
    assert sorted(i["Score"]["N"] for i in got["Responses"][table]) == ["0", "2"]
    ddb(env, "BatchWriteItem", RequestItems={table: [{"DeleteRequest": {"Key": key("bob", "A")}}]})
    assert ddb(env, "Scan", TableName=table)["Count"] == 2
    dup = fails(env, "BatchWriteItem", RequestItems={table: [puts[1], puts[1]]})
    assert dup.message == "Provided list of item keys contains duplicates"


OWN_ITEMS = {
    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]},
}


def test_each_user_reads_and_writes_only_their_own_items(env, table):
    """The documented fine-grained policy: the partition key must be the caller's own id (aws:userid)."""
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
               "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"]  # fmt: skip
    player = env.role_session("Player", allow(actions, TABLE_ARN, Condition=OWN_ITEMS), session_name="p1")
    me = player.principal_id  # AROA...:p1
    ddb(env, "PutItem", TableName=table, Item=key("someone-else", "Chess"))
    ddb(env, "PutItem", caller=player, TableName=table, Item={**key(me, "Chess"), "Score": {"N": "7"}})
    assert ddb(env, "GetItem", caller=player, TableName=table, Key=key(me, "Chess"))["Item"]["Score"] == {
        "N": "7"
    }
    mine = ddb(
        env, "Query", caller=player, TableName=table, KeyConditionExpression="UserId = :me",
        ExpressionAttributeValues={":me": {"S": me}},
    )  # fmt: skip
    assert mine["Count"] == 1

    for op, params in [
        ("GetItem", dict(Key=key("someone-else", "Chess"))),
        ("PutItem", dict(Item=key("someone-else", "Go"))),
        ("DeleteItem", dict(Key=key("someone-else", "Chess"))),
        ("UpdateItem", dict(Key=key("someone-else", "Chess"))),
        (
            "Query",
            dict(
                KeyConditionExpression="UserId = :u", ExpressionAttributeValues={":u": {"S": "someone-else"}}
            ),
        ),
        ("Scan", {}),
    ]:
        err = env.denied(player, "dynamodb", op, TableName=table, **params)
        assert err.code == "AccessDenied" and f"dynamodb:{op} on resource: {TABLE_ARN}" in err.message, op
    # A batch naming one foreign key among its own is refused whole.
    err = env.denied(
        player,
        "dynamodb",
        "BatchGetItem",
        RequestItems={table: {"Keys": [key(me, "Chess"), key("someone-else", "Chess")]}},
    )
    assert "dynamodb:BatchGetItem" in err.message
    err = env.denied(
        player,
        "dynamodb",
        "BatchWriteItem",
        RequestItems={table: [{"PutRequest": {"Item": key("someone-else", "X")}}]},
    )
    assert "dynamodb:BatchWriteItem" in err.message
    assert ddb(env, "GetItem", TableName=table, Key=key("someone-else", "Go")) == {}  # nothing was written


def test_attribute_select_and_return_values_conditions(env, table):
    """The documented attribute policy: only some attributes, never whole items, no old values returned."""
    ddb(
        env,
        "PutItem",
        TableName=table,
        Item={**key("carol", "Chess"), "Score": {"N": "3"}, "Secret": {"S": "x"}},
    )
    condition = {
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["UserId", "GameTitle", "Score"]},
        "StringEqualsIfExists": {
            "dynamodb:Select": "SPECIFIC_ATTRIBUTES",
            "dynamodb:ReturnValues": ["NONE", "UPDATED_NEW"],
        },
    }
    actions = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem"]
    reader = env.user("reader", allow(actions, TABLE_ARN, Condition=condition))
    got = ddb(
        env,
        "GetItem",
        caller=reader,
        TableName=table,
        Key=key("carol", "Chess"),
        ProjectionExpression="Score",
    )
    assert got["Item"] == {"Score": {"N": "3"}}
    ddb(
        env, "UpdateItem", caller=reader, TableName=table, Key=key("carol", "Chess"),
        UpdateExpression="SET Score = :s", ExpressionAttributeValues={":s": {"N": "4"}}, ReturnValues="UPDATED_NEW",
    )  # fmt: skip
    for op, params in [
        ("GetItem", dict(Key=key("carol", "Chess"))),  # whole item: Select ALL_ATTRIBUTES
        ("GetItem", dict(Key=key("carol", "Chess"), ProjectionExpression="Secret")),
        ("PutItem", dict(Item={**key("carol", "Go"), "Secret": {"S": "y"}})),
        (
            "UpdateItem",
            dict(
                Key=key("carol", "Chess"),
                UpdateExpression="SET Score = :s",
                ExpressionAttributeValues={":s": {"N": "5"}},
                ReturnValues="ALL_OLD",
            ),
        ),  # fmt: skip
        (
            "Query",
            dict(
                KeyConditionExpression="UserId = :u",
                ExpressionAttributeValues={":u": {"S": "carol"}},
                Select="ALL_ATTRIBUTES",
            ),
        ),
    ]:
        err = env.denied(reader, "dynamodb", op, TableName=table, **params)
        assert err.code == "AccessDenied", (op, params)
    assert ddb(env, "GetItem", TableName=table, Key=key("carol", "Chess"))["Item"]["Score"] == {"N": "4"}
