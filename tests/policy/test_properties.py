"""Property tests: the wildcard and ARN matchers against small reference implementations, and a fuzz
of Policy.parse (any input gives a Policy or MalformedPolicy, and a parsed policy always evaluates).

References (AWS IAM User Guide): "*" matches any run of characters (including none and '/'), "?"
exactly one; Action matching ignores case, Resource and String/Arn conditions do not; ArnLike splits
an ARN into six parts on its first five colons and matches the parts separately, case-sensitively.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolecall.policy import MalformedPolicy, Policy, Request, evaluate
from rolecall.policy.matching import arn_match, wildcard_match
from tests.policy.scaling import growth

FAST = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# ---- Reference matchers ---------------------------------------------------------------------------


def ref_glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """Dynamic-programming glob: '*' any run, '?' one character, everything else literal."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    # reach[j]: pattern[:i] matches value[:j]
    reach = [True] + [False] * len(value)
    for p in pattern:
        if p == "*":
            for j in range(1, len(value) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            nxt = [False] * (len(value) + 1)
            for j in range(1, len(value) + 1):
                nxt[j] = reach[j - 1] and (p == "?" or p == value[j - 1])
            reach = nxt
    return reach[len(value)]


def ref_arn(pattern: str, arn: str) -> bool:
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(ref_glob(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def test_reference_glob_sanity() -> None:
    assert ref_glob("a*c", "abbbc") and ref_glob("*", "") and ref_glob("a?c", "abc")
    assert not ref_glob("a?c", "ac") and not ref_glob("abc", "ABC") and ref_glob("abc", "ABC", False)
    assert ref_arn("arn:aws:s3:::b/*", "arn:aws:s3:::b/x:y")
    assert not ref_arn("arn:aws:*:x", "arn:aws:s3:x")


# ---- Strategies -----------------------------------------------------------------------------------

VALUE_CHARS = "abAB/-.:"
PATTERN_CHARS = VALUE_CHARS + "*?"
values = st.text(alphabet=VALUE_CHARS, max_size=12)
patterns = st.text(alphabet=PATTERN_CHARS, max_size=10)


@st.composite
def pattern_and_near_value(draw: st.DrawFn) -> tuple[str, str]:
    """A pattern and a value built from it, so that matches are common, then maybe mutated."""
    pattern = draw(patterns)
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(draw(st.text(alphabet=VALUE_CHARS, max_size=3)))
        elif ch == "?":
            out.append(draw(st.sampled_from(VALUE_CHARS)))
        else:
            out.append(ch)
    value = "".join(out)
    if draw(st.booleans()):
        value = draw(st.sampled_from([value.upper(), value.lower(), value[:-1], value + "a", "x" + value]))
    return pattern, value


SEGMENT_VALUE = "abA/-."
SEGMENT_PATTERN = SEGMENT_VALUE + "*?"


@st.composite
def arn_pair(draw: st.DrawFn) -> tuple[str, str]:
    """Six-part pattern and six-part value; the last part of either may hold colons."""
    pattern_parts = [draw(st.text(alphabet=SEGMENT_PATTERN, max_size=4)) for _ in range(5)]
    pattern_parts.append(draw(st.text(alphabet=SEGMENT_PATTERN + ":", max_size=6)))
    value_parts = []
    for part in pattern_parts:
        if draw(st.booleans()):  # derive from the pattern part so that matches happen
            value_parts.append(
                "".join(
                    draw(st.text(alphabet=SEGMENT_VALUE, max_size=2))
                    if c == "*"
                    else ("a" if c == "?" else c)
                    for c in part
                )
            )
        else:
            value_parts.append(draw(st.text(alphabet=SEGMENT_VALUE + ":", max_size=5)))
    # Colons only in the last part of the value keep it six parts; elsewhere they shift parts,
    # which is exactly the documented difference from StringLike.
    return ":".join(pattern_parts), ":".join(value_parts)


# ---- wildcard_match ---------------------------------------------------------------------------------


@FAST
@given(patterns, values, st.booleans())
def test_wildcard_match_agrees_with_reference(pattern: str, value: str, case_sensitive: bool) -> None:
    assert wildcard_match(pattern, value, case_sensitive=case_sensitive) == ref_glob(
        pattern, value, case_sensitive
    )


@FAST
@given(pattern_and_near_value(), st.booleans())
def test_wildcard_match_agrees_on_near_values(pair: tuple[str, str], case_sensitive: bool) -> None:
    pattern, value = pair
    assert wildcard_match(pattern, value, case_sensitive=case_sensitive) == ref_glob(
        pattern, value, case_sensitive
    )


@FAST
@given(values)
def test_literal_matches_itself_and_star_matches_all(value: str) -> None:
    assert wildcard_match(value, value, case_sensitive=True)
    assert wildcard_match("*", value, case_sensitive=True)
    assert wildcard_match(value.upper(), value.lower(), case_sensitive=False)


@FAST
@given(patterns, values)
def test_case_sensitive_match_implies_insensitive(pattern: str, value: str) -> None:
    if wildcard_match(pattern, value, case_sensitive=True):
        assert wildcard_match(pattern, value, case_sensitive=False)


@FAST
@given(st.text(max_size=12), st.text(max_size=12))
def test_wildcard_match_any_text_case_sensitive(pattern: str, value: str) -> None:
    assert wildcard_match(pattern, value, case_sensitive=True) == ref_glob(pattern, value, True)


def test_wildcard_match_is_not_exponential() -> None:
    pattern = "*a" * 40 + "*b"
    assert not wildcard_match(pattern, "a" * 3000, case_sensitive=True)
    assert not wildcard_match(pattern, "a" * 3000, case_sensitive=False)
    # Each extra "*a" adds a bounded amount of work; backtracking would multiply it.
    ratio = growth(lambda n: lambda: wildcard_match("*a" * n + "*b", "a" * 1000, case_sensitive=True), 10)
    assert ratio < 10


# ---- arn_match ------------------------------------------------------------------------------------------


@FAST
@given(arn_pair())
def test_arn_match_agrees_with_reference(pair: tuple[str, str]) -> None:
    pattern, arn = pair
    assert arn_match(pattern, arn) == ref_arn(pattern, arn)


@FAST
@given(arn_pair())
def test_arn_match_implies_string_like(pair: tuple[str, str]) -> None:
    pattern, arn = pair
    if arn_match(pattern, arn):
        assert wildcard_match(pattern, arn, case_sensitive=True)


@FAST
@given(arn_pair())
def test_arn_match_is_case_sensitive(pair: tuple[str, str]) -> None:
    pattern, arn = pair
    if arn != arn.upper():
        assert arn_match(pattern, arn.upper()) == ref_arn(pattern, arn.upper())


@FAST
@given(
    st.text(alphabet=SEGMENT_PATTERN + ":", max_size=20), st.text(alphabet=SEGMENT_VALUE + ":", max_size=20)
)
def test_arn_match_needs_six_parts(pattern: str, value: str) -> None:
    if pattern.count(":") >= 5 and value.count(":") < 5:
        assert not arn_match(pattern, value)


def test_arn_match_documented_example() -> None:
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert not arn_match(pattern, value)
    assert wildcard_match(pattern, value, case_sensitive=True)


# ---- Policy.parse fuzz ----------------------------------------------------------------------------------

KINDS = ["identity", "resource", "trust", "boundary", "session", "scp", "rcp"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=25,
)

interesting_strings = st.sampled_from(
    [
        "*",
        "",
        "s3:GetObject",
        "s3:*",
        "S3:get*",
        "iam:?et*",
        "GetObject",
        "s3:Get:Object",
        "arn:aws:s3:::bucket/*",
        "arn:aws:iam::111122223333:role/app",
        "arn:aws:iam::111122223333:root",
        "111122223333",
        "arn:aws:sts::111122223333:assumed-role/app/s",
        "ec2.amazonaws.com",
        "arn:aws:s3:::b/${aws:username}/*",
        "${aws:PrincipalTag/team, 'x'}",
        "${",
        "${}",
        "${*}${?}${$}",
        "10.0.0.0/8",
        "2001:DB8::/32",
        "2020-01-01T00:00:00Z",
        "1577836800",
        "true",
        "false",
        "QmluYXJ5",
        "1e309",
        "NaN",
        "-0",
        "\u00ff",
        "\u20ac",
    ]
)
text_or_list = st.one_of(interesting_strings, st.lists(interesting_strings, max_size=3), json_values)
operators = st.sampled_from(
    [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringLike",
        "StringNotLikeIfExists",
        "NumericLessThan",
        "NumericEqualsIfExists",
        "DateGreaterThan",
        "DateNotEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnLike",
        "ArnNotEquals",
        "Null",
        "NullIfExists",
        "ForAllValues:StringLike",
        "ForAnyValue:StringEquals",
        "ForAnyValue:NumericLessThan",
        "Bogus",
        "forallvalues:stringlike",
    ]
)
condition_keys = st.sampled_from(
    [
        "aws:SourceIp",
        "aws:username",
        "aws:CurrentTime",
        "aws:TagKeys",
        "s3:prefix",
        "aws:PrincipalArn",
        "kms:Blob",
        "",
    ]
)
conditions = st.one_of(
    st.dictionaries(
        operators,
        st.one_of(st.dictionaries(condition_keys, text_or_list, max_size=3), json_values),
        max_size=3,
    ),
    json_values,
)
principals = st.one_of(
    st.just("*"),
    st.dictionaries(
        st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Robot"]),
        text_or_list,
        max_size=3,
    ),
    json_values,
)
statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.one_of(st.sampled_from(["", "One", "Two", "bad sid"]), json_values),
        "Effect": st.one_of(st.sampled_from(["Allow", "Deny", "allow", ""]), json_values),
        "Action": text_or_list,
        "NotAction": text_or_list,
        "Resource": text_or_list,
        "NotResource": text_or_list,
        "Principal": principals,
        "NotPrincipal": principals,
        "Condition": conditions,
        "Extra": json_values,
    },
)
policy_shaped = st.fixed_dictionaries(
    {},
    optional={
        "Version": st.one_of(st.sampled_from(["2012-10-17", "2008-10-17", "2010-01-01"]), json_values),
        "Statement": st.one_of(statements, st.lists(statements, max_size=4), json_values),
        "Id": json_values,
        "Extra": json_values,
    },
)
contexts = st.dictionaries(
    condition_keys.filter(bool),
    st.one_of(interesting_strings, st.lists(interesting_strings, max_size=3)),
    max_size=4,
)
request_principals = st.sampled_from(
    [
        None,
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:root",
        "arn:aws:sts::111122223333:assumed-role/app/s",
        "arn:aws:iam::444455556666:user/carol",
        "ec2.amazonaws.com",
    ]
)


# Plausible documents: valid in shape for their kind, so that parsing mostly succeeds and the
# evaluator runs on them (the chaotic strategy above is nearly always refused).
OPERATOR_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "StringEquals": interesting_strings,
    "StringNotEquals": interesting_strings,
    "StringEqualsIgnoreCase": interesting_strings,
    "StringNotEqualsIgnoreCase": interesting_strings,
    "StringLike": interesting_strings,
    "StringNotLike": interesting_strings,
    "NumericEquals": st.sampled_from(["10", "-1.5", "0", "1e3"]),
    "NumericLessThan": st.sampled_from(["10", "-1.5"]),
    "NumericGreaterThanEquals": st.sampled_from(["10", "0.25"]),
    "DateLessThan": st.sampled_from(["2020-01-01T00:00:00Z", "1577836800", "2021-06-01"]),
    "DateNotEquals": st.sampled_from(["2020-01-01T00:00:00+02:00", "1577836800"]),
    "Bool": st.sampled_from(["true", "false"]),
    "BinaryEquals": st.sampled_from(["QmluYXJ5", "AAAA"]),
    "IpAddress": st.sampled_from(["10.0.0.0/8", "203.0.113.7", "2001:DB8::/32"]),
    "NotIpAddress": st.sampled_from(["10.0.0.0/8", "::1"]),
    "ArnLike": st.sampled_from(["arn:aws:iam::*:role/*", "arn:aws:s3:::b/${aws:username}"]),
    "ArnNotEquals": st.sampled_from(["arn:aws:iam::111122223333:root"]),
}
SET_STRING_OPERATORS = ["StringEquals", "StringLike", "StringNotEquals", "StringEqualsIgnoreCase"]


@st.composite
def plausible_condition(draw: st.DrawFn) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 5)) == 0:
            condition["Null"] = {draw(condition_keys.filter(bool)): draw(st.sampled_from(["true", "false"]))}
            continue
        base = draw(st.sampled_from(sorted(OPERATOR_VALUES)))
        name = base + ("IfExists" if draw(st.booleans()) else "")
        if base in SET_STRING_OPERATORS and draw(st.booleans()):
            name = draw(st.sampled_from(["ForAllValues:", "ForAnyValue:"])) + name
        values = draw(st.lists(OPERATOR_VALUES[base], min_size=1, max_size=3))
        condition[name] = {draw(condition_keys.filter(bool)): values if len(values) > 1 else values[0]}
    return condition


ACTION_VALUES = st.sampled_from(
    ["*", "s3:GetObject", "s3:*", "S3:get*", "iam:?et*", "sts:AssumeRole", "ec2:Describe*"]
)
RESOURCE_VALUES = st.sampled_from(
    ["*", "arn:aws:s3:::bucket/*", "arn:aws:s3:::b/${aws:username}/*", "arn:aws:iam::111122223333:role/app"]
)
AWS_PRINCIPALS = st.sampled_from(
    [
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:role/app",
        "arn:aws:sts::111122223333:assumed-role/app/s",
        "arn:aws:iam::444455556666:user/carol",
    ]
)


def one_or_many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


@st.composite
def plausible_policy(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(KINDS))
    statements = []
    for index in range(draw(st.integers(1, 3))):
        statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
        if draw(st.booleans()):
            statement["Sid"] = f"S{index}"
        action_key = "NotAction" if kind != "trust" and draw(st.integers(0, 4)) == 0 else "Action"
        statement[action_key] = draw(one_or_many(ACTION_VALUES))
        if kind != "trust":
            resource_key = "NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"
            statement[resource_key] = draw(one_or_many(RESOURCE_VALUES))
        if kind in ("resource", "trust"):
            principal = draw(
                st.one_of(
                    st.just("*"),
                    st.fixed_dictionaries({"AWS": one_or_many(AWS_PRINCIPALS)}),
                    st.fixed_dictionaries(
                        {
                            "Service": one_or_many(
                                st.sampled_from(["ec2.amazonaws.com", "lambda.amazonaws.com"])
                            )
                        }
                    ),
                    st.just({"Federated": "arn:aws:iam::111122223333:saml-provider/Okta"}),
                )
            )
            use_not = kind == "resource" and statement["Effect"] == "Deny" and draw(st.booleans())
            statement["NotPrincipal" if use_not and principal != "*" else "Principal"] = principal
        elif kind == "rcp":
            statement["Principal"] = "*"
        condition = draw(plausible_condition())
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    document: dict[str, Any] = {"Statement": statements}
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17", None]))
    if version is not None:
        document = {"Version": version, **document}
    return kind, document


LAYER_OF_KIND = {
    "identity": "identity",
    "resource": "resource_policy",
    "trust": "resource_policy",
    "boundary": "boundary",
    "session": "session_policies",
    "scp": "scps",
    "rcp": "rcps",
}


def parse_or_refuse(source: Any, kind: str) -> Policy | None:
    try:
        policy = Policy.parse(source, kind=kind)
    except MalformedPolicy as error:
        assert isinstance(error.errors, list) and error.errors
        return None
    assert isinstance(policy, Policy)
    return policy


def evaluate_in_layer(
    policy: Policy, action: str, resource: str, principal: str | None, context: dict[str, Any]
) -> None:
    layer = LAYER_OF_KIND[policy.kind]
    value: Any = policy if layer in ("resource_policy", "boundary") else [policy]
    kwargs: dict[str, Any] = {layer: value}
    decision = evaluate(
        Request(action=action, resource=resource, principal=principal, context=context), **kwargs
    )
    assert decision.decision in ("allowed", "explicitDeny", "implicitDeny")
    assert decision.allowed == (decision.decision == "allowed")
    assert isinstance(decision.reason(), str)
    assert isinstance(decision.explain(), str)


@FUZZ
@given(json_values, st.sampled_from(KINDS))
def test_parse_any_json_value(value: Any, kind: str) -> None:
    parse_or_refuse(json.dumps(value), kind)
    if isinstance(value, dict):
        parse_or_refuse(value, kind)


@FUZZ
@given(
    policy_shaped,
    st.sampled_from(KINDS),
    st.sampled_from(["s3:GetObject", "sts:AssumeRole", "iam:CreateRole", "EC2:runinstances"]),
    st.sampled_from(["arn:aws:s3:::bucket/key", "arn:aws:iam::111122223333:role/app", "*", "not-an-arn"]),
    request_principals,
    contexts,
)
def test_parse_policy_shaped_then_evaluate(
    document: dict[str, Any],
    kind: str,
    action: str,
    resource: str,
    principal: str | None,
    context: dict[str, Any],
) -> None:
    for source in (document, json.dumps(document), json.dumps(document, indent=2).encode()):
        policy = parse_or_refuse(source, kind)
        if policy is not None:
            evaluate_in_layer(policy, action, resource, principal, context)


@FUZZ
@given(
    plausible_policy(),
    st.sampled_from(["s3:GetObject", "sts:AssumeRole", "iam:GetRole", "EC2:describeinstances"]),
    st.sampled_from(
        ["arn:aws:s3:::bucket/key", "arn:aws:s3:::b/alice/x", "arn:aws:iam::111122223333:role/app"]
    ),
    request_principals,
    contexts,
)
def test_plausible_policies_parse_and_evaluate(
    kind_and_document: tuple[str, dict[str, Any]],
    action: str,
    resource: str,
    principal: str | None,
    context: dict[str, Any],
) -> None:
    kind, document = kind_and_document
    policy = parse_or_refuse(document, kind)
    if policy is not None:
        evaluate_in_layer(policy, action, resource, principal, context)


def test_plausible_policies_mostly_parse() -> None:
    """Guards the strategy above: it must actually reach the evaluator."""
    parsed = []

    @settings(max_examples=100, deadline=None, database=None)
    @given(plausible_policy())
    def sample(kind_and_document: tuple[str, dict[str, Any]]) -> None:
        kind, document = kind_and_document
        parsed.append(parse_or_refuse(document, kind) is not None)

    sample()
    assert sum(parsed) >= len(parsed) // 2, f"{sum(parsed)} of {len(parsed)} parsed"


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(KINDS))
def test_parse_any_bytes(data: bytes, kind: str) -> None:
    parse_or_refuse(data, kind)


@FUZZ
@given(st.text(max_size=400), st.sampled_from(KINDS))
def test_parse_any_text(text: str, kind: str) -> None:
    parse_or_refuse(text, kind)


@FUZZ
@given(st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \\u', max_size=300), st.sampled_from(KINDS))
def test_parse_json_like_text(text: str, kind: str) -> None:
    parse_or_refuse(text, kind)


def test_parse_hostile_inputs_quickly() -> None:
    hostile = [
        "[" * 200_000,
        '{"a":' * 100_000,
        '{"Version": "2012-10-17", "Statement": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "1" * 100_000,
        "1e999999",
        " " * 2_000_000,
        '{"Statement": [' + ",".join(['{"Effect":"Allow","Action":"*","Resource":"*"}'] * 20_000) + "]}",
        b"\xef\xbb\xbf{}",
    ]
    for source in hostile:
        for kind in ("identity", "trust"):
            started = time.perf_counter()
            parse_or_refuse(source, kind)
            assert time.perf_counter() - started < 5.0
