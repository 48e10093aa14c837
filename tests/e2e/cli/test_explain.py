"""Every denial can be explained: the trail's rolecallExplanation, `rolecall explain REQUEST_ID`, and one log
line per request at --log-level info -- against a real server, with boto3, the AWS CLI and the rolecall CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.ec2.helpers import AMI, doc, imds, make_profile, token
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

ACCOUNT = "123456789012"
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("explain"), extra_args=["--log-level", "info"]).start()
    yield s
    s.stop()


def user(srv, *statements) -> tuple[str, dict]:
    """A user with an access key and (when given) an inline policy of `statements`: (name, key)."""
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def as_user(srv, key: dict, service: str = "iam"):
    return srv.client(service, key["AccessKeyId"], key["SecretAccessKey"])


def refused(call) -> tuple[str, str]:
    """(error code, request id) of a call that must fail."""
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["RequestId"]


def trail_record(srv, request_id: str, username: str) -> dict:
    """The trail record of one request, through CloudTrail's LookupEvents."""
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": username}]
    )["Events"]
    found = [json.loads(e["CloudTrailEvent"]) for e in events]
    found = [r for r in found if r["requestID"] == request_id]
    assert len(found) == 1, (request_id, events)
    return found[0]


def explanation(srv, request_id: str, username: str) -> dict:
    return trail_record(srv, request_id, username)["additionalEventData"]["rolecallExplanation"]


def test_explicit_deny_names_the_denying_statement(srv):
    iam = srv.client("iam")
    policy = iam.create_policy(
        PolicyName=f"guard-{uuid.uuid4().hex[:6]}",
        PolicyDocument=doc(
            {"Sid": "Everything", "Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Sid": "NoRoleDeletion", "Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
        ),
    )["Policy"]
    name, key = user(srv)
    iam.attach_user_policy(UserName=name, PolicyArn=policy["Arn"])
    code, request_id = refused(lambda: as_user(srv, key).delete_role(RoleName="precious"))
    assert code == "AccessDenied"
    rec = trail_record(srv, request_id, name)
    # AWS's words stay AWS's; the explanation is rolecall's own, beside them.
    assert rec["errorMessage"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:DeleteRole on resource: "
        f"arn:aws:iam::{ACCOUNT}:role/precious with an explicit deny in an identity-based policy"
    )
    e = rec["additionalEventData"]["rolecallExplanation"]
    assert (e["decision"], e["deniedBy"], e["enforced"]) == ("explicitDeny", "identity", True)
    assert e["denyingStatements"] == [
        {"policy": policy["Arn"], "layer": "identity", "index": 1, "sid": "NoRoleDeletion", "effect": "Deny"}
    ]
    assert e["policiesEvaluated"] == {"identity": [policy["Arn"]]}
    assert f"statement NoRoleDeletion (#1) of {policy['Arn']}" in e["summary"]
    assert "explicitly denies" in e["summary"]


def test_missing_grant_names_the_missing_action(srv):
    name, key = user(srv)
    code, request_id = refused(
        lambda: as_user(srv, key).create_role(RoleName="x", AssumeRolePolicyDocument=LAMBDA_TRUST)
    )
    assert code == "AccessDenied"
    e = explanation(srv, request_id, name)
    assert e["decision"] == "implicitDeny"
    assert e["missingGrant"] == {
        "layer": "identity",
        "action": "iam:CreateRole",
        "resource": f"arn:aws:iam::{ACCOUNT}:role/x",
    }
    assert e["policiesEvaluated"] == {}
    assert "no identity-based policy allows iam:CreateRole (the principal has none)" in e["summary"]


def test_failed_condition_and_grants_for_other_resources_are_named(srv):
    name, key = user(
        srv,
        {
            "Sid": "OnlyInIreland",
            "Effect": "Allow",
            "Action": "iam:ListUsers",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
        {
            "Sid": "TeamRoles",
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/team/*",
        },
    )
    _, request_id = refused(lambda: as_user(srv, key).list_users())
    e = explanation(srv, request_id, name)
    assert e["failedConditions"] == [
        {
            "policy": f"user/{name} inline policy p",
            "layer": "identity",
            "index": 0,
            "sid": "OnlyInIreland",
            "effect": "Allow",
            "operator": "StringEquals",
            "key": "aws:RequestedRegion",
            "values": ["eu-west-1"],
            "requestValues": ["us-east-1"],
            "keyMissing": False,
        }
    ]
    assert 'StringEquals aws:RequestedRegion ["eu-west-1"] is not met' in e["summary"]
    _, request_id = refused(lambda: as_user(srv, key).get_role(RoleName="outsider"))
    e = explanation(srv, request_id, name)
    assert [(o["sid"], o["resources"]) for o in e["otherResources"]] == [
        ("TeamRoles", [f"arn:aws:iam::{ACCOUNT}:role/team/*"])
    ]


def test_a_handler_made_check_is_explained(srv):
    """S3 asks for s3:ListBucket itself when a key is missing; that refusal is the one explained."""
    bucket = f"explain-{uuid.uuid4().hex[:8]}"
    srv.client("s3").create_bucket(Bucket=bucket)
    name, key = user(
        srv, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    )
    code, request_id = refused(lambda: as_user(srv, key, "s3").get_object(Bucket=bucket, Key="missing"))
    assert code == "AccessDenied"
    e = explanation(srv, request_id, name)
    assert (e["action"], e["resource"]) == ("s3:ListBucket", f"arn:aws:s3:::{bucket}")
    assert e["missingGrant"]["action"] == "s3:ListBucket"


def signed_get(srv, path: str, key: dict) -> tuple[int, dict]:
    request = AWSRequest(method="GET", url=srv.url + path)
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "ec2", "us-east-1").add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(prepared.url, headers=dict(prepared.headers)), timeout=15
        ) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_metadata_endpoint_lookup_refusal_is_recorded_and_explained(srv):
    instance = srv.client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]
    name, key = user(srv)
    status, body = signed_get(srv, f"/_rolecall/imds/{instance['InstanceId']}", key)
    assert (status, body["Error"]["Code"]) == (403, "UnauthorizedOperation")
    rec = trail_record(srv, body["RequestId"], name)
    assert (rec["eventSource"], rec["eventName"]) == ("ec2.amazonaws.com", "DescribeInstances")
    assert rec["additionalEventData"]["rolecallRoute"] == "GET /_rolecall/imds/"
    e = rec["additionalEventData"]["rolecallExplanation"]
    assert e["missingGrant"] == {"layer": "identity", "action": "ec2:DescribeInstances", "resource": "*"}


def test_service_role_assumption_refusal_is_explained(srv):
    """A role EC2 may not assume (its trust policy names Lambda): the instance's credentials are refused,
    and the AssumeRole record ec2.amazonaws.com leaves says which policy refused."""
    role, profile = make_profile(srv, trust=LAMBDA_TRUST)
    instance = srv.client("ec2").run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": profile["Arn"]}
    )["Instances"][0]
    endpoint = srv.rolecall("ec2", "imds-endpoint", instance["InstanceId"], "--endpoint-url", srv.url)
    assert endpoint.returncode == 0, endpoint.stderr
    port = int(endpoint.stdout.strip().rsplit(":", 1)[1])
    headers = {"X-aws-ec2-metadata-token": token(port)}
    answer = imds(port, f"/latest/meta-data/iam/security-credentials/{role['RoleName']}", headers=headers)
    assert answer.json()["Code"] == "AssumeRoleUnauthorizedAccess"
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": role["Arn"]}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "AssumeRole"]
    assert records and records[0]["userIdentity"] == {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    e = records[0]["additionalEventData"]["rolecallExplanation"]
    assert (e["principal"], e["deniedBy"]) == ("ec2.amazonaws.com", "resource")
    assert e["policiesEvaluated"] == {"resource": [f"trust policy of {role['Arn']}"]}
    assert (
        f"trust policy of {role['Arn']} does not allow ec2.amazonaws.com to perform sts:AssumeRole"
        in e["summary"]
    )


def test_soft_mode_records_the_would_be_denial_with_its_explanation(tmp_path):
    soft = Server(tmp_path, auth="soft").start()
    try:
        name, key = user(soft)
        listed = as_user(soft, key).list_roles()  # no policy at all: let through
        request_id = listed["ResponseMetadata"]["RequestId"]
        extra = trail_record(soft, request_id, name)["additionalEventData"]
        assert "not authorized to perform: iam:ListRoles" in extra["rolecallWouldDeny"]
        e = extra["rolecallExplanation"]
        assert (e["enforced"], e["decision"], e["missingGrant"]["action"]) == (
            False,
            "implicitDeny",
            "iam:ListRoles",
        )
        out = soft.rolecall("explain", request_id, *soft.store_args())
        assert out.returncode == 0, out.stderr
        assert "outcome:  allowed (--auth soft let a denial through)" in out.stdout
        assert "missing grant:      iam:ListRoles" in out.stdout
    finally:
        soft.stop()


def test_rolecall_explain_prints_the_request_and_why(srv):
    iam = srv.client("iam")
    name, key = user(srv, {"Sid": "NoUsers", "Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"})
    _, denied = refused(lambda: as_user(srv, key).create_user(UserName="intruder"))
    out = srv.rolecall("explain", denied, *srv.store_args())
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"Request {denied}" in text
    assert f"who:      arn:aws:iam::{ACCOUNT}:user/{name} (IAMUser, access key {key['AccessKeyId']})" in text
    assert f"what:     iam:CreateUser on arn:aws:iam::{ACCOUNT}:user/intruder" in text
    assert "outcome:  refused: AccessDenied" in text
    assert "with an explicit deny in an identity-based policy" in text  # AWS's message
    assert f"denying statement:  user/{name} inline policy p, statement #0 (Sid NoUsers)" in text
    assert key["SecretAccessKey"] not in text
    # The alias, the data dir from ROLECALL_DATA_DIR, and the records as JSON.
    env = {**os.environ, "ROLECALL_DATA_DIR": str(srv.data_dir)}
    alias = subprocess.run(
        [sys.executable, "-m", "rolecall", "trail", "explain", denied, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alias.returncode == 0, alias.stderr
    [rec] = json.loads(alias.stdout)
    assert (
        rec["requestID"] == denied
        and rec["additionalEventData"]["rolecallExplanation"]["deniedBy"] == "identity"
    )
    # An allowed request says so, and who allowed it when that is known.
    allowed = iam.list_roles()["ResponseMetadata"]["RequestId"]
    out = srv.rolecall("explain", allowed, *srv.store_args())
    assert out.returncode == 0
    assert "outcome:  allowed" in out.stdout
    assert "the account's root user needs no policy" in out.stdout
    # The request id the AWS CLI shows with --debug works the same.
    cli = srv.cli(
        "iam",
        "create-user",
        "--user-name",
        "intruder2",
        "--debug",
        key=key["AccessKeyId"],
        secret=key["SecretAccessKey"],
        check=False,
    )
    assert "An error occurred (AccessDenied) when calling the CreateUser operation" in cli.stderr
    cli_request = re.search(r"'x-amzn-requestid': '([0-9a-f-]{36})'", cli.stderr, re.IGNORECASE).group(1)
    out = srv.rolecall("explain", cli_request, *srv.store_args())
    assert out.returncode == 0 and f"iam:CreateUser on arn:aws:iam::{ACCOUNT}:user/intruder2" in out.stdout
    # An unknown id: a clear message and exit status 1.
    unknown = srv.rolecall("explain", "00000000-0000-0000-0000-000000000000", *srv.store_args())
    assert unknown.returncode == 1
    assert "no request 00000000-0000-0000-0000-000000000000 in the trail" in unknown.stderr


def test_one_log_line_per_request_at_info_and_no_secret(srv):
    name, key = user(srv, {"Effect": "Allow", "Action": "sts:GetSessionToken", "Resource": "*"})
    _, denied = refused(lambda: as_user(srv, key).list_roles())
    creds = as_user(srv, key, "sts").get_session_token()["Credentials"]
    session = srv.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    allowed = session.get_caller_identity()["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError):
        srv.client("iam", key["AccessKeyId"], "not-the-secret").list_roles()
    deadline = time.time() + 5
    while denied not in srv.output() or allowed not in srv.output():
        assert time.time() < deadline, srv.output()
        time.sleep(0.05)
    output = srv.output()
    lines = [line for line in output.splitlines() if "rolecall.requests" in line]
    assert any(
        f"iam:ListRoles by arn:aws:iam::{ACCOUNT}:user/{name} -> 403 AccessDenied (request {denied}," in line
        for line in lines
    ), lines
    assert any(
        f"sts:GetCallerIdentity by arn:aws:iam::{ACCOUNT}:user/{name} -> 200 (request {allowed}," in line
        for line in lines
    )
    assert any("iam:ListRoles by (unauthenticated) -> 403 SignatureDoesNotMatch" in line for line in lines), (
        lines
    )
    for secret in (key["SecretAccessKey"], creds["SecretAccessKey"], creds["SessionToken"], srv.secret_key):
        assert secret not in output
    assert "Signature=" not in output and "X-Amz-Security-Token" not in output


def test_no_request_lines_above_info(tmp_path):
    quiet = Server(tmp_path).start()  # --log-level warning, the default
    try:
        quiet.client("iam").list_roles()
        quiet.client("sts").get_caller_identity()
        assert "rolecall.requests" not in quiet.output()
    finally:
        quiet.stop()


@pytest.mark.postgres
def test_rolecall_explain_reads_a_postgresql_trail(tmp_path):
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_pg_database()
    pg = Server(tmp_path, database_url=url).start()
    try:
        name, key = user(pg)
        _, denied = refused(lambda: as_user(pg, key).list_roles())
        out = pg.rolecall("explain", denied, "--database-url", url)
        assert out.returncode == 0, out.stderr
        assert f"missing grant:      iam:ListRoles on arn:aws:iam::{ACCOUNT}:role/" in out.stdout
    finally:
        pg.stop()
        drop_pg_database(url)
