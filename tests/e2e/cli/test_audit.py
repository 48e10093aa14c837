"""`rolecall audit` end to end: a planted account built with boto3 on a real server, audited over the wire
(GetAccountAuthorizationDetails, ListFunctions, the trail) and from the AWS CLI's export of it."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.lambda_.helpers import package
from tests.servers import Server

ACCOUNT = "123456789012"


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def trust(principal) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("audit")).start()
    iam = s.client("iam")
    iam.create_user(UserName="alice")
    iam.create_user(UserName="bob")
    iam.put_user_policy(
        UserName="bob",
        PolicyName="keys",
        PolicyDocument=doc(allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/alice")),
    )
    iam.create_role(
        RoleName="Admin", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"})
    )
    iam.attach_role_policy(RoleName="Admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_role(RoleName="Open", AssumeRolePolicyDocument=trust({"AWS": "*"}))
    iam.create_role(RoleName="Boxed", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    iam.put_role_policy(RoleName="Boxed", PolicyName="all", PolicyDocument=doc(allow("*")))
    iam.create_instance_profile(InstanceProfileName="Boxed")
    iam.add_role_to_instance_profile(InstanceProfileName="Boxed", RoleName="Boxed")
    iam.create_user(UserName="carol")
    iam.put_user_policy(
        UserName="carol",
        PolicyName="launch",
        PolicyDocument=doc(
            allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Boxed"), allow("ec2:RunInstances")
        ),
    )
    # A bounded user whose PassRole the boundary takes away: no edge.
    iam.create_policy(PolicyName="OnlyS3", PolicyDocument=doc(allow("s3:*")))
    iam.create_user(UserName="dana", PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/OnlyS3")
    iam.put_user_policy(
        UserName="dana", PolicyName="launch", PolicyDocument=doc(allow(["iam:PassRole", "ec2:RunInstances"]))
    )
    # A function whose code a developer may replace: from a server, the audit lists functions too.
    iam.create_role(RoleName="FnRole", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    fn = s.client("lambda").create_function(
        FunctionName="worker",
        Role=f"arn:aws:iam::{ACCOUNT}:role/FnRole",
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": package("def handler(event, context):\n    return 1\n")},
    )
    iam.create_user(UserName="fndev")
    iam.put_user_policy(
        UserName="fndev",
        PolicyName="code",
        PolicyDocument=doc(allow("lambda:UpdateFunctionCode", fn["FunctionArn"])),
    )
    # A user with s3:* that uses two calls of it, for the least-privilege rewrite.
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="s3", PolicyDocument=doc(allow("s3:*")))
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    s3 = s.client("s3", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.list_buckets()
    yield s, bucket
    s.stop()


def audit_json(s: Server, *args: str) -> dict:
    out = s.rolecall("audit", "--endpoint-url", s.url, "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def edge_set(report: dict) -> set[tuple[str, str, str]]:
    return {
        (e["source"].split(":", 5)[-1], e["target"].split(":", 5)[-1], e["kind"]) for e in report["edges"]
    }


NON_ADMINS = ("user/alice", "user/bob", "user/carol", "user/dana", "user/dev", "user/fndev", "role/FnRole")
EXPORTED_EDGES = {
    ("user/bob", "user/alice", "create-access-key"),
    ("user/alice", "role/Admin", "assume-role"),
    ("user/carol", "role/Boxed", "passrole-ec2"),
    # Open trusts everyone: every principal that is not an administrator can assume it.
    *{(p, "role/Open", "assume-role") for p in NON_ADMINS},
}
# From a server the functions come along: fndev may replace the code that runs as FnRole.
EXPECTED_EDGES = EXPORTED_EDGES | {("user/fndev", "role/FnRole", "lambda-update-code")}


def test_audit_from_server(planted):
    s, bucket = planted
    report = audit_json(s)
    assert report["account"] == ACCOUNT
    assert edge_set(report) == EXPECTED_EDGES
    admins = {a["principal"].split(":", 5)[-1] for a in report["admins"]}
    assert admins == {"role/Admin", "role/Boxed"}
    paths = {
        p["principal"].split(":", 5)[-1]: [st["target"].split(":", 5)[-1] for st in p["steps"]]
        for p in report["escalation_paths"]
    }
    assert paths == {
        "user/alice": ["role/Admin"],
        "user/bob": ["user/alice", "role/Admin"],
        "user/carol": ["role/Boxed"],
    }
    bob_step = report["escalation_paths"][1]["steps"][0]["steps"][0]
    assert bob_step["action"] == "iam:CreateAccessKey" and "user/bob inline keys" in bob_step["because"][0]
    kinds = {(f["kind"], f["principal"].split(":", 5)[-1]) for f in report["findings"]}
    assert ("open-trust", "role/Open") in kinds
    assert ("service-trust-no-source", "role/Boxed") in kinds
    assert ("wildcard-passrole", "user/dana") not in kinds  # its boundary allows s3 only
    assert ("unused-role", "role/Open") not in kinds  # created today
    rewrites = {r["principal"].split(":", 5)[-1]: r for r in report["least_privilege"]}
    dev = rewrites["user/dev"]
    actions = {
        a
        for st in dev["policy"]["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert actions == {"s3:CreateBucket", "s3:ListBuckets"}


def test_audit_of_the_aws_cli_export_matches(planted, tmp_path):
    s, _ = planted
    export = s.cli("iam", "get-account-authorization-details").stdout
    path = tmp_path / "account.json"
    path.write_text(export)
    out = s.rolecall("audit", "--file", str(path), "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert edge_set(report) == EXPORTED_EDGES
    assert report["least_privilege"] == []  # no trail given with a file
    # The trail as `aws cloudtrail lookup-events` prints it gives the same rewrite as the server's.
    trail = tmp_path / "trail.json"
    trail.write_text(s.cli("cloudtrail", "lookup-events").stdout)
    out = s.rolecall("audit", "--file", str(path), "--trail", str(trail), "--format", "json")
    assert out.returncode == 0, out.stderr
    rewrites = {r["principal"].split(":", 5)[-1]: r for r in json.loads(out.stdout)["least_privilege"]}
    assert rewrites["user/dev"]["calls_in_trail"] == 2
    # An SCP level that denies CreateAccessKey takes bob's edge (and his path) away.
    scp = tmp_path / "scp.json"
    scp.write_text(doc(allow("*"), {"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"}))
    out = s.rolecall("audit", "--file", str(path), "--scp", str(scp), "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert edge_set(report) == EXPORTED_EDGES - {("user/bob", "user/alice", "create-access-key")}
    assert "arn:aws:iam::123456789012:user/bob" not in {p["principal"] for p in report["escalation_paths"]}


def test_text_and_html_reports(planted, tmp_path):
    s, _ = planted
    html = tmp_path / "report.html"
    out = s.rolecall("audit", "--endpoint-url", s.url, "--no-trail", "--html", str(html))
    assert out.returncode == 0, out.stderr
    assert "user/bob -> user/alice -> role/Admin" in out.stdout
    assert "[high] open-trust role/Open" in out.stdout
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "user/bob" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page


def test_bad_input_is_refused_plainly(planted, tmp_path):
    s, _ = planted
    out = s.rolecall("audit", "--file", str(tmp_path / "missing.json"))
    assert out.returncode == 2 and "cannot read" in out.stderr and "Traceback" not in out.stderr
    other = tmp_path / "other.json"
    other.write_text('{"Users": []}')
    out = s.rolecall("audit", "--file", str(other))
    assert out.returncode == 2 and "not a GetAccountAuthorizationDetails document" in out.stderr
    out = s.rolecall("audit", "--file", str(other), "--now", "yesterday")
    assert out.returncode == 2 and "--now" in out.stderr


def test_a_reader_without_lambda_or_trail_rights_gets_the_rest(planted):
    import subprocess
    import sys

    s, _ = planted
    iam = s.client("iam")
    name = f"reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name, PolicyName="read", PolicyDocument=doc(allow("iam:GetAccountAuthorizationDetails"))
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    env = {
        **s.env(),
        "ROLECALL_ROOT_ACCESS_KEY_ID": key["AccessKeyId"],
        "ROLECALL_ROOT_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    out = subprocess.run(
        [sys.executable, "-m", "rolecall", "audit", "--endpoint-url", s.url, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "warning: Lambda functions not read (AccessDeniedException" in out.stderr
    assert "warning: the trail not read (AccessDenied" in out.stderr
    report = json.loads(out.stdout)
    assert ("user/bob", "user/alice", "create-access-key") in edge_set(report)
    assert not any(e["kind"] == "lambda-update-code" for e in report["edges"])
    assert report["least_privilege"] == []
