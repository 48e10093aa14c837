"""Amazon DynamoDB (json protocol 1.0, DynamoDB_20120810): tables (tables), items (items), Query and Scan
(reads), the expression language (expressions), attribute values (values), key checks (keys), where tables
and items are kept (store), and what each operation is authorized on with DynamoDB's fine-grained condition
keys (access)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.dynamodb.items import ItemOperations
from rolecall.services.dynamodb.reads import ReadOperations
from rolecall.services.dynamodb.tables import TableOperations


class DynamoDB(Service):
    name = "dynamodb"
    model = "dynamodb"
    families = (TableOperations, ItemOperations, ReadOperations)


__all__ = ["DynamoDB"]
