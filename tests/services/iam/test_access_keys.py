"""IAM access keys, in process: creation, quota, status, last use, and keys of the caller."""

from __future__ import annotations

import json
import re

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import (
    LimitExceeded,
    NoSuchEntity,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, no_allow, raises


def test_access_keys(iam_env, checked, call):
    call("CreateUser", UserName="k")
    created = checked("CreateAccessKey", UserName="k")["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", created["AccessKeyId"])
    assert len(created["SecretAccessKey"]) == 40 and created["Status"] == "Active"
    # Stored sealed, never in the clear; the store's owner lookup finds it by id.
    with iam_env.store.transaction() as tx:
        account, doc = tx.find("access_key", created["AccessKeyId"])
    assert account == ACCOUNT and created["SecretAccessKey"] not in json.dumps(doc)
    assert iam_env.config.secret_box.open(doc["SecretSealed"]).decode() == created["SecretAccessKey"]
    second = call("CreateAccessKey", UserName="k")["AccessKey"]
    err = raises(LimitExceeded, call, "CreateAccessKey", UserName="k")
    assert (err.status, err.message) == (409, "Cannot exceed quota for AccessKeysPerUser: 2")
    listed = checked("ListAccessKeys", UserName="k")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] and {k["AccessKeyId"] for k in listed} == {
        created["AccessKeyId"],
        second["AccessKeyId"],
    }
    assert all("SecretAccessKey" not in k for k in listed)
    call("UpdateAccessKey", UserName="k", AccessKeyId=second["AccessKeyId"], Status="Inactive")
    statuses = {
        k["AccessKeyId"]: k["Status"] for k in call("ListAccessKeys", UserName="k")["AccessKeyMetadata"]
    }
    assert statuses[second["AccessKeyId"]] == "Inactive"
    last = checked("GetAccessKeyLastUsed", AccessKeyId=created["AccessKeyId"])
    assert last == {"UserName": "k", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}
    call("CreateUser", UserName="other")
    err = raises(NoSuchEntity, call, "DeleteAccessKey", UserName="other", AccessKeyId=created["AccessKeyId"])
    assert err.message == f"The Access Key with id {created['AccessKeyId']} cannot be found."
    call("DeleteAccessKey", UserName="k", AccessKeyId=created["AccessKeyId"])
    assert len(call("ListAccessKeys", UserName="k")["AccessKeyMetadata"]) == 1


def test_keys_without_user_name_belong_to_the_caller(iam_env, call):
    root_key = call("CreateAccessKey")["AccessKey"]
    assert "UserName" not in root_key
    with iam_env.store.transaction() as tx:
        assert tx.get(ACCOUNT, "access_key", root_key["AccessKeyId"])["UserName"] is None
    assert [k["AccessKeyId"] for k in call("ListAccessKeys")["AccessKeyMetadata"]] == [
        root_key["AccessKeyId"]
    ]
    call("CreateUser", UserName="self")
    me = iam_env.user_caller("self", allow(["iam:CreateAccessKey", "iam:ListAccessKeys"]))
    mine = call("CreateAccessKey", caller=me)["AccessKey"]
    assert mine["UserName"] == "self"
    assert [k["AccessKeyId"] for k in call("ListAccessKeys", caller=me)["AccessKeyMetadata"]] == [
        mine["AccessKeyId"]
    ]
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["AccountAccessKeysPresent"] == 1 and summary["Users"] == 1


def test_users_may_manage_their_own_keys_only(iam_env, call):
    # The usual self-service policy: ${aws:username} is the caller's own name.
    own = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
    me = iam_env.user("me", allow(["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"], own))
    call("CreateUser", UserName="other")
    key = call("CreateAccessKey", caller=me, UserName="me")["AccessKey"]["AccessKeyId"]
    for op, params in (
        ("CreateAccessKey", {}),
        ("ListAccessKeys", {}),
        ("DeleteAccessKey", {"AccessKeyId": key}),
    ):
        err = iam_env.denied(me, "iam", op, UserName="other", **params)
        assert isinstance(err, AccessDenied)
        assert err.message == no_allow("me", f"iam:{op}", f"arn:aws:iam::{ACCOUNT}:user/other")
    assert call("ListAccessKeys", UserName="other")["AccessKeyMetadata"] == []
    err = iam_env.denied(me, "iam", "UpdateAccessKey", AccessKeyId=key, Status="Inactive")
    assert err.message == no_allow("me", "iam:UpdateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/me")
