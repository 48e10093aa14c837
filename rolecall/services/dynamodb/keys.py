"""Checking the keys and items a request names against the table's key schema, with DynamoDB's messages."""

from __future__ import annotations

from typing import Any

from rolecall.services.dynamodb import store
from rolecall.services.dynamodb import values as v
from rolecall.services.dynamodb.errors import ValidationException, invalid
from rolecall.services.dynamodb.values import Item

SCHEMA_MISMATCH = "The provided key element does not match the schema"


def attribute_types(table: dict[str, Any]) -> dict[str, str]:
    return {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}


def key_names(table: dict[str, Any], index: str | None = None) -> list[str]:
    return [name for name in store.key_schema(table, index) if name is not None]


def checked_key(table: dict[str, Any], key: dict[str, Any]) -> Item:
    """A Key member: exactly the table's key attributes, of their types, not empty."""
    names = key_names(table)
    types = attribute_types(table)
    if set(key) != set(names):
        raise ValidationException(SCHEMA_MISMATCH)
    out = v.checked_item(key)
    for name in names:
        if v.type_of(out[name]) != types[name]:
            raise ValidationException(SCHEMA_MISMATCH)
        _not_empty(out[name], name)
    return out


def checked_item(table: dict[str, Any], item: dict[str, Any]) -> Item:
    """An Item member: every key attribute present with its type; index keys, where present, of theirs."""
    out = v.checked_item(item)
    types = attribute_types(table)
    for name in key_names(table):
        if name not in out:
            raise invalid(f"Missing the key {name} in the item")
        actual = v.type_of(out[name])
        if actual != types[name]:
            raise invalid(f"Type mismatch for key {name} expected: {types[name]} actual: {actual}")
        _not_empty(out[name], name)
    for index in table.get("GlobalSecondaryIndexes", []) + table.get("LocalSecondaryIndexes", []):
        for element in index["KeySchema"]:
            name = element["AttributeName"]
            if name in out and v.type_of(out[name]) != types[name]:
                raise invalid(
                    f"Type mismatch for Index Key {name} Expected: {types[name]} "
                    f"Actual: {v.type_of(out[name])} IndexName: {index['IndexName']}"
                )
            if name in out:
                _not_empty(out[name], name, index["IndexName"])
    if v.item_bytes(out) > v.MAX_ITEM_BYTES:
        raise ValidationException("Item size has exceeded the maximum allowed size")
    return out


def _not_empty(value: v.Value, name: str, index: str | None = None) -> None:
    kind = v.type_of(value)
    if kind in ("S", "B") and len(value[kind]) == 0:
        what = "string" if kind == "S" else "binary"
        where = f"IndexName: {index}, IndexKey: {name}" if index else f"Key: {name}"
        raise ValidationException(
            f"One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
            f"contain an empty {what} value. {where}"
        )


def key_of(table: dict[str, Any], item: Item, index: str | None = None) -> Item:
    """The table's key attributes of an item (and the index's, for an index's LastEvaluatedKey)."""
    names = key_names(table) + (key_names(table, index) if index else [])
    return {name: item[name] for name in dict.fromkeys(names) if name in item}


def in_index(table: dict[str, Any], index: str, item: Item) -> bool:
    """Whether an item appears in an index: it has every key attribute of the index."""
    return all(name in item for name in key_names(table, index))


def index_view(table: dict[str, Any], index: str, item: Item) -> Item:
    """The attributes of an item an index holds (its projection)."""
    projection = store.find_index(table, index)["Projection"]
    kind = projection["ProjectionType"]
    if kind == "ALL":
        return item
    kept = set(key_names(table)) | set(key_names(table, index))
    if kind == "INCLUDE":
        kept |= set(projection["NonKeyAttributes"])
    return {name: value for name, value in item.items() if name in kept}
