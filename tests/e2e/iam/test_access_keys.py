"""IAM access keys against a real server with boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, err, new_user


def test_inactive_and_deleted_keys_stop_working(server):
    iam = server.client("iam")
    user, key = new_user(server, iam, allow("iam:*"))
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    as_user.get_user()
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        as_user.get_user()
    assert err(exc)[0] == "InvalidClientTokenId"
