"""What DynamoDB's operations are authorized on, and the condition keys of fine-grained access control.

Resources: arn:aws:dynamodb:R:A:table/NAME, and .../table/NAME/index/INDEX for a Query or Scan of an index.

Condition keys (DynamoDB Developer Guide, "Using IAM policy conditions for fine-grained access control"):
  dynamodb:LeadingKeys  the partition key values the request reads or writes (multi-valued; absent for a
                        Scan, so policies restricting it allow GetItem/Query/..., not Scan)
  dynamodb:Attributes   the top-level attribute names the request reads or writes: a projection's names,
                        a written item's names, an update's key and target names (multi-valued; absent
                        when a read names none, which then reads them all)
  dynamodb:Select       Query/Scan's Select; otherwise what a read asks for: SPECIFIC_ATTRIBUTES with a
                        projection, ALL_ATTRIBUTES without -- so the documented attribute policy
                        (StringEqualsIfExists dynamodb:Select SPECIFIC_ATTRIBUTES) refuses reading whole items
  dynamodb:ReturnValues the ReturnValues member of PutItem, UpdateItem and DeleteItem, when given
The keys are computed from the request before the handler runs; a request too malformed to compute them
is refused by its handler's validation anyway.
"""

from __future__ import annotations

from typing import Any

from rolecall.core.context import OpContext, Params
from rolecall.services.dynamodb import expressions as ex
from rolecall.services.dynamodb import store
from rolecall.services.dynamodb import values as v
from rolecall.services.dynamodb.errors import ValidationException


def table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def table_resource(ctx: OpContext, params: Params) -> str:
    return table_arn(ctx.region, ctx.account, params["TableName"])


def read_resource(ctx: OpContext, params: Params) -> str:
    """Query and Scan: the index's ARN when they read an index, else the table's."""
    arn = table_resource(ctx, params)
    return f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn


def batch_resources(ctx: OpContext, params: Params) -> list[str]:
    return [table_arn(ctx.region, ctx.account, name) for name in params.get("RequestItems") or {}]


def _table(ctx: OpContext, name: str) -> dict[str, Any] | None:
    return store.get_table(ctx.tx, ctx.account, ctx.region, name)


def _leading(table: dict[str, Any], key: dict[str, Any] | None, index: str | None = None) -> list[str]:
    hash_key, _ = store.key_schema(table, index)
    value = (key or {}).get(hash_key)
    if not isinstance(value, dict) or len(value) != 1:
        return []
    return [v.key_text(value)]


def _projection(params: dict[str, Any]) -> list[str] | None:
    """Top-level names a read projects, or None when it reads whole items."""
    if params.get("ProjectionExpression"):
        try:
            return ex.top_level(ex.parse_projection(params["ProjectionExpression"], _names(params)))
        except ValidationException:
            return None
    if params.get("AttributesToGet"):
        return list(params["AttributesToGet"])
    return None


def _names(params: dict[str, Any]) -> ex.Names:
    """Placeholders for computing keys: values are not needed and are not validated here."""
    return ex.Names(dict(params.get("ExpressionAttributeNames") or {}), {})


def _read_keys(
    context: dict[str, Any], params: dict[str, Any], leading: list[str], select: str | None = None
) -> None:
    if leading:
        context["dynamodb:LeadingKeys"] = leading
    projected = _projection(params)
    if projected:
        context["dynamodb:Attributes"] = projected
    context["dynamodb:Select"] = select or ("SPECIFIC_ATTRIBUTES" if projected else "ALL_ATTRIBUTES")


def get_context(ctx: OpContext, params: Params) -> dict[str, Any]:
    table = _table(ctx, params["TableName"])
    context: dict[str, Any] = {}
    _read_keys(context, params, _leading(table, params.get("Key")) if table else [])
    return context


def write_context(ctx: OpContext, params: Params) -> dict[str, Any]:
    """PutItem, UpdateItem, DeleteItem."""
    table = _table(ctx, params["TableName"])
    context: dict[str, Any] = {}
    if params.get("ReturnValues"):
        context["dynamodb:ReturnValues"] = params["ReturnValues"]
    if table is None:
        return context
    if "Item" in params:
        context["dynamodb:LeadingKeys"] = _leading(table, params["Item"])
        context["dynamodb:Attributes"] = list(params["Item"])
        return context
    key = params.get("Key") or {}
    context["dynamodb:LeadingKeys"] = _leading(table, key)
    names = list(key)
    if params.get("UpdateExpression"):
        try:
            actions = ex.parse_update(params["UpdateExpression"], _placeholder_names(params))
        except ValidationException:
            actions = []
        names += ex.top_level([a[1] for a in actions])
    context["dynamodb:Attributes"] = list(dict.fromkeys(names))
    return context


def _placeholder_names(params: dict[str, Any]) -> ex.Names:
    """Names and values for parsing an update expression only to learn the paths it writes."""
    values = {k: {"NULL": True} for k in params.get("ExpressionAttributeValues") or {}}
    return ex.Names(dict(params.get("ExpressionAttributeNames") or {}), values)


def query_context(ctx: OpContext, params: Params) -> dict[str, Any]:
    table = _table(ctx, params["TableName"])
    context: dict[str, Any] = {}
    leading: list[str] = []
    if table is not None and params.get("KeyConditionExpression"):
        try:
            index = params.get("IndexName")
            hash_key, _ = store.key_schema(table, index)
            names = ex.Names(dict(params.get("ExpressionAttributeNames") or {}), {})
            names.values = {
                k: v.checked(x) for k, x in (params.get("ExpressionAttributeValues") or {}).items()
            }
            node = ex.parse_condition(params["KeyConditionExpression"], "KeyConditionExpression", names)
            leading = [v.key_text(value) for value in _equalities(node, hash_key)]
        except (ValidationException, KeyError):
            leading = []
    _read_keys(context, params, leading, params.get("Select"))
    return context


def _equalities(node: ex.Node, name: str) -> list[v.Value]:
    """The values a key condition requires attribute `name` to equal."""
    if node[0] == "and":
        return _equalities(node[1], name) + _equalities(node[2], name)
    if node[0] == "cmp" and node[1] == "=":
        sides = (node[2], node[3])
        for one, other in (sides, sides[::-1]):
            if one == ("path", (name,)) and other[0] == "value":
                return [other[1]]
    return []


def scan_context(ctx: OpContext, params: Params) -> dict[str, Any]:
    context: dict[str, Any] = {}
    _read_keys(context, params, [], params.get("Select"))
    return context


def batch_get_context(ctx: OpContext, params: Params) -> dict[str, Any]:
    """The keys of every table a BatchGetItem reads, together (a policy's conditions see them all)."""
    context: dict[str, Any] = {}
    leading: list[str] = []
    attributes: list[str] = []
    whole = False
    for name, request in (params.get("RequestItems") or {}).items():
        table = _table(ctx, name)
        if table is not None:
            for key in request.get("Keys") or []:
                leading += _leading(table, key)
        projected = _projection(request)
        whole = whole or not projected
        attributes += projected or []
    if leading:
        context["dynamodb:LeadingKeys"] = list(dict.fromkeys(leading))
    if attributes:
        context["dynamodb:Attributes"] = list(dict.fromkeys(attributes))
    context["dynamodb:Select"] = "ALL_ATTRIBUTES" if whole else "SPECIFIC_ATTRIBUTES"
    return context


def batch_write_context(ctx: OpContext, params: Params) -> dict[str, Any]:
    context: dict[str, Any] = {}
    leading: list[str] = []
    attributes: list[str] = []
    for name, requests in (params.get("RequestItems") or {}).items():
        table = _table(ctx, name)
        if table is None:
            continue
        for request in requests:
            put, delete = request.get("PutRequest"), request.get("DeleteRequest")
            shown = (put or {}).get("Item") or (delete or {}).get("Key") or {}
            leading += _leading(table, shown)
            attributes += list(shown)
    if leading:
        context["dynamodb:LeadingKeys"] = list(dict.fromkeys(leading))
    if attributes:
        context["dynamodb:Attributes"] = list(dict.fromkeys(attributes))
    return context
