"""A real server for the S3 end-to-end tests (in process, so that tests can move its clock), and a fresh
bucket."""

from __future__ import annotations

import uuid

import pytest

from tests.servers import InProcessServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("s3")).start()
    yield s
    s.stop()


@pytest.fixture
def s3(srv):
    return srv.client("s3")


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
