"""examples/lambda_logging_role.py run as a user would, against a server on each store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lambda_logging_role.py"


def run_example(srv) -> subprocess.CompletedProcess:
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
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=120
    )


def test_lambda_logging_role_example(any_server):
    result = run_example(any_server)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "created role arn:aws:iam::123456789012:role/Lambda-Logging-Role" in out
    assert "result {'greeting': 'hello, rolecall'}" in out
    logs = out.split("log lines in /aws/lambda/lambda-logging-example:", 1)[1].splitlines()
    logs = [line.strip() for line in logs if line.strip()]
    assert logs[0].startswith("START RequestId: ") and logs[0].endswith(" Version: $LATEST")
    assert "Hello from lambda-logging-example, invoked with {'name': 'rolecall'}" in logs
    assert (
        "running as arn:aws:sts::123456789012:assumed-role/Lambda-Logging-Role/lambda-logging-example" in logs
    )
    assert logs[-2].startswith("END RequestId: ") and logs[-1].startswith("REPORT RequestId: ")
    # A second run reuses the role and replaces the function.
    again = run_example(any_server)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "using role arn:aws:iam::123456789012:role/Lambda-Logging-Role" in again.stdout
