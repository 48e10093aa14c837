"""IAM access keys against a real server with boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, as_key, err, name, new_user, no_allow


def test_inactive_and_deleted_keys_stop_working(server):
    iam = server.client("iam")
    user, key = new_user(server, iam, allow("iam:*"))
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    as_user.get_user()
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        as_user.get_user()
    assert err(exc)[0] == "InvalidClientTokenId"


def test_access_key_lifecycle(server):
    iam = server.client("iam")
    user = name("keys")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key["AccessKeyId"], "Active")]
    assert "SecretAccessKey" not in listed[0]  # shown once, at creation
    # A key that has not been used yet says so, as AWS's does.
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == user
    assert (last["AccessKeyLastUsed"]["ServiceName"], last["AccessKeyLastUsed"]["Region"]) == ("N/A", "N/A")
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    with pytest.raises(ClientError) as exc:  # a deleted key no longer signs anything
        as_key(server, key, "sts").get_caller_identity()
    assert err(exc)[0] == "InvalidClientTokenId"


def test_keys_of_other_users_are_refused(server):
    iam = server.client("iam")
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    user, key = new_user(server, iam, allow(["iam:CreateAccessKey", "iam:ListAccessKeys"], own))
    as_user = as_key(server, key)
    assert len(as_user.list_access_keys()["AccessKeyMetadata"]) == 1  # its own
    other = name("other")
    iam.create_user(UserName=other)
    with pytest.raises(ClientError) as exc:
        as_user.create_access_key(UserName=other)
    assert err(exc) == (
        "AccessDenied",
        no_allow(user, "iam:CreateAccessKey", f"arn:aws:iam::123456789012:user/{other}"),
        403,
    )
    assert iam.list_access_keys(UserName=other)["AccessKeyMetadata"] == []
