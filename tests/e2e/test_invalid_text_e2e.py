"""A lone surrogate sent through a real SDK is refused before anything is stored, so the listings that would
have had to read it back keep working (the attack once left ListFunctions answering 500 for good)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError


def zipped(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", source)
    return buf.getvalue()


def test_a_lone_surrogate_is_refused_and_nothing_is_stored(server):
    logs = server.client("logs")
    with pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName="bad-\ud800-group")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Code"] == "SerializationException"
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert not any("bad-" in n for n in names)

    lam = server.client("lambda")
    with pytest.raises(ClientError) as caught:
        lam.create_function(
            FunctionName="surrogate-env",
            Runtime="python3.12",
            Role="arn:aws:iam::123456789012:role/none",
            Handler="handler.main",
            Code={"ZipFile": zipped("def main(e, c):\n    return 1\n")},
            Environment={"Variables": {"K": "v\udfff"}},
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    listed = lam.list_functions()
    assert listed["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert all(f["FunctionName"] != "surrogate-env" for f in listed["Functions"])
    json.dumps(listed, default=str)  # what came back is valid text
