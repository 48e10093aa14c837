"""Start-up, accounts, auth modes, and several nodes on one PostgreSQL database."""

from __future__ import annotations

import json
import stat
import threading

import pytest
import urllib3
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


def test_first_start_generates_root_credentials_once(tmp_path):
    srv = Server(tmp_path, env_root=False, terminal=True).start()  # printed to a terminal only
    try:
        out = srv.output()
        assert "export AWS_ENDPOINT_URL=" + srv.url in out
        assert srv.secret_key in out  # printed once, on first start
        creds = tmp_path / "credentials"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert "[rolecall]" in creds.read_text()
        assert srv.client("sts").get_caller_identity()["Account"] == "123456789012"
    finally:
        srv.stop()
    again = Server(tmp_path, env_root=False).start()
    try:
        assert again.secret_key not in again.output()  # not shown a second time
        assert again.client("sts").get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:root"
    finally:
        again.stop()


def test_account_create_is_served_at_once(server):
    out = server.rolecall("account", "create", "--account-id", "210987654321", *server.store_args())
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    assert creds["AccountId"] == "210987654321" and creds["AccessKeyId"].startswith("AKIA")
    sts = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::210987654321:root"
    # As in AWS's key ids, the account is encoded in the key id itself.
    assert (
        server.client("sts").get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"]
        == "210987654321"
    )
    iam = server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"])
    iam.create_role(RoleName="only-in-other", AssumeRolePolicyDocument=TRUST)
    assert "only-in-other" not in [r["RoleName"] for r in server.client("iam").list_roles()["Roles"]]
    dup = server.rolecall("account", "create", "--account-id", "210987654321", *server.store_args())
    assert dup.returncode == 1 and "already exists" in dup.stderr


def test_auth_off_accepts_any_key_and_resets(tmp_path):
    srv = Server(tmp_path, auth="off").start()
    try:
        iam = srv.client("iam", "testing", "testing")
        iam.create_role(RoleName="r1", AssumeRolePolicyDocument=TRUST)
        assert srv.client("sts", "foo", "bar").get_caller_identity()["Account"] == "123456789012"
        r = urllib3.PoolManager().request("POST", srv.url + "/moto-api/reset")
        assert r.status == 200
        assert iam.list_roles()["Roles"] == []
    finally:
        srv.stop()


def test_auth_off_keeps_identities(tmp_path):
    """Only the signature check is off: known keys and session tokens are still their principals."""
    srv = Server(tmp_path, auth="off").start()
    try:
        iam = srv.client("iam", "testing", "testing")
        iam.create_user(UserName="ann")
        key = iam.create_access_key(UserName="ann")["AccessKey"]
        role = iam.create_role(RoleName="r2", AssumeRolePolicyDocument=TRUST)["Role"]
        # The key is ann's even signed with a wrong secret; her calls are hers.
        as_ann = srv.client("iam", key["AccessKeyId"], "not-the-secret")
        sts_ann = srv.client("sts", key["AccessKeyId"], "not-the-secret")
        assert sts_ann.get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/ann"
        assert [k["AccessKeyId"] for k in as_ann.list_access_keys()["AccessKeyMetadata"]] == [
            key["AccessKeyId"]
        ]
        creds = sts_ann.assume_role(RoleArn=role["Arn"], RoleSessionName="off-mode")["Credentials"]
        session = srv.client("sts", creds["AccessKeyId"], "wrong", creds["SessionToken"])
        assert session.get_caller_identity()["Arn"] == "arn:aws:sts::123456789012:assumed-role/r2/off-mode"
        events = srv.client("cloudtrail", "testing", "testing").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListAccessKeys"}]
        )["Events"]
        assert (
            json.loads(events[0]["CloudTrailEvent"])["userIdentity"]["arn"]
            == "arn:aws:iam::123456789012:user/ann"
        )
        # Unknown keys are the root; a deactivated key is refused as with authentication on.
        assert srv.client("sts", "AKIAUNKNOWN000000000", "x").get_caller_identity()["Arn"].endswith(":root")
        iam.update_access_key(UserName="ann", AccessKeyId=key["AccessKeyId"], Status="Inactive")
        with pytest.raises(ClientError) as exc:
            sts_ann.get_caller_identity()
        assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    finally:
        srv.stop()


def test_reset_refused_when_enforcing(server):
    assert urllib3.PoolManager().request("POST", server.url + "/moto-api/reset").status == 403


def test_soft_mode_lets_denials_through_and_records_them(tmp_path):
    srv = Server(tmp_path, auth="soft").start()
    try:
        iam = srv.client("iam")
        iam.create_user(UserName="soft")
        key = iam.create_access_key(UserName="soft")["AccessKey"]
        srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"]).list_roles()  # no policy, let through
        events = srv.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListRoles"}]
        )["Events"]
        rec = json.loads(events[0]["CloudTrailEvent"])
        assert "not authorized to perform: iam:ListRoles" in rec["additionalEventData"]["rolecallWouldDeny"]
        with pytest.raises(ClientError):  # authentication still holds
            srv.client("iam", key["AccessKeyId"], "wrong").list_roles()
    finally:
        srv.stop()


@pytest.mark.postgres
def test_two_nodes_on_one_postgres_database(tmp_path):
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    url = create_pg_database()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", database_url=url, master_key="shared-by-both-nodes")
    b = Server(
        tmp_path / "b",
        database_url=url,
        access_key=a.access_key,
        secret_key=a.secret_key,
        master_key="shared-by-both-nodes",
    )
    try:
        a.start()
        b.start()
        iam_a, iam_b = a.client("iam"), b.client("iam")
        iam_a.create_user(UserName="shared")
        assert iam_b.get_user(UserName="shared")["User"]["UserName"] == "shared"
        key = iam_b.create_access_key(UserName="shared")["AccessKey"]
        iam_a.put_user_policy(
            UserName="shared",
            PolicyName="p",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}],
                }
            ),
        )
        user_b = b.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
        user_b.list_roles()
        iam_a.delete_user_policy(UserName="shared", PolicyName="p")  # revoked on A ...
        with pytest.raises(ClientError) as exc:  # ... denied on B at the next request
            user_b.list_roles()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"

        results: list[str] = []

        def create(iam):
            try:
                iam.create_role(RoleName="race", AssumeRolePolicyDocument=TRUST)
                results.append("ok")
            except ClientError as e:
                results.append(e.response["Error"]["Code"])

        threads = [threading.Thread(target=create, args=(c,)) for c in (iam_a, iam_b, iam_a, iam_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["EntityAlreadyExists"] * 3 + ["ok"]
    finally:
        a.stop()
        b.stop()
        drop_pg_database(url)


def test_ctrl_c_stops_cleanly_and_loses_nothing(tmp_path):
    import signal

    srv = Server(tmp_path).start()
    iam = srv.client("iam")
    iam.create_role(RoleName="kept", AssumeRolePolicyDocument=TRUST)
    for _ in range(20):  # reads: their records go through the batching trail writer
        iam.get_role(RoleName="kept")
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(20) == 0
    again = Server(tmp_path, access_key=srv.access_key, secret_key=srv.secret_key, port=0).start()
    try:
        assert again.client("iam").get_role(RoleName="kept")["Role"]["RoleName"] == "kept"
        events = again.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetRole"}], MaxResults=50
        )["Events"]
        assert len(events) >= 20  # every read before Ctrl-C was recorded
    finally:
        again.stop()
