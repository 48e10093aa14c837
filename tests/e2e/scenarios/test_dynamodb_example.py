"""examples/dynamodb_instance_role.py run as a user would, against `rolecall serve` on each store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.servers import Server

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "dynamodb_instance_role.py"
ACCOUNT = "123456789012"
ROLE = "rolecall-example-DynamoDB-Read-Role"
TABLE = "rolecall-example-instance-notes"
DECOYS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/EXAMPLEKEY"}


def run_example(srv: Server, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in srv.env().items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env={**base, **env},
        cwd=EXAMPLE.parents[1],
        capture_output=True,
        text=True,
        timeout=180,
    )


def launched(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("launched instances "))
    return line.split()[2:4]


def assert_cleaned_up(srv: Server, iids: list[str]) -> None:
    iam, ec2, ddb = srv.client("iam"), srv.client("ec2"), srv.client("dynamodb")
    with pytest.raises(ClientError) as role:
        iam.get_role(RoleName=ROLE)
    assert role.value.response["Error"]["Code"] == "NoSuchEntity"
    assert TABLE not in ddb.list_tables()["TableNames"]
    found = ec2.describe_instances(InstanceIds=iids)["Reservations"]
    assert {i["State"]["Name"] for r in found for i in r["Instances"]} == {"terminated"}


def test_each_instance_reads_only_its_own_items(any_server):
    """The instance reads its own item and partition; another instance's item, a scan and a write are refused
    with AccessDeniedException, and the trail shows each call as the instance's role session."""
    result = run_example(any_server, env={"AWS_ENDPOINT_URL": any_server.url, **DECOYS})
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    first, second = launched(out)
    assert f"  identity:    arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{first}\n" in out
    assert "  credentials: iam-role (temporary key ASIA...)\n" in out
    assert f"  allowed  get my item (owner = my aws:userid): 'hello, {first}'\n" in out
    assert "  allowed  query my partition: 1 item(s)\n" in out
    for refused in ("get another instance's item", "scan the whole table", "write my item"):
        assert f"  refused  {refused}: AccessDeniedException\n" in out
    assert "UNEXPECTED" not in out and second not in out.split("on instance ")[1].split("trail records")[
        0
    ].replace(f":{second}", "")
    trail = out.split("trail records of the instance's DynamoDB calls")[1].split("cleaned up")[0]
    rows = sorted(line.split()[:2] for line in trail.splitlines()[1:])
    assert rows == sorted(
        [["GetItem", "allowed"], ["Query", "allowed"], ["GetItem", "AccessDenied"], ["Scan", "AccessDenied"],
         ["PutItem", "AccessDenied"]]
    )  # fmt: skip
    assert_cleaned_up(any_server, [first, second])


def test_a_table_it_did_not_create_is_left_alone(any_server):
    if any_server.database_url:
        pytest.skip("what the example does with a name it does not own is the same on either store")
    ddb = any_server.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "users-data"}})
    try:
        result = run_example(any_server, env={"AWS_ENDPOINT_URL": any_server.url})
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"stopped: table {TABLE} already exists and has no item" in result.stdout
        assert result.stdout.endswith("cleaned up: nothing to delete\n")
        assert ddb.scan(TableName=TABLE)["Items"] == [{"id": {"S": "users-data"}}]
        assert json.loads(json.dumps(ddb.describe_table(TableName=TABLE)["Table"]["KeySchema"])) == [
            {"AttributeName": "id", "KeyType": "HASH"}
        ]
    finally:
        ddb.delete_table(TableName=TABLE)
