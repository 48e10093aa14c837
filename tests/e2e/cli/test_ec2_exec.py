"""Unmodified clients under `rolecall ec2 exec`, against `rolecall serve` in its own process.

boto3's default credential chain, the AWS CLI and the AWS SDK for JavaScript v3 must each find the
instance's metadata endpoint on their own and act as the instance's role, with no keys given to them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.ec2.helpers import EC2_TRUST, doc, imds, launch, make_profile
from tests.servers import Server

ACCOUNT = "123456789012"
TTL = 1800
JS_DIR = Path(__file__).parent / "js"

BOTO3_WHOAMI = """
import json, boto3
session = boto3.Session()
credentials = session.get_credentials()
identity = session.client("sts").get_caller_identity()
print(json.dumps({"method": credentials.method, "arn": identity["Arn"], "key": credentials.access_key}))
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ec2exec"), extra_args=["--instance-credential-ttl", str(TTL)]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def instance(srv):
    role, profile = make_profile(srv, doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}))
    found = launch(srv, profile, MetadataOptions={"HttpTokens": "required"})
    return {"id": found["InstanceId"], "role": role["RoleName"]}


def on_instance(
    srv, instance_id: str, *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rolecall",
            "ec2",
            "exec",
            instance_id,
            "--endpoint-url",
            srv.url,
            "--",
            *command,
        ],
        env={**srv.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def expected_arn(instance: dict) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{instance['role']}/{instance['id']}"


# Credentials a developer might have lying around: exec must hide all of them from the program.
DECOYS = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_PROFILE": "someone-else",
}


def test_boto3_default_chain_uses_the_instance_role(srv, instance):
    out = on_instance(srv, instance["id"], sys.executable, "-c", BOTO3_WHOAMI, env=DECOYS)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["method"] == "iam-role"
    assert seen["arn"] == expected_arn(instance)
    assert seen["key"].startswith("ASIA")


def test_aws_cli_uses_the_instance_role(srv, instance):
    out = on_instance(
        srv, instance["id"], sys.executable, "-m", "awscli", "sts", "get-caller-identity", env=DECOYS
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"] == expected_arn(instance)
    listed = on_instance(srv, instance["id"], sys.executable, "-m", "awscli", "iam", "list-users")
    assert listed.returncode != 0 and "AccessDenied" in listed.stderr  # the role allows iam:ListRoles only


def test_environment_and_exit_status(srv, instance):
    show = "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(('AWS_', 'ROLECALL_'))}))"
    out = on_instance(srv, instance["id"], sys.executable, "-c", show, env=DECOYS)
    assert out.returncode == 0, out.stderr
    env = json.loads(out.stdout)
    assert set(env) == {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    }
    assert env["AWS_ENDPOINT_URL"] == srv.url and env["AWS_REGION"] == "us-east-1"
    printed = srv.rolecall("ec2", "imds-endpoint", instance["id"], "--endpoint-url", srv.url)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
    assert on_instance(srv, instance["id"], sys.executable, "-c", "raise SystemExit(7)").returncode == 7
    missing = srv.rolecall("ec2", "imds-endpoint", "i-0000000000000dead", "--endpoint-url", srv.url)
    assert missing.returncode != 0 and "InvalidInstanceID.NotFound" in missing.stderr


def test_served_credentials_last_the_configured_ttl(srv, instance):
    port = int(
        srv.rolecall("ec2", "imds-endpoint", instance["id"], "--endpoint-url", srv.url).stdout.rsplit(":", 1)[
            1
        ]
    )
    token = imds(port, "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}).text
    creds = imds(
        port,
        f"/latest/meta-data/iam/security-credentials/{instance['role']}",
        headers={"X-aws-ec2-metadata-token": token},
    ).json()
    lifetime = datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00")) - datetime.fromisoformat(
        creds["LastUpdated"].replace("Z", "+00:00")
    )
    assert lifetime.total_seconds() == TTL


def test_endpoints_come_back_after_a_restart(srv):
    _, profile = make_profile(srv)
    iid = launch(srv, profile)["InstanceId"]
    before = srv.rolecall("ec2", "imds-endpoint", iid, "--endpoint-url", srv.url).stdout.strip()
    srv.stop()
    srv.start()
    after = srv.rolecall("ec2", "imds-endpoint", iid, "--endpoint-url", srv.url).stdout.strip()
    assert after == before
    port = int(after.rsplit(":", 1)[1])
    assert imds(port, "/latest/meta-data/instance-id").text == iid
    out = on_instance(srv, iid, sys.executable, "-c", BOTO3_WHOAMI)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["method"] == "iam-role"


# -- the AWS SDK for JavaScript v3 -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """A directory with the pinned JS SDK packages installed (once per package set) and whoami.mjs."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the JavaScript SDK test")
    pinned = (JS_DIR / "package.json").read_bytes() + (JS_DIR / "package-lock.json").read_bytes()
    where = Path(tempfile.gettempdir()) / f"rolecall-js-{hashlib.sha256(pinned).hexdigest()[:12]}"
    marker = where / ".installed"
    if not marker.exists():
        where.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(JS_DIR / name, where / name)
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
    shutil.copy(JS_DIR / "whoami.mjs", where / "whoami.mjs")
    return where


def test_javascript_sdk_instance_metadata_provider(srv, instance, js_sdk):
    out = on_instance(srv, instance["id"], "node", str(js_sdk / "whoami.mjs"), env=DECOYS)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["providerArn"] == expected_arn(instance)
    assert seen["defaultChainArn"] == expected_arn(instance)
    assert seen["accessKeyId"].startswith("ASIA")


def test_untrusted_role_gives_clients_no_credentials(srv):
    trust_lambda = EC2_TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com")
    _, profile = make_profile(srv, trust=trust_lambda)
    iid = launch(srv, profile)["InstanceId"]
    out = on_instance(srv, iid, sys.executable, "-c", BOTO3_WHOAMI)
    assert out.returncode != 0
    assert "NoCredentialsError" in out.stderr or "Unable to locate credentials" in out.stderr
