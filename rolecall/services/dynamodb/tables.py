"""DynamoDB tables: CreateTable, DescribeTable, ListTables, DeleteTable.

A table is ACTIVE as soon as it is created: CreateTable answers CREATING, as DynamoDB does, and the next
DescribeTable (boto3's table_exists waiter) finds it ACTIVE. DeleteTable answers DELETING and the table and
its items are gone at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.dynamodb import store
from rolecall.services.dynamodb import values as v
from rolecall.services.dynamodb.access import table_arn, table_resource
from rolecall.services.dynamodb.errors import (
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
    invalid,
)

# Members of CreateTable rolecall's tables do not have (streams, encryption settings, table classes,
# replicas, resource policies, warm throughput, vector indexes, tags).
CREATE_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    name: ()
    for name in (
        "StreamSpecification",
        "SSESpecification",
        "Tags",
        "WarmThroughput",
        "ResourcePolicy",
        "OnDemandThroughput",
        "GlobalTableSourceArn",
        "GlobalTableSettingsReplicationMode",
        "VectorIndexes",
        "GlobalSecondaryIndexes.OnDemandThroughput",
        "GlobalSecondaryIndexes.WarmThroughput",
    )
} | {"TableClass": ("STANDARD",)}


def not_found(name: str | None = None) -> ResourceNotFoundException:
    if name is None:
        return ResourceNotFoundException("Requested resource not found")
    return ResourceNotFoundException(f"Requested resource not found: Table: {name} not found")


def require_table(ctx: OpContext, name: str, *, named: bool = False) -> dict[str, Any]:
    table = store.get_table(ctx.tx, ctx.account, ctx.region, name)
    if table is None:
        raise not_found(name if named else None)
    arn = table_arn(ctx.region, ctx.account, name)
    ctx.trail_resources.append({"ARN": arn, "accountId": ctx.account, "type": "AWS::DynamoDB::Table"})
    return table


def _key_schema(schema: list[dict[str, str]], defined: dict[str, str], what: str) -> None:
    kinds = [k["KeyType"] for k in schema]
    if kinds not in (["HASH"], ["HASH", "RANGE"]):
        if len(schema) > 2:
            raise ValidationException(
                f"1 validation error detected: Value '{schema}' at '{what}' failed to satisfy constraint: "
                "Member must have length less than or equal to 2"
            )
        raise invalid("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    missing = [k["AttributeName"] for k in schema if k["AttributeName"] not in defined]
    if missing:
        raise invalid(
            "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(defined)}]"
        )


def _throughput(billing: str, given: dict[str, int] | None, what: str = "") -> dict[str, Any]:
    if billing == "PAY_PER_REQUEST":
        if given:
            raise invalid(
                f"Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is "
                f"PAY_PER_REQUEST{what}"
            )
        return {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}
    if not given:
        raise invalid(
            f"ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED{what}"
        )
    return {
        "ReadCapacityUnits": given["ReadCapacityUnits"],
        "WriteCapacityUnits": given["WriteCapacityUnits"],
        "NumberOfDecreasesToday": 0,
    }


def _projection(projection: dict[str, Any]) -> dict[str, Any]:
    kind = projection.get("ProjectionType", "ALL") if projection else "ALL"
    if kind == "INCLUDE" and not projection.get("NonKeyAttributes"):
        raise invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    if kind != "INCLUDE" and projection.get("NonKeyAttributes"):
        raise invalid(f"ProjectionType is {kind}, but NonKeyAttributes is specified")
    out = {"ProjectionType": kind}
    if kind == "INCLUDE":
        out["NonKeyAttributes"] = list(projection["NonKeyAttributes"])
    return out


def description(ctx: OpContext, table: dict[str, Any], status: str = "ACTIVE") -> dict[str, Any]:
    """TableDescription as DescribeTable shows it (item count and size computed from the items held)."""
    arn = table_arn(table["region"], ctx.account, table["TableName"])
    held = store.items(ctx.tx, ctx.account, table) if status == "ACTIVE" else []
    out: dict[str, Any] = {
        "AttributeDefinitions": table["AttributeDefinitions"],
        "TableName": table["TableName"],
        "KeySchema": table["KeySchema"],
        "TableStatus": status,
        "CreationDateTime": table["CreationDateTime"],
        "ProvisionedThroughput": table["ProvisionedThroughput"],
        "TableSizeBytes": sum(v.item_bytes(i) for i in held),
        "ItemCount": len(held),
        "TableArn": arn,
        "TableId": table["TableId"],
        "DeletionProtectionEnabled": table.get("DeletionProtectionEnabled", False),
    }
    if table["BillingMode"] == "PAY_PER_REQUEST":
        out["BillingModeSummary"] = {
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": table["CreationDateTime"],
        }
    for member in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if table.get(member):
            out[member] = [
                {
                    **{k: i[k] for k in ("IndexName", "KeySchema", "Projection")},
                    **(
                        {"IndexStatus": status, "ProvisionedThroughput": i["ProvisionedThroughput"]}
                        if member == "GlobalSecondaryIndexes"
                        else {}
                    ),  # fmt: skip
                    "IndexArn": f"{arn}/index/{i['IndexName']}",
                    "IndexSizeBytes": 0,
                    "ItemCount": 0,
                }
                for i in table[member]
            ]
    return out


class TableOperations(Family):
    @operation("dynamodb:CreateTable", table_resource, unsupported=CREATE_UNSUPPORTED)
    def CreateTable(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TableName"]
        defined = {d["AttributeName"]: d["AttributeType"] for d in params["AttributeDefinitions"]}
        if len(defined) != len(params["AttributeDefinitions"]):
            raise invalid("Duplicate AttributeName(s) in AttributeDefinitions")
        _key_schema(params["KeySchema"], defined, "keySchema")
        billing = params.get("BillingMode") or "PROVISIONED"
        table: dict[str, Any] = {
            "region": ctx.region,
            "TableName": name,
            "TableId": str(uuid.uuid4()),
            "KeySchema": params["KeySchema"],
            "AttributeDefinitions": params["AttributeDefinitions"],
            "BillingMode": billing,
            "ProvisionedThroughput": _throughput(billing, params.get("ProvisionedThroughput")),
            "CreationDateTime": ctx.clock.time(),
            "DeletionProtectionEnabled": bool(params.get("DeletionProtectionEnabled")),
        }
        used = {k["AttributeName"] for k in params["KeySchema"]}
        hash_key = params["KeySchema"][0]["AttributeName"]
        seen: set[str] = set()
        for member in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            indexes = []
            for index in params.get(member) or []:
                if index["IndexName"] in seen:
                    raise invalid(f"Duplicate index name: {index['IndexName']}")
                seen.add(index["IndexName"])
                _key_schema(index["KeySchema"], defined, "indexKeySchema")
                if member == "LocalSecondaryIndexes" and (
                    index["KeySchema"][0]["AttributeName"] != hash_key or len(index["KeySchema"]) != 2
                ):
                    raise invalid(
                        f"Index KeySchema does not have the same leading hash key as table KeySchema for index: "
                        f"{index['IndexName']}. index hash key: {index['KeySchema'][0]['AttributeName']}, "
                        f"table hash key: {hash_key}"
                    )
                used |= {k["AttributeName"] for k in index["KeySchema"]}
                kept = {
                    "IndexName": index["IndexName"],
                    "KeySchema": index["KeySchema"],
                    "Projection": _projection(index.get("Projection") or {}),
                }
                if member == "GlobalSecondaryIndexes":
                    kept["ProvisionedThroughput"] = _throughput(
                        billing, index.get("ProvisionedThroughput"), f" (index {index['IndexName']})"
                    )
                indexes.append(kept)
            if indexes:
                table[member] = indexes
        if set(defined) != used:
            raise invalid(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in "
                "AttributeDefinitions"
            )
        if store.get_table(ctx.tx, ctx.account, ctx.region, name) is not None:
            raise ResourceInUseException(f"Table already exists: {name}")
        ctx.tx.insert(ctx.account, store.TABLE, store.table_name_key(ctx.region, name), table)
        arn = table_arn(ctx.region, ctx.account, name)
        ctx.trail_resources.append({"ARN": arn, "accountId": ctx.account, "type": "AWS::DynamoDB::Table"})
        return {"TableDescription": description(ctx, table, "CREATING")}

    @operation("dynamodb:DescribeTable", table_resource)
    def DescribeTable(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"], named=True)
        return {"Table": description(ctx, table)}

    @operation(
        "dynamodb:ListTables"
    )  # no resource type: authorized on "*", as the Service Authorization Reference lists it
    def ListTables(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        names = [t["TableName"] for t in store.tables(ctx.tx, ctx.account, ctx.region)]
        start = params.get("ExclusiveStartTableName")
        if start:
            names = [n for n in names if n > start]
        limit = params.get("Limit") or 100
        out: dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    @operation("dynamodb:DeleteTable", table_resource)
    def DeleteTable(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"], named=True)
        if table.get("DeletionProtectionEnabled"):
            raise ValidationException(
                "Resource cannot be deleted as it is currently protected against deletion. "
                "Disable deletion protection first."
            )
        shown = description(ctx, table, "DELETING")
        store.drop_items(ctx.tx, ctx.account, table)
        ctx.tx.delete(ctx.account, store.TABLE, store.table_name_key(ctx.region, table["TableName"]))
        return {"TableDescription": shown}
