"""Who may do what in S3: identity policies, bucket policies (same account and cross-account, every Principal
form), S3's condition keys, and S3's own denial messages."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.servers import InProcessServer

ACCOUNT = "123456789012"
OTHER = "210987654321"


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, condition=None, **extra):
    st = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        st["Condition"] = condition
    return st


def error(exc) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("s3authz")).start()
    out = s.rolecall("account", "create", "--account-id", OTHER, *s.store_args())
    assert out.returncode == 0, out.stderr
    s.other = json.loads(out.stdout)
    yield s
    s.stop()


def new_user(srv, *statements, iam=None):
    """A user (in the account of `iam`, default ours) with an inline policy of `statements`, and its S3 client."""
    iam = iam or srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    user = iam.create_user(UserName=name)["User"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user, srv.client("s3", key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture
def bucket(srv):
    name = f"authz-{uuid.uuid4().hex[:10]}"
    s3 = srv.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="home/alice/notes.txt", Body=b"alice")
    s3.put_object(Bucket=name, Key="home/bob/notes.txt", Body=b"bob")
    s3.put_object(Bucket=name, Key="public/readme", Body=b"hi")
    return name


def test_identity_policy_allows_and_denies_with_s3s_message(srv, bucket):
    user, s3 = new_user(srv, allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))
    assert s3.get_object(Bucket=bucket, Key="public/readme")["Body"].read() == b"hi"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="home/bob/notes.txt")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error(exc) == (
        "AccessDenied",
        f"User: {user['Arn']} is not authorized to perform: s3:GetObject on resource: "
        f'"arn:aws:s3:::{bucket}/home/bob/notes.txt" because no identity-based policy allows the s3:GetObject action',
    )
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="public/new", Body=b"x")
    assert "s3:PutObject" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        s3.list_buckets()
    assert error(exc) == (
        "AccessDenied",
        f"User: {user['Arn']} is not authorized to perform: s3:ListAllMyBuckets "
        "because no identity-based policy allows the s3:ListAllMyBuckets action",
    )
    # A bucket that does not exist is 404 to everyone, whatever they may do.
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="no-such-bucket-anywhere", Key="k")
    assert error(exc)[0] == "NoSuchBucket"


def test_missing_key_is_no_such_key_only_to_who_may_list(srv, bucket):
    _, reader = new_user(srv, allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    with pytest.raises(ClientError) as exc:
        reader.get_object(Bucket=bucket, Key="absent")
    code, message = error(exc)
    assert code == "AccessDenied" and f's3:ListBucket on resource: "arn:aws:s3:::{bucket}"' in message
    with pytest.raises(ClientError) as exc:
        reader.head_object(Bucket=bucket, Key="absent")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    _, lister = new_user(
        srv,
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
    )
    with pytest.raises(ClientError) as exc:
        lister.get_object(Bucket=bucket, Key="absent")
    assert error(exc)[0] == "NoSuchKey"


def test_s3_prefix_condition(srv, bucket):
    _, s3 = new_user(
        srv, allow("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringLike": {"s3:prefix": ["home/alice/*"]}})
    )
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="home/alice/")
    assert [o["Key"] for o in listed["Contents"]] == ["home/alice/notes.txt"]
    for kwargs in ({"Prefix": "home/bob/"}, {}):
        with pytest.raises(ClientError) as exc:
            s3.list_objects_v2(Bucket=bucket, **kwargs)
        assert "s3:ListBucket" in error(exc)[1]
    _, limited = new_user(
        srv,
        allow(
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            {"StringEquals": {"s3:delimiter": "/"}, "NumericLessThanEquals": {"s3:max-keys": "10"}},
        ),
    )
    assert limited.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=5)["CommonPrefixes"]
    with pytest.raises(ClientError):
        limited.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=50)
    with pytest.raises(ClientError):
        limited.list_objects_v2(Bucket=bucket, MaxKeys=5)


def test_bucket_policy_alone_grants_a_user_of_the_same_account(srv, bucket):
    user, s3 = new_user(srv)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="public/readme")
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*", Principal={"AWS": user["Arn"]}),
            {
                "Effect": "Deny",
                "Principal": {"AWS": user["Arn"]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/secret*",
            },
        ),
    )
    assert s3.get_object(Bucket=bucket, Key="public/readme")["Body"].read() == b"hi"
    srv.client("s3").put_object(Bucket=bucket, Key="public/secret.txt", Body=b"s")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="public/secret.txt")
    assert error(exc)[1].endswith("with an explicit deny in a resource-based policy")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="home/alice/notes.txt")
    assert error(exc)[1].endswith("because no identity-based policy allows the s3:GetObject action")


def test_bucket_policy_naming_the_account_delegates_to_identity_policies(srv, bucket):
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            allow(
                "s3:GetObject", f"arn:aws:s3:::{bucket}/*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
            )
        ),
    )
    _, s3 = new_user(srv)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="public/readme")


@pytest.mark.parametrize("form", ["star", "aws-star", "role-arn", "session-arn"])
def test_principal_forms_for_a_role_session(srv, bucket, form):
    iam = srv.client("iam")
    name = f"r-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/reader"
    principal = {
        "star": "*",
        "aws-star": {"AWS": "*"},
        "role-arn": {"AWS": role["Arn"]},
        "session-arn": {"AWS": session_arn},
    }[form]
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*", Principal=principal)),
    )
    creds = srv.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="reader")["Credentials"]
    s3 = srv.client("s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert s3.get_object(Bucket=bucket, Key="public/readme")["Body"].read() == b"hi"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="home/alice/notes.txt")
    assert error(exc)[1].startswith(f"User: {session_arn} is not authorized to perform: s3:GetObject")


def test_cross_account_needs_both_the_bucket_policy_and_the_callers_policy(srv, bucket):
    other_iam = srv.client("iam", srv.other["AccessKeyId"], srv.other["SecretAccessKey"])
    reader = allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*")
    user, s3 = new_user(srv, reader, iam=other_iam)
    _, no_policy = new_user(srv, iam=other_iam)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="public/readme")
    assert error(exc) == ("AccessDenied", "Access Denied")  # no detail across accounts
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*", Principal={"AWS": OTHER})),
    )
    assert s3.get_object(Bucket=bucket, Key="public/readme")["Body"].read() == b"hi"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="home/alice/notes.txt")  # outside the bucket policy's grant
    assert error(exc) == ("AccessDenied", "Access Denied")
    with pytest.raises(ClientError) as exc:
        no_policy.get_object(
            Bucket=bucket, Key="public/readme"
        )  # the bucket allows; their own account does not
    assert error(exc) == ("AccessDenied", "Access Denied")
    # The other account does not see the bucket, cannot take its name, and cannot manage its policy.
    other_root = srv.client("s3", srv.other["AccessKeyId"], srv.other["SecretAccessKey"])
    assert bucket not in [b["Name"] for b in other_root.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as exc:
        other_root.create_bucket(Bucket=bucket)
    assert error(exc)[0] == "BucketAlreadyExists"


def test_cross_account_policy_management_is_method_not_allowed(srv, bucket):
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(allow("s3:GetBucketPolicy", f"arn:aws:s3:::{bucket}", Principal={"AWS": OTHER})),
    )
    other_root = srv.client("s3", srv.other["AccessKeyId"], srv.other["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        other_root.get_bucket_policy(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    with pytest.raises(ClientError) as exc:
        other_root.delete_bucket_policy(Bucket=bucket)  # not granted: refused before that
    assert error(exc) == ("AccessDenied", "Access Denied")


def test_cross_account_trail_reaches_the_bucket_owner(srv, bucket):
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(allow("s3:PutObject", f"arn:aws:s3:::{bucket}/drop/*", Principal={"AWS": OTHER})),
    )
    other_root = srv.client("s3", srv.other["AccessKeyId"], srv.other["SecretAccessKey"])
    other_root.put_object(Bucket=bucket, Key="drop/from-other", Body=b"x")
    srv.pipeline.flush_trail()
    owner_events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutObject"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in owner_events]
    shared = [r for r in records if r["requestParameters"]["key"] == "drop/from-other"]
    assert shared and shared[0]["userIdentity"]["accountId"] == OTHER
    assert shared[0]["recipientAccountId"] == ACCOUNT


def test_delete_objects_reports_each_refused_key(srv, bucket):
    srv.client("s3").put_object(Bucket=bucket, Key="tmp/a", Body=b"")
    _, s3 = new_user(srv, allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/tmp/*"))
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "public/readme"}]}
    )
    assert [d["Key"] for d in result["Deleted"]] == ["tmp/a"]
    assert result["Errors"] == [{"Key": "public/readme", "Code": "AccessDenied", "Message": "Access Denied"}]
    assert srv.client("s3").head_object(Bucket=bucket, Key="public/readme")["ContentLength"] == 2


def test_copy_needs_get_on_the_source_and_put_on_the_destination(srv, bucket):
    target = f"target-{uuid.uuid4().hex[:8]}"
    srv.client("s3").create_bucket(Bucket=target)
    _, writer = new_user(srv, allow("s3:PutObject", f"arn:aws:s3:::{target}/*"))
    source = {"Bucket": bucket, "Key": "public/readme"}
    with pytest.raises(ClientError) as exc:
        writer.copy_object(Bucket=target, Key="copy", CopySource=source)
    assert f's3:GetObject on resource: "arn:aws:s3:::{bucket}/public/readme"' in error(exc)[1]
    # The source bucket's own policy can grant the read (not the destination's).
    user, copier = new_user(srv, allow("s3:PutObject", f"arn:aws:s3:::{target}/*"))
    srv.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=doc(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*", Principal={"AWS": user["Arn"]})),
    )
    copier.copy_object(Bucket=target, Key="copy", CopySource=source)
    assert srv.client("s3").get_object(Bucket=target, Key="copy")["Body"].read() == b"hi"
    _, reader_only = new_user(srv, allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    with pytest.raises(ClientError) as exc:
        reader_only.copy_object(Bucket=target, Key="copy2", CopySource=source)
    assert f's3:PutObject on resource: "arn:aws:s3:::{target}/copy2"' in error(exc)[1]
