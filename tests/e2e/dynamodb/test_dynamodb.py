"""DynamoDB against a real server, on SQLite and on PostgreSQL: tables and items through boto3 (client and
resource layers) and the AWS CLI, DynamoDB's error shapes, and the "each user only their own items" policy."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from tests.e2e.helpers import as_key, name, new_user
from tests.servers import InProcessServer, create_pg_database, drop_pg_database, postgres_available

ACCOUNT = "123456789012"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def srv(request, tmp_path_factory):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = InProcessServer(tmp_path_factory.mktemp("dynamodb"), database_url=url).start()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


def new_table(ddb, table: str) -> None:
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "owner", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 3})


def test_tables_and_items_through_the_client(srv):
    ddb = srv.client("dynamodb")
    table = name("notes")
    new_table(ddb, table)
    assert table in ddb.list_tables()["TableNames"]
    ddb.put_item(TableName=table, Item={"owner": {"S": "ann"}, "sk": {"S": "1"}, "blob": {"B": b"\x00\xff"}})
    with pytest.raises(ClientError) as failed:
        ddb.put_item(
            TableName=table,
            Item={"owner": {"S": "ann"}, "sk": {"S": "1"}},
            ConditionExpression="attribute_not_exists(sk)",
        )
    assert failed.value.response["Error"] == {
        "Code": "ConditionalCheckFailedException",
        "Message": "The conditional request failed",
    }
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    got = ddb.get_item(TableName=table, Key={"owner": {"S": "ann"}, "sk": {"S": "1"}}, ConsistentRead=True)
    assert got["Item"]["blob"] == {"B": b"\x00\xff"}
    updated = ddb.update_item(
        TableName=table, Key={"owner": {"S": "ann"}, "sk": {"S": "1"}}, UpdateExpression="ADD #n :one",
        ExpressionAttributeNames={"#n": "views"}, ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW",
    )  # fmt: skip
    assert updated["Attributes"] == {"views": {"N": "1"}}
    ddb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": {"owner": {"S": "ann"}, "sk": {"S": s}}}} for s in "234"]
        }
    )
    batch = ddb.batch_get_item(RequestItems={table: {"Keys": [{"owner": {"S": "ann"}, "sk": {"S": "2"}}]}})
    assert batch["Responses"][table] == [{"owner": {"S": "ann"}, "sk": {"S": "2"}}]
    pages = ddb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="#o = :o", ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "ann"}}, PaginationConfig={"PageSize": 3},
    )  # fmt: skip
    assert [i["sk"]["S"] for page in pages for i in page["Items"]] == ["1", "2", "3", "4"]
    assert sum(p["Count"] for p in ddb.get_paginator("scan").paginate(TableName=table)) == 4
    ddb.delete_item(TableName=table, Key={"owner": {"S": "ann"}, "sk": {"S": "4"}})
    assert ddb.describe_table(TableName=table)["Table"]["ItemCount"] == 3
    with pytest.raises(ClientError) as bad:
        ddb.query(
            TableName=table, KeyConditionExpression="sk = :s", ExpressionAttributeValues={":s": {"S": "1"}}
        )
    assert bad.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Query condition missed key schema element: owner",
    }
    ddb.delete_table(TableName=table)
    with pytest.raises(ClientError) as gone:
        ddb.describe_table(TableName=table)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_resource_layer_round_trips_python_values(srv):
    dynamodb = srv.session().resource("dynamodb", endpoint_url=srv.url)
    table_name = name("things")
    new_table(srv.client("dynamodb"), table_name)
    table = dynamodb.Table(table_name)
    item = {
        "owner": "bob",
        "sk": "a",
        "price": Decimal("9.99"),
        "tags": {"red", "blue"},
        "meta": {"nested": [1, "two", None, True]},
    }
    table.put_item(Item=item)
    assert table.get_item(Key={"owner": "bob", "sk": "a"})["Item"] == item
    got = table.query(KeyConditionExpression=Key("owner").eq("bob") & Key("sk").begins_with("a"))
    assert got["Items"] == [item]
    table.delete()


def test_the_aws_cli_manages_tables_and_items(srv):
    if srv.database_url:
        pytest.skip(
            "the CLI's requests are the client tests' on another codec path; the store is not in question"
        )
    table = name("cli")
    srv.cli(
        "dynamodb", "create-table", "--table-name", table, "--billing-mode", "PAY_PER_REQUEST",
        "--attribute-definitions", "AttributeName=owner,AttributeType=S", "AttributeName=sk,AttributeType=S",
        "--key-schema", "AttributeName=owner,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
    )  # fmt: skip
    srv.cli(
        "dynamodb",
        "put-item",
        "--table-name",
        table,
        "--item",
        '{"owner":{"S":"cy"},"sk":{"S":"1"},"n":{"N":"2"}}',
    )
    bad = srv.cli(
        "dynamodb", "update-item", "--table-name", table, "--key", '{"owner":{"S":"cy"},"sk":{"S":"1"}}',
        "--update-expression", "SET n = n * :x", "--expression-attribute-values", '{":x":{"N":"2"}}', check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "ValidationException" in bad.stderr and "Syntax error" in bad.stderr
    queried = json.loads(
        srv.cli(
            "dynamodb", "query", "--table-name", table, "--key-condition-expression", "#o = :o",
            "--expression-attribute-names", '{"#o":"owner"}', "--expression-attribute-values", '{":o":{"S":"cy"}}',
        ).stdout
    )  # fmt: skip
    assert queried["Items"] == [
        {"owner": {"S": "cy"}, "sk": {"S": "1"}, "n": {"N": "2"}}
    ]  # the bad update changed nothing
    srv.cli("dynamodb", "delete-table", "--table-name", table)


def test_a_user_reads_only_their_own_items(srv):
    """The documented policy: dynamodb:LeadingKeys must be the caller's own name; another's item is refused
    with DynamoDB's AccessDeniedException, and the refusal is in the trail."""
    ddb = srv.client("dynamodb")
    table = name("private")
    new_table(ddb, table)
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                "Resource": arn,
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}},
            }
        ],
    }
    user, key = new_user(srv, srv.client("iam"), json.dumps(policy))
    ddb.put_item(TableName=table, Item={"owner": {"S": "someone-else"}, "sk": {"S": "diary"}})
    mine = as_key(srv, key, "dynamodb")
    mine.put_item(TableName=table, Item={"owner": {"S": user}, "sk": {"S": "diary"}})
    assert mine.get_item(TableName=table, Key={"owner": {"S": user}, "sk": {"S": "diary"}})["Item"]
    with pytest.raises(ClientError) as refused:
        mine.get_item(TableName=table, Key={"owner": {"S": "someone-else"}, "sk": {"S": "diary"}})
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: dynamodb:GetItem on resource: {arn}"
    )
    trail = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}]
    )
    denied = [json.loads(e["CloudTrailEvent"]) for e in trail["Events"] if e["EventName"] == "GetItem"]
    assert any(r.get("errorCode") == "AccessDenied" for r in denied)
