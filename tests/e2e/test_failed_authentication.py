"""A request that fails authentication leaves no record in any account's trail -- the caller proved none, and
a known key id is no proof -- and nothing it sent in the record it does leave: a secret pasted into the
key-id slot or the Authorization header must not become readable in a trail."""

from __future__ import annotations

import json

import pytest
import urllib3
from botocore.exceptions import ClientError

from rolecall.audit.records import UNAUTHENTICATED
from tests.servers import InProcessServer

PASTED_SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETxKEY"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("failed-auth")).start()
    yield s
    s.stop()


def trail_text(srv, account: str) -> str:
    srv.pipeline.flush_trail()
    records, _ = srv.store.lookup_events(
        account, attribute=None, start=None, end=None, max_results=50, next_token=None
    )
    return json.dumps(records)


def test_a_secret_in_the_key_id_slot_is_recorded_nowhere(srv):
    # The secret where the key id belongs, and a key of the default account with the wrong secret.
    for key_id, secret in ((PASTED_SECRET[:20], "x" * 40), (srv.access_key, PASTED_SECRET)):
        with pytest.raises(ClientError) as exc:
            srv.client("iam", key_id, secret).list_users()
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A hand-made Authorization header carrying the secret in its Credential, which IAM echoes back.
    header = f"AWS4-HMAC-SHA256 Credential={PASTED_SECRET}/20260101/us-east-1/iam, SignedHeaders=host, Signature=00"
    answer = urllib3.PoolManager().request(
        "POST",
        srv.url + "/",
        body="Action=ListUsers&Version=2010-05-08",
        headers={
            "Authorization": header,
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Amz-Date": "20260101T000000Z",
        },
    )
    assert answer.status in (400, 403)

    account_trail = trail_text(srv, srv.account)
    assert PASTED_SECRET not in account_trail and PASTED_SECRET[:20] not in account_trail
    assert '"errorCode": "InvalidClientTokenId"' not in account_trail
    assert '"errorCode": "SignatureDoesNotMatch"' not in account_trail

    unauthenticated = trail_text(srv, UNAUTHENTICATED)
    assert PASTED_SECRET not in unauthenticated and PASTED_SECRET[:20] not in unauthenticated
    records = json.loads(unauthenticated)
    codes = {r["errorCode"] for r in records}
    assert {"InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature"} <= codes
    for r in records:
        assert r["userIdentity"] == {} and r["requestParameters"] is None
        assert r["eventName"] in ("ListUsers", "Unknown")
