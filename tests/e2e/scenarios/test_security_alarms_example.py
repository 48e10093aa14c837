"""examples/security_alarms.py run as a user would: an AccessDenied spike and a role assumed from another
account each set off an alarm whose notification reaches the SNS inbox, through a trail delivering to
CloudWatch Logs, metric filters and CloudWatch alarms."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import Server

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "security_alarms.py"
OTHER = "210987654321"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(
        tmp_path_factory.mktemp("alarms"),
        extra_args=["--trail-delivery-interval", "1", "--alarm-evaluation-interval", "1"],
    ).start()
    yield s
    s.stop()


def test_the_alarms_go_off_and_notify(srv):
    out = srv.rolecall("account", "create", "--account-id", OTHER, *srv.store_args())
    assert out.returncode == 0, out.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLECALL_"))}
    env.update(
        AWS_ENDPOINT_URL=srv.url,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=srv.access_key,
        AWS_SECRET_ACCESS_KEY=srv.secret_key,
        AWS_SHARED_CREDENTIALS_FILE=str(srv.data_dir / "credentials"),
    )
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--other-profile", f"rolecall-{OTHER}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert 'inbox: ALARM: "rolecall-example-AccessDenied" in us-east-1' in lines
    assert 'inbox: ALARM: "rolecall-example-ForeignAssumeRole" in us-east-1' in lines
    assert lines[-1] == "every expectation held"
    # Cleaned up: the trail, its bucket and the alarms are gone.
    assert srv.client("cloudtrail").describe_trails()["trailList"] == []
    assert srv.client("cloudwatch").describe_alarms(AlarmNamePrefix="rolecall-example-")["MetricAlarms"] == []
