"""In-process harness for IAM handlers: a real SQLite store, the root caller of one account, a fake clock.

`call(op, **params)` runs IAM().<op>(ctx, params) in one store transaction, as the pipeline does, but
without decoding, signing or authorization (the wire layer validates input against botocore's model,
so tests pass only model-valid params).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from rolecall import ids
from rolecall.clock import FakeClock
from rolecall.core.config import ServerConfig
from rolecall.core.context import Caller, OpContext
from rolecall.credentials.secretbox import SecretBox
from rolecall.store import GLOBAL, Store, open_store

ACCOUNT = "123456789012"
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def root_caller(account: str = ACCOUNT) -> Caller:
    return Caller(account=account, arn=f"arn:aws:iam::{account}:root", type="Root", principal_id=account)


class Harness:
    def __init__(self, store: Store):
        from rolecall.pipeline import Pipeline
        from rolecall.services.iam import IAM

        self.store = store
        self.iam = IAM()
        self.clock = FakeClock(START)
        self.config = ServerConfig(secret_box=SecretBox(os.urandom(32)))
        self.host = Pipeline(store, self.config, [self.iam], clock=self.clock)
        self.caller = root_caller()
        with store.transaction() as tx:
            tx.insert(
                GLOBAL, "account", ACCOUNT, {"AccountId": ACCOUNT, "CreateDate": "2027-01-01T00:00:00Z"}
            )

    def context(self, op: str, tx: Any, caller: Caller | None = None) -> OpContext:
        caller = caller or self.caller
        return OpContext(
            service="iam",
            operation=op,
            account=caller.account,
            region=self.config.region,
            caller=caller,
            tx=tx,
            host=self.host,
            request_id=ids.request_id(),
        )

    def call(self, op: str, *, caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        handler = self.iam.handler(op)
        assert handler is not None, f"IAM has no operation {op}"
        with self.store.transaction() as tx:
            return handler(self.context(op, tx, caller), params)

    def user_caller(self, name: str) -> Caller:
        """The Caller the pipeline would build for an existing IAM user."""
        user = self.call("GetUser", UserName=name)["User"]
        return Caller(
            account=ACCOUNT,
            arn=user["Arn"],
            type="IAMUser",
            principal_id=user["UserId"],
            user_name=user["UserName"],
        )


@pytest.fixture
def iam_env(tmp_path) -> Iterator[Harness]:
    store = open_store(data_dir=str(tmp_path / "data"))
    harness = Harness(store)
    try:
        yield harness
    finally:
        harness.host.close()
        store.close()


@pytest.fixture
def call(iam_env: Harness):
    return iam_env.call
