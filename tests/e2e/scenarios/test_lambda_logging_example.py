"""examples/lambda_logging_role.py run as a user would, against a server on each store."""

from __future__ import annotations

import json
import os
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

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lambda_logging_role.py"
ROLE = "rolecall-example-Lambda-Logging-Role"
FUNCTION = "rolecall-example-lambda-logging"
GROUP = f"/aws/lambda/{FUNCTION}"
EARLIER = "(left by an earlier run of this example)"


def run_example(srv: Server, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLECALL_"))}
    env.update(
        AWS_ACCESS_KEY_ID=srv.access_key,
        AWS_SECRET_ACCESS_KEY=srv.secret_key,
        AWS_ENDPOINT_URL=srv.url,
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args], env=env, capture_output=True, text=True, timeout=120
    )


def assert_cleaned_up(srv: Server) -> None:
    with pytest.raises(ClientError) as exc:
        srv.client("iam").get_role(RoleName=ROLE)
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        srv.client("lambda").get_function(FunctionName=FUNCTION)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert srv.client("logs").describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"] == []


def log_lines(out: str) -> list[str]:
    after = out.split(f"log lines in {GROUP}, stream ", 1)[1].split("\ncleaned up", 1)[0]
    return [line.strip() for line in after.splitlines()[1:]]


def test_twice_in_a_row_after_the_readme_walkthrough(any_server):
    """Each run prints what the README shows and deletes what it made; the user's resources stay."""
    users_instance = create_readme_instance_role(any_server)
    readme = console_sample(
        "## Example: a Lambda function logs through its service role",
        "python examples/lambda_logging_role.py",
    )
    for _ in range(2):
        result = run_example(any_server)
        out = result.stdout
        assert result.returncode == 0, out + result.stderr
        assert normalise(out.splitlines()) == normalise(readme)
        logs = log_lines(out)
        assert logs[0].startswith("START RequestId: ") and logs[0].endswith(" Version: $LATEST")
        request_id = logs[0].split()[2]
        assert logs[-2] == f"END RequestId: {request_id}"
        assert logs[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
        assert_cleaned_up(any_server)
    assert_readme_instance_role_intact(any_server, users_instance)


@pytest.fixture(scope="module")
def server_alone(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("lambdaexample")).start()
    yield srv
    srv.stop()


def test_a_kept_run_is_reused_and_deleted_by_the_next(server_alone):
    """--keep leaves the role, function and log group; with the policy detached the function's lines are
    lost; the next run puts the policy back on its own role, shows only its own invocation's lines, and
    deletes all three."""
    srv = server_alone
    kept = run_example(srv, "--keep")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert kept.stdout.endswith(
        "kept what this example created (--keep); a later run uses it, and deletes it\nevery expectation held\n"
    )
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    srv.client("iam").detach_role_policy(RoleName=ROLE, PolicyArn=basic)
    assert srv.client("lambda").invoke(FunctionName=FUNCTION)["StatusCode"] == 200

    again = run_example(srv)
    out = again.stdout
    assert again.returncode == 0, out + again.stderr
    assert f"using role arn:aws:iam::123456789012:role/{ROLE} {EARLIER}\n" in out
    assert f"replaced function {FUNCTION} {EARLIER}\n" in out
    assert f"using log group {GROUP} {EARLIER}\n" in out
    # One invocation's lines, though the group holds the kept run's too.
    assert sum(line.startswith("START RequestId: ") for line in log_lines(out)) == 1
    assert out.endswith(
        "cleaned up (only what this example created):\n"
        f"  deleted log group {GROUP}\n"
        f"  deleted function {FUNCTION}\n"
        f"  deleted role {ROLE}\n"
        "every expectation held\n"
    )
    assert_cleaned_up(srv)


def test_it_stops_at_a_name_it_did_not_create_and_leaves_that_alone(server_alone):
    """A log group of the example's name that it did not make is neither written to nor deleted; the role
    and function the run made before meeting it are deleted again."""
    srv = server_alone
    logs = srv.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="mine")
    try:
        result = run_example(srv)
        out = result.stdout
        assert result.returncode == 2, out + result.stderr
        assert (
            f"stopped: log group {GROUP} already exists and has no log stream "
            "rolecall-example=lambda-logging-role, so this example did not create it" in out
        )
        assert "invoked" not in out
        assert out.endswith(
            "cleaned up (only what this example created):\n"
            f"  deleted function {FUNCTION}\n"
            f"  deleted role {ROLE}\n"
        )
        streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["mine"]
    finally:
        logs.delete_log_group(logGroupName=GROUP)


def test_a_role_it_did_not_create_is_neither_changed_nor_deleted(server_alone):
    srv = server_alone
    iam = srv.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    try:
        result = run_example(srv)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout == (
            f"stopped: role {ROLE} already exists and has no tag rolecall-example=lambda-logging-role, so "
            "this example did not create it; it neither uses nor deletes it. Delete or rename it if it is "
            "yours to, then run the example again.\n"
            "cleaned up: nothing to delete\n"
        )
        assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
        with pytest.raises(ClientError):
            srv.client("lambda").get_function(FunctionName=FUNCTION)
    finally:
        iam.delete_role(RoleName=ROLE)
