"""examples/s3_read_role_instance.py run as a user would, against `rolecall serve` on each store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.servers import Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "s3_read_role_instance.py"
ACCOUNT = "123456789012"
REPORTS, PAYROLL = f"example-reports-{ACCOUNT}", f"example-payroll-{ACCOUNT}"
# Keys a developer might have lying around: the application on the instance must not see them.
DECOYS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/EXAMPLEKEY"}


def run_example(srv: Server, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in srv.env().items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env={**base, **env},
        cwd=EXAMPLE.parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )


def instance_id(out: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith("launched instance "))
    return line.split()[2]


def assert_cleaned_up(srv: Server, iids: list[str]) -> None:
    iam, s3, ec2 = srv.client("iam"), srv.client("s3"), srv.client("ec2")
    for call in (
        lambda: iam.get_role(RoleName="S3-Read-Role"),
        lambda: iam.get_instance_profile(InstanceProfileName="S3-Read-Role"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not names & {REPORTS, PAYROLL}
    found = ec2.describe_instances(InstanceIds=iids)["Reservations"]
    states = {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}
    assert states == dict.fromkeys(iids, "terminated")


def test_instance_reads_s3_through_its_role(any_server):
    """Root keys from ROLECALL_ROOT_*, the endpoint from AWS_ENDPOINT_URL, as the README runs it."""
    result = run_example(any_server, env={"AWS_ENDPOINT_URL": any_server.url, **DECOYS})
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    iid = instance_id(out)
    assert f"  identity:    arn:aws:sts::{ACCOUNT}:assumed-role/S3-Read-Role/{iid}\n" in out
    assert "  credentials: iam-role (temporary key ASIA...)\n" in out
    assert f"  allowed  read s3://{REPORTS}/reports/2026.txt: '2026: revenue up 12%, costs flat\\n'" in out
    assert f"  refused  write s3://{REPORTS}/reports/written-by-the-instance.txt: AccessDenied" in out
    assert f"  refused  read s3://{PAYROLL}/salaries.csv: AccessDenied" in out
    trail = out.split(
        f"trail records of the instance's S3 calls (cloudtrail lookup-events, Username={iid}):"
    )[1]
    rows = [line.split() for line in trail.splitlines()[2:] if line.startswith("  ")]
    assert sorted(rows) == sorted(
        [
            ["ListObjectsV2", "allowed", "AssumedRole", "2.0", f"s3://{REPORTS}"],
            ["GetObject", "allowed", "AssumedRole", "2.0", f"s3://{REPORTS}/reports/2026.txt"],
            [
                "PutObject",
                "AccessDenied",
                "AssumedRole",
                "2.0",
                f"s3://{REPORTS}/reports/written-by-the-instance.txt",
            ],
            ["GetObject", "AccessDenied", "AssumedRole", "2.0", f"s3://{PAYROLL}/salaries.csv"],
        ]
    )
    assert "UNEXPECTED" not in out
    assert out.endswith("every expectation held\n")
    assert_cleaned_up(any_server, [iid])


@pytest.fixture(scope="module")
def file_keys_server(tmp_path_factory):
    """A server that generated its root keys itself and wrote them to DATA_DIR/credentials."""
    srv = Server(tmp_path_factory.mktemp("s3example"), env_root=False).start()
    yield srv
    srv.stop()


def test_exit_status_says_when_the_role_can_do_more(file_keys_server):
    """With AmazonS3ReadOnlyAccess added, the role reads every bucket: the example must fail."""
    srv = file_keys_server
    args = ("--endpoint-url", srv.url, "--data-dir", str(srv.data_dir))
    kept = run_example(srv, *args, "--keep", env={})
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert (
        "kept the instance, instance profile and role S3-Read-Role, and the buckets (--keep)" in kept.stdout
    )
    srv.client("iam").attach_role_policy(
        RoleName="S3-Read-Role", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )

    again = run_example(srv, *args, env={})
    out = again.stdout
    assert again.returncode == 1, out + again.stderr
    assert "using role arn:aws:iam::123456789012:role/S3-Read-Role" in out
    assert f"  allowed  read s3://{PAYROLL}/salaries.csv\n" in out
    assert f"  UNEXPECTED: the role should not be allowed to read s3://{PAYROLL}/salaries.csv" in out
    assert "UNEXPECTED: no trail record of GetObject ending AccessDenied" in out
    assert out.endswith("2 expectation(s) did not hold\n")
    # The failed run still cleaned up, the kept run's instance included.
    assert_cleaned_up(srv, [instance_id(kept.stdout), instance_id(out)])


def test_without_root_credentials_it_says_where_it_looked(file_keys_server, tmp_path):
    env = {"AWS_ENDPOINT_URL": file_keys_server.url}
    result = run_example(file_keys_server, "--data-dir", str(tmp_path), env=env)
    assert result.returncode != 0
    assert f"no {tmp_path}/credentials" in result.stderr and "ROLECALL_ROOT_ACCESS_KEY_ID" in result.stderr
