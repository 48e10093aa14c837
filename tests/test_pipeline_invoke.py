"""Pipeline.invoke: one operation as a principal without HTTP, through validation, authorization and the trail."""

from __future__ import annotations

import os

import pytest

from rolecall.app import build_pipeline
from rolecall.authn import root_caller, user_caller
from rolecall.clock import FakeClock
from rolecall.core.config import ServerConfig
from rolecall.credentials.accounts import ensure_default_account
from rolecall.credentials.secretbox import SecretBox
from rolecall.errors import AccessDenied, AwsError
from rolecall.store import open_store

ACCOUNT = "123456789012"


@pytest.fixture
def pipeline(tmp_path):
    store = open_store(data_dir=str(tmp_path))
    config = ServerConfig(secret_box=SecretBox(os.urandom(32)), token_box=SecretBox(os.urandom(32)))
    ensure_default_account(store, config.secret_box, ACCOUNT)
    p = build_pipeline(store, config, clock=FakeClock(1_800_000_000.0))
    yield p
    p.close()
    store.close()


def test_root_may_and_a_user_without_policies_may_not(pipeline):
    root = root_caller(ACCOUNT, None)
    user = pipeline.invoke(root, "iam", "CreateUser", {"UserName": "dev"})["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/dev"
    dev = user_caller(ACCOUNT, user, None)
    with pytest.raises(AccessDenied, match="iam:CreateRole"):
        pipeline.invoke(dev, "iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}"})
    pipeline.flush_trail()
    records, _ = pipeline.store.lookup_events(
        ACCOUNT, attribute=("EventName", "CreateRole"), start=None, end=None, max_results=5, next_token=None
    )
    assert records and records[0]["errorCode"] == "AccessDenied"


def test_input_is_validated_against_the_model(pipeline):
    with pytest.raises(AwsError) as caught:
        pipeline.invoke(root_caller(ACCOUNT, None), "iam", "CreateUser", {"UserName": "bad name"})
    assert caught.value.code == "ValidationError"
