"""In-process harness for the services' unit tests: every call goes through the pipeline, as a client's would.

`Harness.invoke(service, op, caller=..., **params)` runs one operation with Pipeline.invoke -- the model's
validation, the service's admission, the member guard, the authorizer, the handler and the trail -- on a real
SQLite store, with a fake clock, without HTTP or signatures. The caller is the account's root unless a test
passes a user (`user_caller`) or a role session (`role_session`) with the policies it wants them to have;
`denied()` expects the service's refusal. Tests pass only model-valid params, as the wire layer would.

Fixtures: `env` (the harness), `call` (IAM as root: `call("CreateRole", RoleName=...)`), `iam_env` (the same
harness, under the name the IAM tests have always used).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolecall import ids
from rolecall.app import build_pipeline
from rolecall.authn import root_caller, session_caller, user_caller
from rolecall.clock import FakeClock
from rolecall.core.config import ServerConfig
from rolecall.core.context import Caller, OpContext
from rolecall.core.operations import Service
from rolecall.credentials.secretbox import SecretBox
from rolecall.credentials.sessions import role_session
from rolecall.errors import AwsError
from rolecall.store import GLOBAL, open_store

ACCOUNT = "123456789012"
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z
# Trusts every principal of the account that its own policies allow to assume the role.
ACCOUNT_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


class Harness:
    """One account on a fresh store, served by a started pipeline with every service."""

    def __init__(self, data_dir: Path):
        self.store = open_store(data_dir=str(data_dir))
        self.clock = FakeClock(START)
        self.config = ServerConfig(
            secret_box=SecretBox(os.urandom(32)), token_box=SecretBox(os.urandom(32)), data_dir=str(data_dir)
        )
        # The account alone, without the root keys a server makes, so that nothing but the test's own
        # entities is in it (GetAccountSummary counts keys).
        with self.store.transaction() as tx:
            tx.insert(
                GLOBAL, "account", ACCOUNT, {"AccountId": ACCOUNT, "CreateDate": "2027-01-01T00:00:00Z"}
            )
        self.pipeline = build_pipeline(self.store, self.config, clock=self.clock)
        self.host = self.pipeline
        self.caller = root_caller(ACCOUNT, None)

    def close(self) -> None:
        self.pipeline.close()
        self.store.close()

    def service(self, name: str) -> Service:
        return self.pipeline.services[name]

    @property
    def iam(self) -> Service:
        return self.service("iam")

    # -- calls ----------------------------------------------------------------------------------------------

    def invoke(self, service: str, op: str, *, caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        """Run `op` of `service` as `caller` (default: the account's root); raises the AwsError a client gets."""
        return self.pipeline.invoke(caller or self.caller, service, op, params)

    def call(self, op: str, *, caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        """An IAM operation."""
        return self.invoke("iam", op, caller=caller, **params)

    def denied(self, caller: Caller, service: str, op: str, **params: Any) -> AwsError:
        """The error `caller` gets for `op`, which must be refused; the test checks it is the denial it expects."""
        with pytest.raises(AwsError) as refused:
            self.invoke(service, op, caller=caller, **params)
        return refused.value

    def context(self, op: str, tx: Any, caller: Caller | None = None, service: str = "iam") -> OpContext:
        """The context a handler of `op` would get in `tx`: to resolve what an operation declares."""
        caller = caller or self.caller
        return OpContext(
            service=service,
            operation=op,
            account=caller.account,
            region=self.config.region,
            caller=caller,
            tx=tx,
            host=self.pipeline,
            request_id=ids.request_id(),
        )

    # -- principals -----------------------------------------------------------------------------------------

    def user_caller(self, name: str, *statements: dict[str, Any]) -> Caller:
        """The Caller the pipeline would build for the existing IAM user `name`, whose inline policy
        "harness" is set to `statements` when any are given."""
        if statements:
            self.call("PutUserPolicy", UserName=name, PolicyName="harness", PolicyDocument=policy(*statements))
        return user_caller(ACCOUNT, self.call("GetUser", UserName=name)["User"], None)

    def user(self, name: str, *statements: dict[str, Any]) -> Caller:
        """A new IAM user allowed `statements` (nothing when none are given), as a caller."""
        self.call("CreateUser", UserName=name)
        return self.user_caller(name, *statements)

    def role_session(self, name: str, *statements: dict[str, Any], session_name: str = "session") -> Caller:
        """A session of a new role allowed `statements`, as the caller its temporary credentials stand for
        (what rolecall.authn makes of the session token AssumeRole would hand out)."""
        role = self.call("CreateRole", RoleName=name, AssumeRolePolicyDocument=ACCOUNT_TRUST)["Role"]
        if statements:
            self.call("PutRolePolicy", RoleName=name, PolicyName="harness", PolicyDocument=policy(*statements))
        now = self.clock.time()
        return session_caller(role_session(role, ACCOUNT, session_name, now, 3600))

    def trail(self, event_name: str) -> list[dict[str, Any]]:
        """The account's trail records of `event_name`, newest first."""
        self.pipeline.flush_trail()
        records, _ = self.store.lookup_events(
            ACCOUNT, attribute=("EventName", event_name), start=None, end=None, max_results=50, next_token=None
        )
        return records


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "data")
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def iam_env(env: Harness) -> Harness:
    return env


@pytest.fixture
def call(env: Harness):
    return env.call
