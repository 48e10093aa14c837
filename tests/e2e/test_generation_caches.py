"""Two rolecall processes on one store: what one changes, the other's next request sees, although each
answers reads from documents cached per store generation (rolecall.store.readcache) and caches keys and
policies the same way. On SQLite the processes share a data dir (as `--workers N` does); on PostgreSQL
they are two nodes with their own data dirs."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
ALLOW_GET_ROLE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def nodes(tmp_path_factory, request):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    shared = tmp_path_factory.mktemp("shared")
    first = Server(shared if url is None else tmp_path_factory.mktemp("a"), database_url=url)
    second = Server(
        shared if url is None else tmp_path_factory.mktemp("b"),
        database_url=url,
        access_key=first.access_key,
        secret_key=first.secret_key,
        master_key=first.master_key or "test-master-key-" + first.data_dir.name,
    )
    first.start()
    second.start()
    yield first, second
    second.stop()
    first.stop()
    if url:
        drop_pg_database(url)


def test_documents_changed_on_one_node_are_read_fresh_on_the_other(nodes):
    a, b = nodes
    iam_a, iam_b = a.client("iam"), b.client("iam")
    iam_a.create_role(RoleName="shared-role", AssumeRolePolicyDocument=TRUST, Description="one")
    for _ in range(3):  # cached on b after the first
        assert iam_b.get_role(RoleName="shared-role")["Role"]["Description"] == "one"
    iam_a.update_role(RoleName="shared-role", Description="two")
    assert iam_b.get_role(RoleName="shared-role")["Role"]["Description"] == "two"
    iam_a.delete_role(RoleName="shared-role")
    with pytest.raises(ClientError) as exc:
        iam_b.get_role(RoleName="shared-role")
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"


def test_a_key_and_a_policy_changed_on_one_node_take_effect_on_the_other(nodes):
    a, b = nodes
    iam_a = a.client("iam")
    iam_a.create_user(UserName="shared-user")
    iam_a.create_role(RoleName="shared-target", AssumeRolePolicyDocument=TRUST)
    iam_a.put_user_policy(UserName="shared-user", PolicyName="get", PolicyDocument=ALLOW_GET_ROLE)
    key = iam_a.create_access_key(UserName="shared-user")["AccessKey"]
    as_user_b = b.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    for _ in range(3):
        assert as_user_b.get_role(RoleName="shared-target")["Role"]["RoleName"] == "shared-target"
    iam_a.delete_user_policy(UserName="shared-user", PolicyName="get")
    with pytest.raises(ClientError) as exc:
        as_user_b.get_role(RoleName="shared-target")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    iam_a.update_access_key(UserName="shared-user", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        as_user_b.get_role(RoleName="shared-target")
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_every_change_is_seen_by_the_other_node_at_its_next_request(nodes):
    """Writes alternate between the nodes, each followed at once by a read on the other: on PostgreSQL both
    nodes answer generation() from their LISTEN connections, and a write returns only once both have it."""
    a, b = nodes
    iam_a, iam_b = a.client("iam"), b.client("iam")
    iam_a.create_role(RoleName="ping-pong", AssumeRolePolicyDocument=TRUST, Description="0")
    for n in range(1, 31):
        writer, reader = (iam_a, iam_b) if n % 2 else (iam_b, iam_a)
        assert reader.get_role(RoleName="ping-pong")["Role"]["Description"] == str(n - 1)  # now cached there
        writer.update_role(RoleName="ping-pong", Description=str(n))
        assert reader.get_role(RoleName="ping-pong")["Role"]["Description"] == str(n)
