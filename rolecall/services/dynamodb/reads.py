"""DynamoDB's multi-item reads: Query (one partition, in sort key order) and Scan (the whole table), of a
table or of one of its secondary indexes.

Limit counts the items evaluated, before the FilterExpression (ScannedCount vs Count); a page that stops
at Limit with more items left ends with LastEvaluatedKey, the key to pass as ExclusiveStartKey.
Scan orders items by a digest of their key (stable, like DynamoDB's hash order) and splits them into
TotalSegments segments by it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.dynamodb import expressions as ex
from rolecall.services.dynamodb import store
from rolecall.services.dynamodb import values as v
from rolecall.services.dynamodb.access import query_context, read_resource, scan_context
from rolecall.services.dynamodb.errors import ValidationException, invalid
from rolecall.services.dynamodb.items import projection_of
from rolecall.services.dynamodb.keys import in_index, index_view, key_names, key_of
from rolecall.services.dynamodb.tables import require_table
from rolecall.services.dynamodb.values import Item

REPORTS: dict[str, tuple[Any, ...]] = {"ReturnConsumedCapacity": ("NONE",)}
QUERY_UNSUPPORTED = {name: () for name in ("KeyConditions", "QueryFilter", "ConditionalOperator")} | REPORTS
SCAN_UNSUPPORTED = {name: () for name in ("ScanFilter", "ConditionalOperator")} | REPORTS


def _index(table: dict[str, Any], params: dict[str, Any]) -> str | None:
    index = params.get("IndexName")
    if index is None:
        return None
    try:
        store.find_index(table, index)
    except KeyError:
        raise ValidationException(f"The table does not have the specified index: {index}") from None
    return index


def _select(table: dict[str, Any], params: dict[str, Any], index: str | None, paths: Any) -> str:
    select = params.get("Select")
    if select is None:
        return "SPECIFIC_ATTRIBUTES" if paths is not None else (
            "ALL_PROJECTED_ATTRIBUTES" if index else "ALL_ATTRIBUTES"
        )  # fmt: skip
    if select == "SPECIFIC_ATTRIBUTES" and paths is None:
        raise ValidationException(
            "Select type SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet to be specified"
        )
    if select != "SPECIFIC_ATTRIBUTES" and paths is not None:
        raise ValidationException(f"Cannot specify the ProjectionExpression when choosing to get {select}")
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise ValidationException(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    if select == "ALL_ATTRIBUTES" and index is not None:
        gsi = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}.get(index)
        if gsi is not None and gsi["Projection"]["ProjectionType"] != "ALL":
            raise invalid(
                f"Select type ALL_ATTRIBUTES is not supported for global secondary index {index} because its "
                "projection type is not ALL"
            )
    return select


def _page(
    ctx: OpContext,
    table: dict[str, Any],
    params: dict[str, Any],
    index: str | None,
    ordered: list[Item],
    position: Callable[[Item], Any],
    names: ex.Names,
    paths: list[ex.Path] | None,
) -> dict[str, Any]:
    """One page of `ordered` items from ExclusiveStartKey, up to Limit evaluated, filtered and projected."""
    select = _select(table, params, index, paths)
    text = params.get("FilterExpression")
    keep = ex.parse_condition(text, "FilterExpression", names) if text is not None else None
    start = params.get("ExclusiveStartKey")
    if start is not None:
        if set(start) != set(_all_key_names(table, index)):
            raise ValidationException(
                "The provided starting key is invalid: The provided key element does not match the schema"
            )
        after = position(v.checked_item(start))
        ordered = [item for item in ordered if position(item) > after]
    limit = params.get("Limit")
    chosen = ordered if limit is None else ordered[:limit]
    found = [item for item in chosen if keep is None or ex.evaluate(keep, item)]
    out: dict[str, Any] = {"Count": len(found), "ScannedCount": len(chosen)}
    if select != "COUNT":
        shown = []
        for item in found:
            if index is not None and select != "ALL_ATTRIBUTES":
                item = index_view(table, index, item)
            shown.append(ex.project(item, paths) if paths is not None else item)
        out["Items"] = shown
    if limit is not None and len(ordered) > limit and chosen:
        out["LastEvaluatedKey"] = key_of(table, chosen[-1], index)
    return out


def _all_key_names(table: dict[str, Any], index: str | None) -> list[str]:
    return list(dict.fromkeys(key_names(table) + (key_names(table, index) if index else [])))


def _candidates(ctx: OpContext, table: dict[str, Any], index: str | None) -> list[Item]:
    held = store.items(ctx.tx, ctx.account, table)
    return [item for item in held if in_index(table, index, item)] if index else held


def _key_condition(text: str, names: ex.Names, hash_key: str, range_key: str | None) -> ex.Node:
    node = ex.parse_condition(text, "KeyConditionExpression", names)
    leaves: list[ex.Node] = []

    def collect(part: ex.Node) -> None:
        if part[0] == "and":
            collect(part[1])
            collect(part[2])
        elif part[0] in ("or", "not", "in"):
            raise ValidationException(f"Invalid operator used in KeyConditionExpression: {part[0].upper()}")
        else:
            leaves.append(part)

    collect(node)
    if len(leaves) > 2:
        raise ValidationException("Conditions can be of length 1 or 2 only")
    seen: dict[str, ex.Node] = {}
    for leaf in leaves:
        target: ex.Node | None = None
        if leaf[0] == "fn":
            if leaf[1] != "begins_with":
                raise ValidationException(f"Invalid operator used in KeyConditionExpression: {leaf[1]}")
            target = leaf[2][0]
        elif leaf[0] in ("cmp", "between"):
            target = leaf[2] if leaf[0] == "cmp" else leaf[1]
            if leaf[0] == "cmp" and leaf[1] == "<>":
                raise ValidationException("Unsupported operator on KeyConditionExpression: operator: <>")
        if not target or target[0] != "path" or len(target[1]) != 1:
            raise ValidationException("Query key condition not supported")
        name = target[1][0]
        if name not in (hash_key, range_key):
            raise ValidationException("Query condition missed key schema element: " + (range_key or hash_key))
        if name in seen:
            raise ValidationException("KeyConditionExpressions must only contain one condition per key")
        seen[name] = leaf
    partition = seen.get(hash_key)
    if partition is None or partition[0] != "cmp" or partition[1] != "=":
        raise ValidationException(f"Query condition missed key schema element: {hash_key}")
    between = seen.get(range_key or "")
    if between is not None and between[0] == "between":
        low, high = between[2], between[3]
        if (
            low[0] == high[0] == "value"
            and v.type_of(low[1]) == v.type_of(high[1])
            and v.sort_key(low[1]) > v.sort_key(high[1])
        ):
            raise ValidationException(
                "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater "
                f"than or equal to lower bound; lower bound operand: AttributeValue: {_show(low[1])}, "
                f"upper bound operand: AttributeValue: {_show(high[1])}"
            )
    return node


def _show(value: v.Value) -> str:
    kind = v.type_of(value)
    return "{" + f"{kind}:{v.key_text(value)}" + "}"


class ReadOperations(Family):
    @operation("dynamodb:Query", read_resource, query_context, read_only=True, unsupported=QUERY_UNSUPPORTED)
    def Query(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"])
        index = _index(table, params)
        text = params.get("KeyConditionExpression")
        if text is None:
            raise ValidationException(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
            )
        hash_key, range_key = store.key_schema(table, index)
        names = ex.Names.of(params)
        condition = _key_condition(text, names, hash_key, range_key)
        paths = projection_of(params, names)
        forward = params.get("ScanIndexForward", True)
        matching = [i for i in _candidates(ctx, table, index) if ex.evaluate(condition, i)]

        def position(item: Item) -> Any:
            within = v.sort_key(item[range_key]) if range_key and range_key in item else b""
            tie = store.item_name(table, key_of(table, item))
            return (within, tie) if forward else _Reversed((within, tie))

        matching.sort(key=position)
        out = _page(ctx, table, params, index, matching, position, names, paths)
        names.check_all_used(params, ("KeyConditionExpression", "FilterExpression", "ProjectionExpression"))
        return out

    @operation("dynamodb:Scan", read_resource, scan_context, read_only=True, unsupported=SCAN_UNSUPPORTED)
    def Scan(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        table = require_table(ctx, params["TableName"])
        index = _index(table, params)
        segment, total = params.get("Segment"), params.get("TotalSegments")
        if (segment is None) != (total is None):
            raise ValidationException(
                "The TotalSegments parameter is required but was not present in the request when Segment "
                "parameter is present" if total is None else
                "The Segment parameter is required but was not present in the request when parameter "
                "TotalSegments is present"
            )  # fmt: skip
        if segment is not None and total is not None and segment >= total:
            raise ValidationException(
                f"The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                f"Segment: {segment} is not less than TotalSegments: {total}"
            )
        names = ex.Names.of(params)
        paths = projection_of(params, names)

        def position(item: Item) -> Any:
            return store.item_name(table, key_of(table, item)), store.item_name(
                table, key_of(table, item, index)
            )

        held = _candidates(ctx, table, index)
        if total is not None:
            held = [i for i in held if int(position(i)[0][:8], 16) % total == segment]
        held.sort(key=position)
        out = _page(ctx, table, params, index, held, position, names, paths)
        names.check_all_used(params, ("FilterExpression", "ProjectionExpression"))
        return out


class _Reversed:
    """Orders in reverse: Query's ScanIndexForward=false."""

    def __init__(self, value: Any):
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(self.value > other.value)

    def __gt__(self, other: _Reversed) -> bool:
        return bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)
