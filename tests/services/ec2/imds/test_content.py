"""What the instance metadata service serves (rolecall/services/ec2/imds/content.py): when credentials
rotate."""

from __future__ import annotations

from rolecall.services.ec2.imds.content import needs_rotation


def test_rotation_thresholds():
    hour = 3600
    assert not needs_rotation(0, 6 * hour, 6 * hour - 300)  # exactly 5 minutes left: still current
    assert needs_rotation(0, 6 * hour, 6 * hour - 299)
    assert not needs_rotation(0, 600, 300)  # a 10-minute lifetime is not short: 5 minutes
    assert needs_rotation(0, 600, 301)
    assert not needs_rotation(0, 480, 240)  # under 10 minutes: at half-life
    assert needs_rotation(0, 480, 241)
