"""DynamoDB items: PutItem, GetItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem.

Every write runs in the request's transaction, so a condition expression is checked against the item as it
is when written (SQLite serializes writers; on PostgreSQL the item's row is rewritten under its lock).
Reads are strongly consistent whatever ConsistentRead says.
"""

from __future__ import annotations

from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.dynamodb import expressions as ex
from rolecall.services.dynamodb import store
from rolecall.services.dynamodb.access import (
    batch_get_context,
    batch_resources,
    batch_write_context,
    get_context,
    table_resource,
    write_context,
)
from rolecall.services.dynamodb.errors import (
    ConditionalCheckFailedException,
    ValidationException,
    invalid,
)
from rolecall.services.dynamodb.keys import checked_item, checked_key, key_names
from rolecall.services.dynamodb.tables import require_table
from rolecall.services.dynamodb.values import Item

# Legacy (pre-expression) members and reporting rolecall does not produce; NONE means what it does anyway.
LEGACY = ("Expected", "ConditionalOperator")
REPORTS: dict[str, tuple[Any, ...]] = {
    "ReturnConsumedCapacity": ("NONE",),
    "ReturnItemCollectionMetrics": ("NONE",),
    "ReturnValuesOnConditionCheckFailure": ("NONE",),
}
WRITE_UNSUPPORTED: dict[str, tuple[Any, ...]] = {name: () for name in LEGACY} | REPORTS
UPDATE_UNSUPPORTED: dict[str, tuple[Any, ...]] = WRITE_UNSUPPORTED | {"AttributeUpdates": ()}
MAX_BATCH_GET = 100
MAX_BATCH_WRITE = 25


def projection_of(params: dict[str, Any], names: ex.Names) -> list[ex.Path] | None:
    """The paths a read asks for (ProjectionExpression, or the legacy AttributesToGet), or None for all."""
    expression, legacy = params.get("ProjectionExpression"), params.get("AttributesToGet")
    if expression is not None and legacy is not None:
        raise ValidationException(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
        )
    if expression is not None:
        return ex.parse_projection(expression, names)
    if legacy is not None:
        if len(set(legacy)) != len(legacy):
            raise ValidationException(
                f"One or more parameter values were invalid: Duplicate value in attribute name: {legacy}"
            )
        return [(name,) for name in legacy]
    return None


def condition_of(params: dict[str, Any], names: ex.Names) -> ex.Node | None:
    text = params.get("ConditionExpression")
    return None if text is None else ex.parse_condition(text, "ConditionExpression", names)


def check_condition(condition: ex.Node | None, item: Item | None) -> None:
    if condition is not None and not ex.evaluate(condition, item):
        raise ConditionalCheckFailedException()


def _return_values(params: dict[str, Any], allowed: tuple[str, ...]) -> str:
    wanted = params.get("ReturnValues") or "NONE"
    if wanted not in allowed:
        raise ValidationException(
            "ReturnValues can only be ALL_OLD or NONE"
            if allowed == ("NONE", "ALL_OLD")
            else f"ReturnValues can only be one of {', '.join(allowed)}"
        )
    return wanted


class ItemOperations(Family):
    @operation(
        "dynamodb:PutItem", table_resource, write_context, trail_response=False, unsupported=WRITE_UNSUPPORTED
    )
    def PutItem(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"])
        wanted = _return_values(params, ("NONE", "ALL_OLD"))
        item = checked_item(table, params["Item"])
        names = ex.Names.of(params)
        condition = condition_of(params, names)
        names.check_all_used(params, ("ConditionExpression",))
        key = {name: item[name] for name in key_names(table)}
        old = store.get_item(ctx.tx, ctx.account, table, key)
        check_condition(condition, old)
        store.put_item(ctx.tx, ctx.account, table, key, item, existed=old is not None)
        return {"Attributes": old} if wanted == "ALL_OLD" and old else {}

    @operation(
        "dynamodb:GetItem",
        table_resource,
        get_context,
        unsupported={"ReturnConsumedCapacity": ("NONE",)},
    )
    def GetItem(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"])
        key = checked_key(table, params["Key"])
        names = ex.Names.of(params)
        paths = projection_of(params, names)
        names.check_all_used(params, ("ProjectionExpression",))
        item = store.get_item(ctx.tx, ctx.account, table, key)
        if item is None:
            return {}
        return {"Item": ex.project(item, paths) if paths is not None else item}

    @operation(
        "dynamodb:UpdateItem",
        table_resource,
        write_context,
        trail_response=False,
        unsupported=UPDATE_UNSUPPORTED,
    )
    def UpdateItem(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"])
        wanted = _return_values(params, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"))
        key = checked_key(table, params["Key"])
        names = ex.Names.of(params)
        text = params.get("UpdateExpression")
        actions = ex.parse_update(text, names) if text is not None else []
        condition = condition_of(params, names)
        names.check_all_used(params, ("UpdateExpression", "ConditionExpression"))
        for action in actions:
            if action[1][0] in key:
                raise invalid(f"Cannot update attribute {action[1][0]}. This attribute is part of the key")
        old = store.get_item(ctx.tx, ctx.account, table, key)
        check_condition(condition, old)
        new = ex.apply_update({**(old or {}), **key}, actions)
        new = checked_item(table, new)
        store.put_item(ctx.tx, ctx.account, table, key, new, existed=old is not None)
        touched = ex.top_level([a[1] for a in actions])
        if wanted == "ALL_OLD":
            return {"Attributes": old} if old else {}
        if wanted == "ALL_NEW":
            return {"Attributes": new}
        if wanted in ("UPDATED_OLD", "UPDATED_NEW"):
            source = (old or {}) if wanted == "UPDATED_OLD" else new
            shown = {name: source[name] for name in touched if name in source}
            return {"Attributes": shown} if shown else {}
        return {}

    @operation(
        "dynamodb:DeleteItem",
        table_resource,
        write_context,
        trail_response=False,
        unsupported=WRITE_UNSUPPORTED,
    )
    def DeleteItem(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"])
        wanted = _return_values(params, ("NONE", "ALL_OLD"))
        key = checked_key(table, params["Key"])
        names = ex.Names.of(params)
        condition = condition_of(params, names)
        names.check_all_used(params, ("ConditionExpression",))
        old = store.get_item(ctx.tx, ctx.account, table, key)
        check_condition(condition, old)
        if old is not None:
            store.delete_item(ctx.tx, ctx.account, table, key)
        return {"Attributes": old} if wanted == "ALL_OLD" and old else {}

    @operation(
        "dynamodb:BatchGetItem",
        batch_resources,
        batch_get_context,
        read_only=True,
        unsupported={"ReturnConsumedCapacity": ("NONE",)},
    )
    def BatchGetItem(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        requests = params["RequestItems"]
        if sum(len(r["Keys"]) for r in requests.values()) > MAX_BATCH_GET:
            raise ValidationException("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[Item]] = {}
        for name, request in requests.items():
            table = require_table(ctx, name)
            names = ex.Names.of(request)
            paths = projection_of(request, names)
            names.check_all_used(request, ("ProjectionExpression",))
            keys = [checked_key(table, key) for key in request["Keys"]]
            if len({store.item_name(table, key) for key in keys}) != len(keys):
                raise ValidationException("Provided list of item keys contains duplicates")
            found = []
            for key in keys:
                item = store.get_item(ctx.tx, ctx.account, table, key)
                if item is not None:
                    found.append(ex.project(item, paths) if paths is not None else item)
            responses[name] = found
        return {"Responses": responses, "UnprocessedKeys": {}}

    @operation(
        "dynamodb:BatchWriteItem",
        batch_resources,
        batch_write_context,
        unsupported={k: REPORTS[k] for k in ("ReturnConsumedCapacity", "ReturnItemCollectionMetrics")},
    )
    def BatchWriteItem(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        requests = params["RequestItems"]
        if sum(len(r) for r in requests.values()) > MAX_BATCH_WRITE:
            raise ValidationException("Too many items requested for the BatchWriteItem call")
        planned: list[tuple[dict[str, Any], Item, Item | None]] = []  # (table, key, item to put or None)
        for name, writes in requests.items():
            table = require_table(ctx, name)
            seen: set[str] = set()
            for write in writes:
                put, delete = write.get("PutRequest"), write.get("DeleteRequest")
                if (put is None) == (delete is None):
                    raise ValidationException(
                        "A WriteRequest must contain exactly one of PutRequest or DeleteRequest"
                    )
                if put is not None:
                    item = checked_item(table, put["Item"])
                    key = {k: item[k] for k in key_names(table)}
                else:
                    item, key = None, checked_key(table, delete["Key"])
                identity = store.item_name(table, key)
                if identity in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add(identity)
                planned.append((table, key, item))
        for table, key, item in planned:  # validated first: a bad request writes nothing
            old = store.get_item(ctx.tx, ctx.account, table, key)
            if item is not None:
                store.put_item(ctx.tx, ctx.account, table, key, item, existed=old is not None)
            elif old is not None:
                store.delete_item(ctx.tx, ctx.account, table, key)
        return {"UnprocessedItems": {}}
