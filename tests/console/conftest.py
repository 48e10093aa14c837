"""The console tests' account: one user, ann, with a console password (test_console.PASSWORD)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.conftest import Harness

PASSWORD = "Correct-Horse-9!"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    h.call("CreateUser", UserName="ann")
    h.call("CreateLoginProfile", UserName="ann", Password=PASSWORD)
    yield h
    h.close()
