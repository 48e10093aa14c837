"""Authentication over the wire (rolecall/authn.py): unknown keys, wrong secrets, unsigned requests."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import err


def test_authentication_failures(server):
    sts = server.client("sts", "AKIAUNKNOWNKEY000000", "x" * 40)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert err(exc) == ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    sts = server.client("sts", server.access_key, "wrong-secret")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert err(exc)[0] == "SignatureDoesNotMatch" and err(exc)[2] == 403
    assert "wrong-secret" not in err(exc)[1] and server.secret_key not in err(exc)[1]
    import urllib3

    r = urllib3.PoolManager().request(
        "POST",
        server.url + "/",
        body="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 403 and b"MissingAuthenticationToken" in r.data
