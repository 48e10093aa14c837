"""Instance credentials rotate by the server's clock: new ones near expiry, old ones good until they expire."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ec2.helpers import client_with, code, instance_credentials, launch, make_profile
from tests.servers import InProcessServer


@pytest.fixture
def srv(tmp_path):
    # Its own server: these tests move the clock far ahead.
    s = InProcessServer(tmp_path).start()
    yield s
    s.stop()


def test_short_lifetime_rotates_at_half_life_and_old_credentials_expire(srv):
    srv.config.instance_credential_ttl = 480
    _, profile = make_profile(srv)
    iid = launch(srv, profile)["InstanceId"]
    first = instance_credentials(srv, iid)
    srv.clock.advance(240)
    assert instance_credentials(srv, iid)["AccessKeyId"] == first["AccessKeyId"]
    srv.clock.advance(1)  # 239 seconds left of 480: less than half
    second = instance_credentials(srv, iid)
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert second["LastUpdated"] > first["LastUpdated"] and second["Expiration"] > first["Expiration"]
    assert instance_credentials(srv, iid)["AccessKeyId"] == second["AccessKeyId"]
    # The old credentials still work until they expire...
    client_with(srv, "sts", first).get_caller_identity()
    srv.clock.advance(240)
    with pytest.raises(ClientError) as exc:
        client_with(srv, "sts", first).get_caller_identity()
    assert code(exc) == "ExpiredToken"
    # ...while the new ones go on.
    client_with(srv, "sts", second).get_caller_identity()


def test_normal_lifetime_rotates_five_minutes_before_expiry(srv):
    srv.config.instance_credential_ttl = 3600
    _, profile = make_profile(srv)
    iid = launch(srv, profile)["InstanceId"]
    first = instance_credentials(srv, iid)
    srv.clock.advance(3300)
    assert instance_credentials(srv, iid)["AccessKeyId"] == first["AccessKeyId"]
    srv.clock.advance(1)
    assert instance_credentials(srv, iid)["AccessKeyId"] != first["AccessKeyId"]
