"""Query and Scan in process: key conditions, sort order, filters, pages, secondary indexes (authorized on
their index ARN), and their validation."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, allow

TABLE = "Scores"
ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"


def ddb(env, op: str, caller=None, **params):
    return env.invoke("dynamodb", op, caller=caller, **params)


@pytest.fixture
def table(env) -> str:
    ddb(
        env,
        "CreateTable",
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "player", "AttributeType": "S"},
            {"AttributeName": "day", "AttributeType": "N"},
            {"AttributeName": "game", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "player", "KeyType": "HASH"},
            {"AttributeName": "day", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byGame",
                "KeySchema": [
                    {"AttributeName": "game", "KeyType": "HASH"},
                    {"AttributeName": "day", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    rows = [("ann", 1, "chess", 10), ("ann", 2, "go", 30), ("ann", 10, "chess", 20), ("ben", 1, "chess", 5)]
    for player, day, game, score in rows:
        item = {
            "player": {"S": player},
            "day": {"N": str(day)},
            "game": {"S": game},
            "score": {"N": str(score)},
        }
        ddb(env, "PutItem", TableName=TABLE, Item=item)
    return TABLE


def days(result) -> list[int]:
    return [int(i["day"]["N"]) for i in result["Items"]]


def test_query_reads_one_partition_in_sort_key_order(env, table):
    values = {":p": {"S": "ann"}}
    assert days(
        ddb(
            env,
            "Query",
            TableName=table,
            KeyConditionExpression="player = :p",
            ExpressionAttributeValues=values,
        )
    ) == [1, 2, 10]
    backwards = ddb(
        env, "Query", TableName=table, KeyConditionExpression="player = :p", ExpressionAttributeValues=values,
        ScanIndexForward=False,
    )  # fmt: skip
    assert days(backwards) == [10, 2, 1]
    ranged = ddb(
        env, "Query", TableName=table, KeyConditionExpression="player = :p AND #d BETWEEN :lo AND :hi",
        ExpressionAttributeNames={"#d": "day"}, ExpressionAttributeValues={**values, ":lo": {"N": "2"}, ":hi": {"N": "10"}},
    )  # fmt: skip
    assert days(ranged) == [2, 10]
    filtered = ddb(
        env, "Query", TableName=table, KeyConditionExpression="player = :p", FilterExpression="score >= :s",
        ExpressionAttributeValues={**values, ":s": {"N": "20"}}, Limit=2,
    )  # fmt: skip
    assert (days(filtered), filtered["Count"], filtered["ScannedCount"]) == ([2], 1, 2)
    rest = ddb(
        env, "Query", TableName=table, KeyConditionExpression="player = :p", FilterExpression="score >= :s",
        ExpressionAttributeValues={**values, ":s": {"N": "20"}}, Limit=2, ExclusiveStartKey=filtered["LastEvaluatedKey"],
    )  # fmt: skip
    assert days(rest) == [10] and "LastEvaluatedKey" not in rest
    counted = ddb(
        env,
        "Query",
        TableName=table,
        KeyConditionExpression="player = :p",
        ExpressionAttributeValues=values,
        Select="COUNT",
    )
    assert counted["Count"] == 3 and "Items" not in counted


def test_query_of_an_index_and_scans(env, table):
    chess = ddb(
        env, "Query", TableName=table, IndexName="byGame", KeyConditionExpression="game = :g",
        ExpressionAttributeValues={":g": {"S": "chess"}},
    )  # fmt: skip
    assert days(chess) == [1, 1, 10]  # in the index's sort key order
    assert sorted((i["player"]["S"], int(i["day"]["N"])) for i in chess["Items"]) == [
        ("ann", 1),
        ("ann", 10),
        ("ben", 1),
    ]
    assert all("score" not in i for i in chess["Items"])  # KEYS_ONLY
    everything = ddb(env, "Scan", TableName=table)
    assert everything["Count"] == 4
    pages, start = [], None
    while True:
        params = {"ExclusiveStartKey": start} if start else {}
        page = ddb(env, "Scan", TableName=table, Limit=3, **params)
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert [len(p) for p in pages] == [3, 1]
    segments = [ddb(env, "Scan", TableName=table, Segment=s, TotalSegments=2)["Count"] for s in (0, 1)]
    assert sum(segments) == 4
    high = ddb(
        env,
        "Scan",
        TableName=table,
        FilterExpression="score > :s",
        ExpressionAttributeValues={":s": {"N": "15"}},
    )
    assert sorted(days(high)) == [2, 10]


def test_bad_queries_are_refused(env, table):
    cases = [
        (dict(KeyConditionExpression="day = :d", ExpressionAttributeValues={":d": {"N": "1"}}),
         "Query condition missed key schema element: player"),
        (dict(KeyConditionExpression="player = :p OR day = :d", ExpressionAttributeValues={":p": {"S": "a"}, ":d": {"N": "1"}}),
         "Invalid operator used in KeyConditionExpression: OR"),
        (dict(IndexName="nope", KeyConditionExpression="player = :p", ExpressionAttributeValues={":p": {"S": "a"}}),
         "The table does not have the specified index: nope"),
        (dict(KeyConditionExpression="player = :p", ExpressionAttributeValues={":p": {"S": "a"}, ":x": {"S": "b"}}),
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"),
        ({}, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."),
    ]  # fmt: skip
    for params, message in cases:
        with pytest.raises(AwsError) as bad:
            ddb(env, "Query", TableName=table, **params)
        assert (bad.value.code, bad.value.message) == ("ValidationException", message)


def test_an_index_is_authorized_on_its_own_arn(env, table):
    """A policy allowing the table does not allow its indexes: those are .../table/NAME/index/INDEX."""
    reader = env.user("reader", allow(["dynamodb:Query", "dynamodb:Scan"], ARN))
    ddb(env, "Scan", caller=reader, TableName=table)
    for op, params in [
        ("Query", dict(KeyConditionExpression="game = :g", ExpressionAttributeValues={":g": {"S": "go"}})),
        ("Scan", {}),
    ]:
        err = env.denied(reader, "dynamodb", op, TableName=table, IndexName="byGame", **params)
        assert f"dynamodb:{op} on resource: {ARN}/index/byGame" in err.message
    both = env.user("both", allow("dynamodb:Query", [ARN, f"{ARN}/index/*"]))
    got = ddb(
        env, "Query", caller=both, TableName=table, IndexName="byGame", KeyConditionExpression="game = :g",
        ExpressionAttributeValues={":g": {"S": "go"}},
    )  # fmt: skip
    assert days(got) == [2]
