"""Web identity federation against a real server: tokens of the local OIDC issuer minted with
`rolecall oidc issue-token`, a GitHub-Actions-style trust policy, boto3's and the JavaScript SDK v3's
web-identity credential providers (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN) unchanged, the AWS CLI, the
issuer's discovery document and keys, and the trail."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import boto3
import botocore
import botocore.config
import jwt
import pytest
from botocore.exceptions import ClientError

from tests.servers import InProcessServer

ACCOUNT = "123456789012"
GITHUB = "token.actions.githubusercontent.com"
MAIN = "repo:org/repo:ref:refs/heads/main"
JS_PACKAGES = Path(__file__).parents[1] / "cli" / "js"  # the pinned SDK the EC2 test installs too
JS_SCRIPT = Path(__file__).parent / "js" / "web_identity.mjs"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("federation")).start()
    iam = s.client("iam")
    s.provider_arn = iam.create_open_id_connect_provider(
        Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    s.role_arn = iam.create_role(
        RoleName="deploy",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": s.provider_arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": MAIN}
                        },
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    yield s
    s.stop()


def issue(srv, *args: str) -> str:
    out = srv.rolecall("oidc", "issue-token", "--endpoint-url", srv.url, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def unsigned_sts(srv):
    return boto3.client(
        "sts",
        endpoint_url=srv.url,
        region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )


def web_identity_env(srv, token_file: Path, home: Path) -> dict[str, str]:
    """An environment with nothing but a web identity: the SDKs' chains must end at their web-identity
    provider, which calls AssumeRoleWithWebIdentity on rolecall."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLECALL_"))}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_ARN=srv.role_arn,
        AWS_ROLE_SESSION_NAME="ci-run",
        AWS_ENDPOINT_URL=srv.url,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def test_github_token_assumes_the_role_and_a_token_of_another_branch_does_not(srv):
    token = issue(srv, "--issuer", "github", "--sub", MAIN)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == f"https://{GITHUB}" and claims["aud"] == "sts.amazonaws.com"
    assert (claims["repository"], claims["ref"], claims["repository_owner"]) == (
        "org/repo",
        "refs/heads/main",
        "org",
    )
    sts = unsigned_sts(srv)
    out = sts.assume_role_with_web_identity(
        RoleArn=srv.role_arn, RoleSessionName="run-1", WebIdentityToken=token
    )
    assert out["SubjectFromWebIdentityToken"] == MAIN
    assert out["Provider"] == srv.provider_arn and out["Audience"] == "sts.amazonaws.com"
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/run-1"
    creds = out["Credentials"]
    me = srv.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert me.get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]

    other = issue(srv, "--issuer", "github", "--sub", "repo:org/repo:ref:refs/heads/feature")
    with pytest.raises(ClientError) as refused:
        sts.assume_role_with_web_identity(
            RoleArn=srv.role_arn, RoleSessionName="run-2", WebIdentityToken=other
        )
    assert refused.value.response["Error"] == {
        "Type": "Sender",
        "Code": "AccessDenied",
        "Message": "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    }


def test_trail_records_the_web_identity_user_and_never_the_token(srv):
    token = issue(srv, "--issuer", "github", "--sub", MAIN)
    unsigned_sts(srv).assume_role_with_web_identity(
        RoleArn=srv.role_arn, RoleSessionName="trail-run", WebIdentityToken=token
    )
    srv.pipeline.flush_trail()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRoleWithWebIdentity"}]
    )["Events"]
    text = next(e["CloudTrailEvent"] for e in events if "trail-run" in e["CloudTrailEvent"])
    assert token not in text and token.split(".")[2] not in text
    record = json.loads(text)
    assert record["userIdentity"] == {
        "type": "WebIdentityUser",
        "principalId": f"{srv.provider_arn}:sts.amazonaws.com:{MAIN}",
        "userName": MAIN,
        "identityProvider": srv.provider_arn,
    }
    assert record["responseElements"]["subjectFromWebIdentityToken"] == MAIN
    assert record["responseElements"]["credentials"]["sessionToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_boto3_web_identity_provider_unchanged(srv, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(issue(srv, "--issuer", "github", "--sub", MAIN))
    code = (
        "import boto3, json; s = boto3.Session(); c = s.get_credentials();"
        "print(json.dumps({'method': c.method, 'arn': s.client('sts').get_caller_identity()['Arn']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=web_identity_env(srv, token_file, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen == {
        "method": "assume-role-with-web-identity",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-run",
    }


def test_aws_cli_assume_role_with_web_identity(srv):
    token = issue(srv, "--issuer", "github", "--sub", MAIN)
    out = srv.cli(
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        srv.role_arn,
        "--role-session-name",
        "cli-run",
        "--web-identity-token",
        token,
    )
    answer = json.loads(out.stdout)
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/deploy/cli-run")
    expired = srv.cli(
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        srv.role_arn,
        "--role-session-name",
        "cli-run",
        "--web-identity-token",
        "not-a-jwt",
        check=False,
    )
    assert expired.returncode != 0 and "InvalidIdentityToken" in expired.stderr


def test_discovery_document_and_keys_verify_the_minted_token(srv):
    token = issue(srv, "--issuer", "github", "--sub", MAIN)
    base = f"{srv.url}/_rolecall/oidc/{GITHUB}/.well-known"
    with urllib.request.urlopen(f"{base}/openid-configuration") as r:
        discovery = json.loads(r.read())
    assert discovery["issuer"] == f"https://{GITHUB}"
    assert discovery["jwks_uri"] == f"{base}/jwks"
    with urllib.request.urlopen(discovery["jwks_uri"]) as r:
        keys = json.loads(r.read())["keys"]
    assert all("d" not in k and "p" not in k for k in keys)  # public halves only
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="sts.amazonaws.com")
    assert claims["sub"] == MAIN


def test_only_a_root_user_mints_tokens(srv):
    iam = srv.client("iam")
    iam.create_user(UserName="minter")
    key = iam.create_access_key(UserName="minter")["AccessKey"]
    env = {
        **srv.env(),
        "ROLECALL_ROOT_ACCESS_KEY_ID": key["AccessKeyId"],
        "ROLECALL_ROOT_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rolecall",
            "oidc",
            "issue-token",
            "--endpoint-url",
            srv.url,
            "--issuer",
            "github",
            "--sub",
            MAIN,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "AccessDenied" in out.stderr and "only an account's root user" in out.stderr


# -- the AWS SDK for JavaScript v3 -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """The pinned JS SDK installed once (the directory tests/e2e/cli/test_ec2_exec.py installs it in too)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the JavaScript SDK test")
    pinned = (JS_PACKAGES / "package.json").read_bytes() + (JS_PACKAGES / "package-lock.json").read_bytes()
    where = Path(tempfile.gettempdir()) / f"rolecall-js-{hashlib.sha256(pinned).hexdigest()[:12]}"
    marker = where / ".installed"
    if not marker.exists():
        where.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(JS_PACKAGES / name, where / name)
        out = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
        if out.returncode != 0:
            pytest.skip(
                f"npm could not install the JavaScript SDK (no registry access?): {out.stderr[-500:]}"
            )
        marker.write_text("ok\n")
    shutil.copy(JS_SCRIPT, where / JS_SCRIPT.name)
    return where


def test_javascript_sdk_default_chain_web_identity(srv, js_sdk, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(issue(srv, "--issuer", "github", "--sub", MAIN))
    out = subprocess.run(
        ["node", str(js_sdk / JS_SCRIPT.name)],
        env=web_identity_env(srv, token_file, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-run"
    assert seen["accessKeyId"].startswith("ASIA")


# -- GetFederationToken ----------------------------------------------------------------------------------


def test_get_federation_token_session_policy_semantics(srv):
    iam = srv.client("iam")
    iam.create_user(UserName="broker")
    iam.put_user_policy(
        UserName="broker",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["sts:GetFederationToken", "s3:ListAllMyBuckets"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="broker")["AccessKey"]
    broker = srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    session_policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    out = broker.get_federation_token(Name="bob", Policy=session_policy, DurationSeconds=900)
    assert out["FederatedUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
    creds = out["Credentials"]
    as_bob = dict(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert srv.client("sts", **as_bob).get_caller_identity()["UserId"] == f"{ACCOUNT}:bob"
    srv.client("s3", **as_bob).list_buckets()  # allowed by both the user's policy and the session's
    with pytest.raises(ClientError) as refused:  # s3:* in the session policy, but not the broker's own
        srv.client("s3", **as_bob).create_bucket(Bucket="bobs-bucket")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as refused:
        srv.client("iam", **as_bob).list_users()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # Without a session policy the federated user may do nothing at all, through the AWS CLI as well.
    cli = srv.cli(
        "sts",
        "get-federation-token",
        "--name",
        "carol",
        key=key["AccessKeyId"],
        secret=key["SecretAccessKey"],
    )
    carol = json.loads(cli.stdout)["Credentials"]
    with pytest.raises(ClientError) as refused:
        srv.client("s3", carol["AccessKeyId"], carol["SecretAccessKey"], carol["SessionToken"]).list_buckets()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


# -- AssumeRoleWithSAML ----------------------------------------------------------------------------------


def test_saml_assertion_of_a_local_idp_through_the_cli_and_boto3(srv, tmp_path):
    metadata = srv.rolecall("saml", "metadata", "--endpoint-url", srv.url, "--idp", "corp-idp")
    assert metadata.returncode == 0, metadata.stderr
    (tmp_path / "metadata.xml").write_text(metadata.stdout)
    created = srv.cli(
        "iam",
        "create-saml-provider",
        "--name",
        "corp",
        "--saml-metadata-document",
        f"file://{tmp_path / 'metadata.xml'}",
    )
    provider = json.loads(created.stdout)["SAMLProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ],
    }
    role = srv.client("iam").create_role(RoleName="saml-dev", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]
    minted = srv.rolecall(
        "saml",
        "issue-assertion",
        "--endpoint-url",
        srv.url,
        "--idp",
        "corp-idp",
        "--subject",
        "alice",
        "--role",
        f"{role['Arn']},{provider}",
    )
    assert minted.returncode == 0, minted.stderr
    (tmp_path / "assertion.b64").write_text(minted.stdout)
    out = srv.cli(
        "sts",
        "assume-role-with-saml",
        "--role-arn",
        role["Arn"],
        "--principal-arn",
        provider,
        "--saml-assertion",
        f"file://{tmp_path / 'assertion.b64'}",
    )
    answer = json.loads(out.stdout)
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/saml-dev/alice"
    assert answer["Subject"] == "alice" and answer["SubjectType"] == "persistent"
    with pytest.raises(ClientError) as refused:  # the same assertion for a role it does not list
        unsigned_sts(srv).assume_role_with_saml(
            RoleArn=srv.role_arn, PrincipalArn=provider, SAMLAssertion=minted.stdout
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
