"""examples/s3_read_role_instance.py run as a user would, against `rolecall serve` on each store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.e2e.scenarios.readme import (
    assert_readme_instance_role_intact,
    console_sample,
    create_readme_instance_role,
    normalise,
)
from tests.servers import Server

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "s3_read_role_instance.py"
ACCOUNT = "123456789012"
ROLE = "rolecall-example-S3-Read-Role"
REPORTS, PAYROLL = f"rolecall-example-reports-{ACCOUNT}", f"rolecall-example-payroll-{ACCOUNT}"
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
        lambda: iam.get_role(RoleName=ROLE),
        lambda: iam.get_instance_profile(InstanceProfileName=ROLE),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not names & {REPORTS, PAYROLL}
    found = ec2.describe_instances(InstanceIds=iids)["Reservations"]
    states = {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}
    assert states == dict.fromkeys(iids, "terminated")


def assert_first_run_output(out: str) -> None:
    """A run that found nothing of the example's prints what the README shows, line for line."""
    iid = instance_id(out)
    assert f"  identity:    arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{iid}\n" in out
    assert "  credentials: iam-role (temporary key ASIA...)\n" in out
    trail = out.split(
        f"trail records of the instance's S3 calls (cloudtrail lookup-events, Username={iid}):"
    )[1]
    rows = [line.split() for line in trail.split("cleaned up")[0].splitlines()[2:]]
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
    # Line for line as the README shows it, but for the trail's rows: their order is only to the second.
    readme = console_sample(
        "## Example: an instance reads S3 through its role", "python examples/s3_read_role_instance.py"
    )
    assert split_at_trail_rows(normalise(out.splitlines())) == split_at_trail_rows(normalise(readme))


def split_at_trail_rows(lines: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The lines before the trail's rows, the rows (sorted) and the lines after them."""
    start = lines.index("eventName outcome userIdentity ec2RoleDelivery resource") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("cleaned up"))
    return lines[:start], sorted(lines[start:end]), lines[end:]


def test_twice_in_a_row_after_the_readme_walkthrough(any_server):
    """Root keys from ROLECALL_ROOT_*, the endpoint from AWS_ENDPOINT_URL, as the README runs it; the
    README's own S3-Read-Role, its profile and its instance are there, and stay as they were."""
    users_instance = create_readme_instance_role(any_server)
    iids = []
    for _ in range(2):
        result = run_example(any_server, env={"AWS_ENDPOINT_URL": any_server.url, **DECOYS})
        out = result.stdout
        assert result.returncode == 0, out + result.stderr
        assert_first_run_output(out)
        assert "UNEXPECTED" not in out and "S3-Read-Role" not in out.replace(ROLE, "")
        iids.append(instance_id(out))
        assert_cleaned_up(any_server, iids)
    assert_readme_instance_role_intact(any_server, users_instance)


@pytest.fixture(scope="module")
def file_keys_server(tmp_path_factory):
    """A server that generated its root keys itself and wrote them to DATA_DIR/credentials."""
    srv = Server(tmp_path_factory.mktemp("s3example"), env_root=False).start()
    yield srv
    srv.stop()


def test_a_kept_run_is_reused_and_the_exit_status_says_when_the_role_can_do_more(file_keys_server):
    """A --keep run's role is the example's own: the next run uses it, and deletes it with the rest.

    With AmazonS3ReadOnlyAccess added to that role, it reads every bucket: the example must fail.
    """
    srv = file_keys_server
    args = ("--endpoint-url", srv.url, "--data-dir", str(srv.data_dir))
    kept = run_example(srv, *args, "--keep", env={})
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert kept.stdout.endswith(
        "kept what this example created (--keep); a later run uses it, and deletes it\n"
        "every expectation held\n"
    )
    srv.client("iam").attach_role_policy(
        RoleName=ROLE, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )

    again = run_example(srv, *args, env={})
    out = again.stdout
    assert again.returncode == 1, out + again.stderr
    earlier = "(left by an earlier run of this example)"
    assert f"using bucket {REPORTS} with reports/2026.txt {earlier}\n" in out
    assert f"using role arn:aws:iam::123456789012:role/{ROLE} {earlier}\n" in out
    assert f"using instance profile arn:aws:iam::123456789012:instance-profile/{ROLE} {earlier}\n" in out
    assert f"found instance {instance_id(kept.stdout)} {earlier}\n" in out
    assert f"  allowed  read s3://{PAYROLL}/salaries.csv\n" in out
    assert f"  UNEXPECTED: the role should not be allowed to read s3://{PAYROLL}/salaries.csv" in out
    assert "UNEXPECTED: no trail record of GetObject ending AccessDenied" in out
    assert f"  terminated instance {instance_id(kept.stdout)} (left by an earlier run)\n" in out
    assert out.endswith("2 expectation(s) did not hold\n")
    # The failed run still cleaned up, the kept run's instance included.
    assert_cleaned_up(srv, [instance_id(kept.stdout), instance_id(out)])


def test_it_stops_at_a_name_it_did_not_create_and_leaves_that_alone(file_keys_server):
    """A role of the example's name that the example did not make: it is neither used, changed nor deleted;
    what the run made before meeting it is deleted again."""
    srv = file_keys_server
    iam = srv.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust), Tags=[{"Key": "a", "Value": "b"}]
    )
    try:
        args = ("--endpoint-url", srv.url, "--data-dir", str(srv.data_dir))
        result = run_example(srv, *args, env={})
        out = result.stdout
        assert result.returncode == 2, out + result.stderr
        assert (
            f"stopped: role {ROLE} already exists and has no tag rolecall-example=s3-read-role, so this "
            "example did not create it; it neither uses nor deletes it." in out
        )
        assert out.endswith(
            "cleaned up (only what this example created):\n"
            f"  deleted bucket {PAYROLL} and its objects\n"
            f"  deleted bucket {REPORTS} and its objects\n"
        )
        role = iam.get_role(RoleName=ROLE)["Role"]
        assert role["AssumeRolePolicyDocument"] == trust and role["Tags"] == [{"Key": "a", "Value": "b"}]
        assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []
        assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
        assert not {b["Name"] for b in srv.client("s3").list_buckets()["Buckets"]} & {REPORTS, PAYROLL}
    finally:
        iam.delete_role(RoleName=ROLE)


def test_a_bucket_it_did_not_create_is_left_alone(file_keys_server):
    """In us-east-1 CreateBucket succeeds on one's own bucket: the example must not take that as its own."""
    srv = file_keys_server
    s3 = srv.client("s3")
    s3.create_bucket(Bucket=PAYROLL)
    s3.put_object(Bucket=PAYROLL, Key="mine.txt", Body=b"the user's")
    args = ("--endpoint-url", srv.url, "--data-dir", str(srv.data_dir))
    result = run_example(srv, *args, env={})
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"stopped: bucket {PAYROLL} already exists and has no object .rolecall-example" in result.stdout
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=PAYROLL)["Contents"]]
    assert keys == ["mine.txt"]
    assert s3.get_object(Bucket=PAYROLL, Key="mine.txt")["Body"].read() == b"the user's"
    assert REPORTS not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_without_root_credentials_it_says_where_it_looked(file_keys_server, tmp_path):
    env = {"AWS_ENDPOINT_URL": file_keys_server.url}
    result = run_example(file_keys_server, "--data-dir", str(tmp_path), env=env)
    assert result.returncode != 0
    assert f"no {tmp_path}/credentials" in result.stderr and "ROLECALL_ROOT_ACCESS_KEY_ID" in result.stderr
