"""Permissions follow the principal's unique id, never its name: GetSessionToken credentials of a deleted user
gain nothing from a new user of the same name, and do not lock that new user out (the policy cache was once
keyed by ARN, and whichever of the two asked first decided for both)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.sts.test_operations import creds, make_user, sts_as
from tests.servers import InProcessServer

ALLOW_S3_LIST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("unique-ids")).start()
    yield s
    s.stop()


def s3_as(srv, key):
    return srv.client("s3", key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))


@pytest.mark.parametrize("first", ["old session", "new user"])
def test_a_new_user_of_the_same_name_is_another_principal(srv, first):
    iam = srv.client("iam")
    old, old_key = make_user(srv)  # no permissions at all
    session = creds(sts_as(srv, old_key).get_session_token(DurationSeconds=900))
    iam.delete_access_key(UserName=old["UserName"], AccessKeyId=old_key["AccessKeyId"])
    iam.delete_user(UserName=old["UserName"])
    new = iam.create_user(UserName=old["UserName"])["User"]
    assert new["UserId"] != old["UserId"]
    iam.put_user_policy(UserName=new["UserName"], PolicyName="list", PolicyDocument=ALLOW_S3_LIST)
    new_key = iam.create_access_key(UserName=new["UserName"])["AccessKey"]

    def old_session_is_refused():
        with pytest.raises(ClientError) as exc:
            s3_as(srv, session).list_buckets()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"

    def new_user_may_list():
        assert s3_as(srv, new_key).list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200

    # Whichever asks first, each gets its own answer (both within one store generation, so one cache).
    if first == "old session":
        old_session_is_refused()
        new_user_may_list()
    else:
        new_user_may_list()
        old_session_is_refused()
