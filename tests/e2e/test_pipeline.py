"""The request path over the wire (rolecall/pipeline.py): what it answers for an operation rolecall does
not implement."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import err


def test_unimplemented_operation_is_a_clear_error(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.list_service_specific_credentials()
    code, message, status = err(exc)
    assert code == "NotImplemented" and "ListServiceSpecificCredentials" in message and status == 501


def test_every_request_of_a_concurrent_burst_has_its_trail_record(any_server):
    """Reads are recorded by the trail writer in batches, off the request path: after a burst from many
    clients at once, LookupEvents shows exactly one record per request, none lost and none doubled."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    iam = any_server.client("iam")
    role = f"burst-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))

    def calls(_: int) -> int:
        client = any_server.client("iam")
        for _ in range(40):
            assert client.get_role(RoleName=role)["Role"]["RoleName"] == role
        return 40

    with ThreadPoolExecutor(8) as pool:
        sent = sum(pool.map(calls, range(8)))
    pages = (
        any_server.client("cloudtrail")
        .get_paginator("lookup_events")
        .paginate(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": role}])
    )
    events = [e for page in pages for e in page["Events"]]
    names = [e["EventName"] for e in events]
    ids = [json.loads(e["CloudTrailEvent"])["requestID"] for e in events]
    assert names.count("GetRole") == sent == 320
    assert names.count("CreateRole") == 1
    assert len(set(ids)) == len(ids)
