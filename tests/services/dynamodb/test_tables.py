"""DynamoDB tables in process: create, describe, list, delete, their validation, and the table ARNs they are
authorized on."""

from __future__ import annotations

import pytest

from rolecall.errors import AwsError
from tests.services.conftest import ACCOUNT, START, allow

ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/"
SIMPLE = dict(
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
)


def ddb(env, op: str, caller=None, **params):
    return env.invoke("dynamodb", op, caller=caller, **params)


def test_tables_are_created_described_listed_and_deleted(env):
    created = ddb(
        env, "CreateTable", TableName="Orders", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2},
        **SIMPLE,
    )["TableDescription"]  # fmt: skip
    assert (created["TableStatus"], created["TableArn"], created["ItemCount"]) == (
        "CREATING",
        ARN + "Orders",
        0,
    )
    assert created["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    ddb(env, "CreateTable", TableName="Audit", BillingMode="PAY_PER_REQUEST", **SIMPLE)
    ddb(env, "PutItem", TableName="Orders", Item={"id": {"S": "o-1"}, "total": {"N": "12"}})
    table = ddb(env, "DescribeTable", TableName="Orders")["Table"]
    assert (table["TableStatus"], table["ItemCount"], table["CreationDateTime"]) == ("ACTIVE", 1, START)
    assert table["TableSizeBytes"] > 0 and table["TableId"] == created["TableId"]
    assert ddb(env, "ListTables")["TableNames"] == ["Audit", "Orders"]
    page = ddb(env, "ListTables", Limit=1)
    assert page == {"TableNames": ["Audit"], "LastEvaluatedTableName": "Audit"}
    assert ddb(env, "ListTables", ExclusiveStartTableName="Audit")["TableNames"] == ["Orders"]
    with pytest.raises(AwsError) as exists:
        ddb(env, "CreateTable", TableName="Orders", BillingMode="PAY_PER_REQUEST", **SIMPLE)
    assert (exists.value.code, exists.value.message) == (
        "ResourceInUseException",
        "Table already exists: Orders",
    )

    assert ddb(env, "DeleteTable", TableName="Orders")["TableDescription"]["TableStatus"] == "DELETING"
    with pytest.raises(AwsError) as gone:
        ddb(env, "DescribeTable", TableName="Orders")
    assert (gone.value.code, gone.value.message) == (
        "ResourceNotFoundException",
        "Requested resource not found: Table: Orders not found",
    )
    # A table created again under the name starts empty.
    ddb(env, "CreateTable", TableName="Orders", BillingMode="PAY_PER_REQUEST", **SIMPLE)
    assert ddb(env, "Scan", TableName="Orders")["Items"] == []


def test_bad_table_definitions_are_refused(env):
    cases = [
        (
            dict(
                AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "S"}],
                KeySchema=SIMPLE["KeySchema"],
                BillingMode="PAY_PER_REQUEST",
            ),
            "One or more parameter values were invalid: Some index key attributes are not defined in "
            "AttributeDefinitions. Keys: [id], AttributeDefinitions: [x]",
        ),
        (
            dict(
                AttributeDefinitions=[
                    *SIMPLE["AttributeDefinitions"],
                    {"AttributeName": "x", "AttributeType": "S"},
                ],
                KeySchema=SIMPLE["KeySchema"],
                BillingMode="PAY_PER_REQUEST",
            ),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match "
            "number of attributes defined in AttributeDefinitions",
        ),
        (
            dict(SIMPLE),  # PROVISIONED is the default billing mode
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be "
            "specified when BillingMode is PROVISIONED",
        ),
    ]
    for params, message in cases:
        with pytest.raises(AwsError) as bad:
            ddb(env, "CreateTable", TableName="Bad", **params)
        assert (bad.value.code, bad.value.message) == ("ValidationException", message)
    assert ddb(env, "ListTables")["TableNames"] == []


def test_a_user_allowed_one_table_is_refused_the_others(env):
    ddb(env, "CreateTable", TableName="Secret", BillingMode="PAY_PER_REQUEST", **SIMPLE)
    dev = env.user("dev", allow("dynamodb:*", ARN + "Mine"))
    ddb(env, "CreateTable", caller=dev, TableName="Mine", BillingMode="PAY_PER_REQUEST", **SIMPLE)
    ddb(env, "DescribeTable", caller=dev, TableName="Mine")
    for op, params in [
        ("CreateTable", dict(TableName="Other", BillingMode="PAY_PER_REQUEST", **SIMPLE)),
        ("DescribeTable", dict(TableName="Secret")),
        ("DeleteTable", dict(TableName="Secret")),
        ("ListTables", {}),  # authorized on "*": a policy naming tables does not allow it
    ]:
        err = env.denied(dev, "dynamodb", op, **params)
        resource = ARN + params["TableName"] if "TableName" in params else "*"
        assert err.message.startswith(
            f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: dynamodb:{op} on resource: {resource}"
        ), err.message
    assert ddb(env, "ListTables")["TableNames"] == ["Mine", "Secret"]
