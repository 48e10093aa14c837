"""Where DynamoDB keeps tables and items: store documents, so SQLite and PostgreSQL hold them alike.

Kinds:
  dynamodb-table          {region, TableName, TableId, KeySchema, AttributeDefinitions, ...}, named by a
                          digest of (region, name): table names are case-sensitive, document names are not
  dynamodb-item:<TableId> {Key, Item}: one per item, named by a digest of its key; the kind carries the
                          table's id, so a table's items list in one query and a table created again under
                          the same name starts empty
Binaries are kept as base64 text (values.stored); items are read back with values.loaded.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rolecall.services.dynamodb import values as v
from rolecall.services.dynamodb.values import Item
from rolecall.store import Tx

TABLE = "dynamodb-table"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:40]


def table_name_key(region: str, name: str) -> str:
    return _digest(region, name)


def item_kind(table: dict[str, Any]) -> str:
    return f"dynamodb-item:{table['TableId']}"


def key_schema(table: dict[str, Any], index: str | None = None) -> tuple[str, str | None]:
    """(partition key name, sort key name or None) of the table or one of its indexes."""
    schema = table["KeySchema"] if index is None else find_index(table, index)["KeySchema"]
    hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


def find_index(table: dict[str, Any], name: str) -> dict[str, Any]:
    for index in table.get("GlobalSecondaryIndexes", []) + table.get("LocalSecondaryIndexes", []):
        if index["IndexName"] == name:
            return index
    raise KeyError(name)


def item_name(table: dict[str, Any], key: Item) -> str:
    hash_key, range_key = key_schema(table)
    parts = [v.type_of(key[hash_key]), v.key_text(key[hash_key])]
    if range_key is not None:
        parts += [v.type_of(key[range_key]), v.key_text(key[range_key])]
    return _digest(*parts)


def get_table(tx: Tx, account: str, region: str, name: str) -> dict[str, Any] | None:
    return tx.get(account, TABLE, table_name_key(region, name))


def tables(tx: Tx, account: str, region: str) -> list[dict[str, Any]]:
    return sorted((t for t in tx.list(account, TABLE) if t["region"] == region), key=lambda t: t["TableName"])


def get_item(tx: Tx, account: str, table: dict[str, Any], key: Item) -> Item | None:
    doc = tx.get(account, item_kind(table), item_name(table, key))
    return None if doc is None else v.loaded(doc["Item"])


def put_item(tx: Tx, account: str, table: dict[str, Any], key: Item, item: Item, existed: bool) -> None:
    name = item_name(table, key)
    doc = {"Item": v.stored(item)}
    if existed:
        tx.update(account, item_kind(table), name, doc)
    else:
        tx.insert(account, item_kind(table), name, doc)


def delete_item(tx: Tx, account: str, table: dict[str, Any], key: Item) -> None:
    tx.delete(account, item_kind(table), item_name(table, key))


def items(tx: Tx, account: str, table: dict[str, Any]) -> list[Item]:
    return [v.loaded(doc["Item"]) for doc in tx.list(account, item_kind(table))]


def drop_items(tx: Tx, account: str, table: dict[str, Any]) -> None:
    for doc in items(tx, account, table):
        key = {name: doc[name] for name in key_schema(table) if name is not None}
        delete_item(tx, account, table, key)
