"""A bucket of the account, for the S3 unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def bucket(env) -> str:
    env.invoke("s3", "CreateBucket", Bucket="reports")
    return "reports"
