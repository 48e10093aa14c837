"""Shared steps of the S3 end-to-end tests."""

from __future__ import annotations

import json

ACCOUNT = "123456789012"


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def status(exc) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
