"""CloudWatch Logs filter patterns (rolecall/services/logs/filter.py): terms, quoting, any-of and
exclusions."""

from __future__ import annotations

import pytest


def test_filter_pattern_terms():
    from rolecall.services.logs.filter import BadFilterPattern, parse_filter_pattern

    p = parse_filter_pattern(r'ERROR "said \"no\"" ?alpha ?beta -skip')
    assert p.required == ("ERROR", 'said "no"') and p.any_of == ("alpha", "beta") and p.excluded == ("skip",)
    assert p.matches('ERROR: he said "no" to beta')
    assert not p.matches('error: he said "no" to beta')  # case-sensitive
    assert not p.matches('ERROR: he said "no" to beta, skip')
    assert not p.matches('ERROR: he said "no" to gamma')
    assert parse_filter_pattern("").matches("anything") and parse_filter_pattern("  ").matches("")
    assert parse_filter_pattern("GET - 200").required == ("GET", "-", "200")
    for bad in ('"unterminated', 'mid"quote', "{ $.a = }", "[ip, user]", "%ERR.*%"):
        with pytest.raises(BadFilterPattern):
            parse_filter_pattern(bad)
