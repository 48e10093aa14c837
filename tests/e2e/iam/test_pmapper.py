"""PMapper's `graph create` against rolecall, unmodified, through boto3's endpoint setting alone.

Skipped unless principalmapper is installed (it is not a test dependency: `pip install principalmapper` to
run it). PMapper 1.1.5 imports collections.Mapping, which Python 3.10 removed; the runner aliases the
abc names before importing it. That is PMapper's own incompatibility with new Pythons, not a change to how
it talks to rolecall.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.helpers import allow, name

pytest.importorskip("principalmapper")

RUN_PMAPPER = """
import collections, collections.abc, sys
collections.Mapping = collections.abc.Mapping
collections.MutableMapping = collections.abc.MutableMapping
from principalmapper.__main__ import main
sys.argv = ["pmapper", *sys.argv[1:]]
sys.exit(main())
"""


def test_pmapper_graph_create_finds_the_edges(server, tmp_path):
    iam = server.client("iam")
    user, role = name("pm-user"), name("pm-admin")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=allow("sts:AssumeRole"))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_virtual_mfa_device(VirtualMFADeviceName=name("pm-device"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),  # PMapper keeps its graphs under the user's data dir
        XDG_DATA_HOME=str(tmp_path / "data"),
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.url,
    )
    out = subprocess.run(
        [sys.executable, "-c", RUN_PMAPPER, "graph", "create", "--include-regions", "us-east-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Gathering MFA virtual device information" in out.stdout + out.stderr
    assert f"user/{user} can access via sts:AssumeRole role/{role}" in out.stdout + out.stderr
