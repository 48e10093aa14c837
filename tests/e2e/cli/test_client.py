"""rolecall's client commands in a shell that pasted the banner's export lines and has nothing else: a
server started with --data-dir DIR (not ~/.rolecall), `ec2 exec`, `role revoke-sessions`, `account create`
and `account list`, the S3 example; instances of another account; instances that are not running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.ec2.helpers import AMI, EC2_TRUST, doc, launch, make_profile
from tests.servers import Server

ROOT = Path(__file__).resolve().parents[3]
OTHER = "210987654321"
WHOAMI = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """An empty HOME: no ~/.rolecall, no ~/.aws, so only the pasted exports can lead anywhere."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A server with its own data dir, generated root keys and master key, as a user starts one."""
    s = Server(tmp_path_factory.mktemp("elsewhere"), env_root=False, master_key_env=False).start()
    yield s
    s.stop()


def pasted(
    srv: Server, home: Path, script: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`script` run by bash after the banner's export lines, as pasted, in an environment with no other
    AWS_* or ROLECALL_* variable and an empty HOME."""
    exports = [line.strip() for line in srv.output().splitlines() if line.startswith("  export ")]
    assert exports[-1].startswith(f"export ROLECALL_DATA_DIR={srv.data_dir}")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLECALL_"))}
    base.update(HOME=str(home), AWS_PAGER="", PATH=f"{Path(sys.executable).parent}{os.pathsep}{base['PATH']}")
    return subprocess.run(
        ["bash", "-c", "\n".join([*exports, script])],
        env={**base, **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_banner_exports_are_all_the_commands_need(srv, home):
    role, profile = make_profile(srv, doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}))
    iid = launch(srv, profile)["InstanceId"]
    ran = pasted(srv, home, f'rolecall ec2 exec {iid} -- python -c "{WHOAMI}"')
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"arn:aws:sts::{srv.account}:assumed-role/{role['RoleName']}/{iid}\n"

    ran = pasted(srv, home, f"rolecall ec2 imds-endpoint {iid}")
    assert ran.returncode == 0 and ran.stdout.startswith("http://127.0.0.1:"), ran.stderr

    ran = pasted(srv, home, f"rolecall role revoke-sessions {role['RoleName']}")
    assert ran.returncode == 0, ran.stderr
    names = srv.client("iam").list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    assert "AWSRevokeOlderSessions" in names

    ran = pasted(srv, home, "python examples/s3_read_role_instance.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.endswith("every expectation held\n")
    assert not (home / ".rolecall").exists()  # nothing went to the default data dir


def test_account_create_saves_a_profile_and_account_list_shows_it(srv, home):
    ran = pasted(srv, home, f"rolecall account create --account-id {OTHER}")
    assert ran.returncode == 0, ran.stderr
    created = json.loads(ran.stdout)  # stdout is the JSON alone
    creds_file = srv.data_dir / "credentials"
    assert created["AccountId"] == OTHER
    assert f"Saved as profile rolecall-{OTHER} in {creds_file}." in ran.stderr
    assert f"export AWS_SHARED_CREDENTIALS_FILE={creds_file} AWS_PROFILE=rolecall-{OTHER}" in ran.stderr
    text = creds_file.read_text()
    assert "[rolecall]\n" in text and f"[rolecall-{OTHER}]\n" in text  # the default profile is kept
    assert oct(creds_file.stat().st_mode & 0o777) == "0o600"

    # The profile works as the new account's root, for the AWS CLI as for rolecall's commands.
    ran = pasted(
        srv, home, f"aws sts get-caller-identity --profile rolecall-{OTHER} --query Arn --output text"
    )
    assert ran.stdout == f"arn:aws:iam::{OTHER}:root\n", ran.stderr

    ran = pasted(srv, home, "rolecall account list")
    assert ran.returncode == 0, ran.stderr
    rows = [line.split() for line in ran.stdout.splitlines()]
    assert rows[0] == ["ACCOUNT", "CREATED", "ROOT", "KEYS", "PROFILE"]
    assert [(r[0], r[2], r[3]) for r in rows[1:3]] == [
        (srv.account, srv.access_key, "rolecall"),
        (OTHER, created["AccessKeyId"], f"rolecall-{OTHER}"),
    ]
    assert created["SecretAccessKey"] not in ran.stdout and srv.secret_key not in ran.stdout

    listed = json.loads(pasted(srv, home, "rolecall account list --output json").stdout)
    other = next(a for a in listed["Accounts"] if a["AccountId"] == OTHER)
    assert other["RootAccessKeyIds"] == [created["AccessKeyId"]] and other["Profiles"] == [
        f"rolecall-{OTHER}"
    ]
    assert other["CreateDate"].endswith("Z") and "Secret" not in json.dumps(listed)

    dup = pasted(srv, home, f"rolecall account create --account-id {OTHER}")
    assert dup.returncode == 1 and dup.stderr == f"rolecall: account {OTHER} already exists\n"


def test_account_create_refuses_a_master_key_the_server_does_not_use(srv, home):
    ran = pasted(
        srv, home, "rolecall account create --account-id 333333333333", env={"ROLECALL_MASTER_KEY": "0" * 64}
    )
    assert ran.returncode == 1 and "master key" in ran.stderr, ran.stderr
    assert ran.stdout == ""
    assert "333333333333" not in pasted(srv, home, "rolecall account list").stdout
    assert "rolecall-333333333333" not in (srv.data_dir / "credentials").read_text()


def other_account_instance(srv: Server, home: Path, **kw) -> tuple[str, str]:
    """(instance id, role name): an instance with a role, in account OTHER, launched as its root."""
    if OTHER not in pasted(srv, home, "rolecall account list").stdout:
        assert pasted(srv, home, f"rolecall account create --account-id {OTHER}").returncode == 0
    from rolecall.credentials.accounts import read_credentials_file

    key, secret = read_credentials_file(srv.data_dir, f"rolecall-{OTHER}")
    iam, ec2 = srv.client("iam", key, secret), srv.client("ec2", key, secret)
    name = f"other-{os.urandom(3).hex()}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    iid = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name}, **kw)[
        "Instances"
    ][0]["InstanceId"]
    return iid, name


def test_exec_runs_on_another_accounts_instance(srv, home):
    iid, role = other_account_instance(srv, home)
    want = f"arn:aws:sts::{OTHER}:assumed-role/{role}/{iid}\n"
    # The banner's AWS_PROFILE is the default account's root: the owning account is found in the data
    # dir's credentials file.
    ran = pasted(srv, home, f'rolecall ec2 exec {iid} -- python -c "{WHOAMI}"')
    assert (ran.returncode, ran.stdout) == (0, want), ran.stderr
    # Named explicitly, by --profile or by the exported AWS_PROFILE.
    ran = pasted(srv, home, f'rolecall ec2 exec --profile rolecall-{OTHER} {iid} -- python -c "{WHOAMI}"')
    assert (ran.returncode, ran.stdout) == (0, want), ran.stderr
    ran = pasted(
        srv, home, f'export AWS_PROFILE=rolecall-{OTHER}\nrolecall ec2 exec {iid} -- python -c "{WHOAMI}"'
    )
    assert (ran.returncode, ran.stdout) == (0, want), ran.stderr
    # An explicit --profile is the only account asked.
    ran = pasted(srv, home, f"rolecall ec2 exec --profile rolecall {iid} -- true")
    assert ran.returncode == 1
    assert ran.stderr == (
        f"rolecall: InvalidInstanceID.NotFound: The instance ID '{iid}' does not exist "
        f"(looked in account {srv.account}, as --profile rolecall)\n"
    )
    missing = pasted(srv, home, "rolecall ec2 exec --profile nobody i-0123456789abcdef0 -- true")
    assert missing.returncode == 1 and "no profile nobody" in missing.stderr


@pytest.mark.parametrize("other_account", [False, True])
def test_exec_on_a_stopped_or_terminated_instance_says_so(srv, home, other_account):
    if other_account:
        iid, _ = other_account_instance(srv, home)
        from rolecall.credentials.accounts import read_credentials_file

        ec2 = srv.client("ec2", *read_credentials_file(srv.data_dir, f"rolecall-{OTHER}"))
    else:
        _, profile = make_profile(srv)
        iid, ec2 = launch(srv, profile)["InstanceId"], srv.client("ec2")
    waiter = {"Delay": 1, "MaxAttempts": 30}
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=waiter)
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=waiter)
    for command in (f"rolecall ec2 exec {iid} -- echo ran", f"rolecall ec2 imds-endpoint {iid}"):
        ran = pasted(srv, home, command)
        assert (ran.returncode, ran.stdout) == (1, "")
        assert ran.stderr == (
            f"rolecall: instance {iid} is stopped, not running: start it first: "
            f"aws ec2 start-instances --instance-ids {iid}\n"
        )
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=waiter)
    ran = pasted(srv, home, f"rolecall ec2 exec {iid} -- echo ran")
    assert (ran.returncode, ran.stdout) == (1, "")
    assert ran.stderr == (
        f"rolecall: instance {iid} is terminated, not running: a terminated instance has no metadata "
        "endpoint and runs nothing\n"
    )
