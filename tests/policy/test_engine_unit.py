"""Unit tests of the policy engine's own modules: matching, variables, conditions, document bounds,
validation stages, principals and the evaluation order. The large behaviour table lives in
test_cases_table.py; these pin down the building blocks and the engine's internal consistency."""

from __future__ import annotations

import json
import random

import pytest

from rolecall.policy import MalformedPolicy, Policy, Request, arn_match, evaluate, wildcard_match
from rolecall.policy.conditions import Condition, parse_date, parse_operator
from rolecall.policy.matching import compile_tokens
from rolecall.policy.principals import ACCOUNT, DIRECT, NONE, ROLE, PrincipalSpec, Who
from rolecall.policy.request import normalize_context
from rolecall.policy.variables import Variable, parse_template
from tests.policy.scaling import growth

A = "111122223333"
B = "444455556666"
ALICE = f"arn:aws:iam::{A}:user/alice"
ROLE_ARN = f"arn:aws:iam::{A}:role/team/app"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
BOB_B = f"arn:aws:iam::{B}:user/bob"
OBJ = "arn:aws:s3:::bucket/key.txt"


def doc(*statements: dict, version: str | None = "2012-10-17") -> dict:
    d: dict = {"Statement": list(statements)}
    if version:
        d["Version"] = version
    return d


def allow(action: str = "s3:GetObject", resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "s3:GetObject", resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def identity(*statements: dict, version: str | None = "2012-10-17") -> Policy:
    return Policy.parse(doc(*statements, version=version))


def cond(operator: str, key: str, values: list[str], *, variables: bool = True) -> Condition:
    parsed = parse_operator(operator)
    assert parsed is not None
    return Condition(parsed, key, values, variables)


def ctx(**values: object) -> dict:
    return normalize_context({k.replace("__", ":"): v for k, v in values.items()})


# --- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", True),  # * spans "/"
        ("arn:aws:s3:::*", "arn:aws:s3:::b:with:colons", True),  # and ":"
        ("a?c", "abc", True),
        ("a?c", "ac", False),  # ? is exactly one character
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXcYb", False),
        ("a.b", "axb", False),  # no regex metacharacters leak through
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("*", "", True),
        ("", "", True),
        ("ab*ba", "aba", False),  # head and tail may not overlap
    ],
)
def test_wildcard_match(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value, case_sensitive=True) is expected


def test_wildcard_case_folding() -> None:
    assert wildcard_match("S3:Get*", "s3:getobject", case_sensitive=False)
    assert not wildcard_match("S3:Get*", "s3:getobject", case_sensitive=True)


def test_wildcard_adversarial_pattern_is_not_superlinear_in_the_value() -> None:
    pattern = "*a" * 200 + "*b"
    assert not wildcard_match(pattern, "a" * 5000, case_sensitive=True)
    ratio = growth(lambda n: lambda: wildcard_match(pattern, "a" * n, case_sensitive=True), 2000)
    assert ratio < 10  # linear: about 4; quadratic: about 16; exponential: never finishes


def test_literal_tokens_do_not_act_as_wildcards() -> None:
    matcher = compile_tokens([("prefix/", True), ("*", False), ("/*", True)])
    assert matcher("prefix/*/anything")
    assert not matcher("prefix/x/anything")


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("arn:aws:iam::*:role/*", ROLE_ARN, True),
        ("arn:aws:*:*:*:*", ROLE_ARN, True),
        ("arn:aws:iam::1111*:role/*", ROLE_ARN, True),
        ("arn:aws:iam:*", ROLE_ARN, False),  # parts are matched one by one: five parts are not six
        ("arn:*:role/team/app", ROLE_ARN, False),  # a * in one part does not swallow colons
        ("arn:aws:logs:*:*:log-group:app:*", f"arn:aws:logs:us-east-1:{A}:log-group:app:log-stream:x", True),
        ("arn:aws:iam::111122223333:role/Team/App", ROLE_ARN, False),  # case-sensitive
    ],
)
def test_arn_match(pattern: str, arn: str, expected: bool) -> None:
    assert arn_match(pattern, arn) is expected


# --- variables --------------------------------------------------------------------------------------


def test_template_parts() -> None:
    t = parse_template("home/${aws:username}/${*}${?}${$}/${aws:PrincipalTag/team, 'company-wide'}")
    assert t is not None
    variables = [p for p in t.parts if isinstance(p, Variable)]
    assert [v.name for v in variables] == ["aws:username", "aws:PrincipalTag/team"]
    assert variables[1].default == "company-wide"
    assert t.resolve_text({"aws:username": ("alice",)}) == "home/alice/*?$/company-wide"
    assert t.resolve_text({"aws:principaltag/team": ("blue",)}) is None  # username missing, no default


def test_template_edge_cases() -> None:
    assert parse_template("no variables") is None
    assert parse_template("${unclosed") is None
    t = parse_template("${a${b}")
    assert t is not None and t.parts[0] == "${a"
    multi = parse_template("${aws:TagKeys}")
    assert multi is not None and multi.resolve({"aws:tagkeys": ("a", "b")}) is None  # multivalued


def test_template_parsing_is_linear() -> None:
    assert growth(lambda n: lambda: parse_template("${" * n + "}"), 20_000) < 10
    assert growth(lambda n: lambda: parse_template("${a}" * n), 10_000) < 10


# --- conditions -------------------------------------------------------------------------------------


def test_parse_operator() -> None:
    op = parse_operator("ForAnyValue:StringNotLikeIfExists")
    assert op is not None and (op.set_op, op.base, op.negated, op.if_exists) == (
        "ForAnyValue",
        "StringNotLike",
        True,
        True,
    )
    assert parse_operator("NullIfExists") is None
    assert parse_operator("ForAnyValue::StringEquals") is None
    assert parse_operator("Stringequals") is None


@pytest.mark.parametrize(
    ("operator", "values", "request_value", "expected"),
    [
        ("StringEquals", ["a", "b"], "b", True),
        ("StringEquals", ["a"], "A", False),
        ("StringNotEquals", ["a"], "b", True),
        ("StringEqualsIgnoreCase", ["ABC"], "abc", True),
        ("StringNotEqualsIgnoreCase", ["ABC"], "abc", False),
        ("StringLike", ["home/*"], "home/x/y", True),
        ("StringNotLike", ["home/*"], "other", True),
        ("NumericLessThan", ["10"], "9.5", True),
        ("NumericGreaterThanEquals", ["10"], "10", True),
        ("NumericEquals", ["10"], "ten", False),
        ("DateLessThan", ["2030-01-01T00:00:00Z"], "2029-12-31T23:59:59+00:00", True),
        ("DateGreaterThan", ["2020-01-01"], "1893456000", True),  # epoch seconds, 2030
        ("DateEquals", ["2020-01-01T01:00:00+01:00"], "2020-01-01T00:00:00Z", True),
        ("Bool", ["True"], "true", True),
        ("Bool", ["false"], "true", False),
        ("BinaryEquals", ["QmluYXJ5"], "QmluYXJ5", True),
        ("IpAddress", ["10.0.0.0/8"], "10.1.2.3", True),
        ("IpAddress", ["203.0.113.7"], "203.0.113.7", True),  # a bare address is /32
        ("IpAddress", ["2001:db8::/32"], "2001:db8::1", True),
        ("IpAddress", ["10.0.0.0/8"], "2001:db8::1", False),
        ("NotIpAddress", ["10.0.0.0/8"], "192.168.0.1", True),
        ("ArnLike", ["arn:aws:iam::*:role/*"], ROLE_ARN, True),
        ("ArnNotEquals", ["arn:aws:iam::*:role/*"], ROLE_ARN, False),
    ],
)
def test_operators(operator: str, values: list[str], request_value: str, expected: bool) -> None:
    assert cond(operator, "k:key", values).test({"k:key": (request_value,)}) is expected


def test_missing_keys_and_if_exists() -> None:
    empty: dict = {}
    assert cond("StringEquals", "k:x", ["a"]).test(empty) is False
    assert cond("StringNotEquals", "k:x", ["a"]).test(empty) is True  # negated: true when missing
    assert cond("StringEqualsIfExists", "k:x", ["a"]).test(empty) is True
    assert cond("StringEqualsIfExists", "k:x", ["a"]).test({"k:x": ("b",)}) is False
    assert cond("Null", "k:x", ["true"]).test(empty) is True
    assert cond("Null", "k:x", ["false"]).test({"k:x": ("",)}) is True


def test_set_operators() -> None:
    tags = {"aws:tagkeys": ("a", "b")}
    assert cond("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b", "c"]).test(tags)
    assert not cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"]).test(tags)
    assert cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"]).test({})  # absent: true
    assert cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"]).test({"aws:tagkeys": ()})  # empty: true
    assert not cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a"]).test({})  # absent: false
    assert cond("ForAnyValue:StringEquals", "aws:TagKeys", ["b", "z"]).test(tags)
    assert cond("ForAllValues:StringNotEquals", "aws:TagKeys", ["z"]).test(tags)
    assert not cond("ForAllValues:StringNotEquals", "aws:TagKeys", ["a"]).test(tags)
    assert cond("ForAnyValue:StringNotLike", "aws:TagKeys", ["a*"]).test(tags)
    # Without a set operator a multivalued key matches if any value does; negated: if none does.
    assert cond("StringEquals", "aws:TagKeys", ["b"]).test(tags)
    assert not cond("StringNotEquals", "aws:TagKeys", ["b"]).test(tags)


def test_condition_variables() -> None:
    own = cond("StringLike", "s3:prefix", ["home/${aws:username}/*"])
    assert own.test({"s3:prefix": ("home/alice/x",), "aws:username": ("alice",)})
    assert not own.test({"s3:prefix": ("home/bob/x",), "aws:username": ("alice",)})
    assert not own.test({"s3:prefix": ("home/alice/x",)})  # unresolvable value matches nothing
    negated = cond("StringNotEquals", "k:x", ["${aws:username}"])
    assert negated.test({"k:x": ("alice",)})  # ...so the negation holds
    literal = cond("StringEquals", "k:x", ["${aws:username}"], variables=False)  # Version 2008-10-17
    assert literal.test({"k:x": ("${aws:username}",), "aws:username": ("alice",)})


def test_parse_date_forms() -> None:
    assert parse_date("2020-01-01") == parse_date("2020-01-01T00:00:00Z") == 1577836800.0
    assert parse_date("1577836800") == 1577836800.0
    assert parse_date("2020-01-01t00:00:00z") == 1577836800.0
    assert parse_date("not a date") is None


def test_context_normalization() -> None:
    normalized = normalize_context(
        {"AWS:SecureTransport": True, "aws:TagKeys": ["a", "b"], "n": 3, "x": None}
    )
    assert normalized == {"aws:securetransport": ("true",), "aws:tagkeys": ("a", "b"), "n": ("3",)}


# --- documents and validation -----------------------------------------------------------------------


def malformed(source: object, kind: str = "identity", **kw: object) -> MalformedPolicy:
    with pytest.raises(MalformedPolicy) as info:
        Policy.parse(source, kind=kind, **kw)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    "source",
    [
        b"\xff\xfe not utf-8",
        "[" * 50_000 + "]" * 50_000,
        '{"Version": "2012-10-17", "Statement": NaN}',
        "x" * (1024 * 1024 + 1),
        {"Version": "2012-10-17", "Statement": [allow(Resource={1, 2})]},
        "[]",
        "",
    ],
)
def test_hostile_inputs_are_malformed_not_crashes(source: object) -> None:
    assert malformed(source, max_size=10**7).message == "Syntax errors in policy."


def test_size_quota_ignores_whitespace() -> None:
    body = json.dumps(doc(allow(resource="arn:aws:s3:::" + "a" * 6100)))
    err = malformed(body)
    assert (err.code, err.message) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
    padded = json.dumps(doc(allow()), indent=400)  # lots of whitespace, few characters
    assert len(padded) > 6144
    Policy.parse(padded)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:X" * 500}],
    }
    assert malformed(trust, "trust").message == "Cannot exceed quota for ACLSizePerRole: 2048"


def test_character_set() -> None:
    err = malformed(
        '{"Version":"2012-10-17","Statement":{"Sid":"\u20ac","Effect":"Allow","Action":"*","Resource":"*"}}'
    )
    assert err.code == "ValidationError"
    Policy.parse(
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::caf\u00e9"}}'
    )


@pytest.mark.parametrize(
    ("document", "kind", "message"),
    [
        ({"Version": "2012-10-17", "Statement": [], "Extra": 1}, "identity", "Syntax errors in policy."),
        (doc(allow(), version="2013-10-17"), "identity", "Syntax errors in policy."),
        (
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Bogus": 1}),
            "identity",
            "Syntax errors in policy.",
        ),
        (doc(allow(Condition={"StringEquals": "x"})), "identity", "Syntax errors in policy."),
        (doc(allow(Condition={"NoSuchOperator": {"k:x": "v"}})), "identity", "Syntax errors in policy."),
        (
            doc({"Effect": "allow", "Action": "s3:*", "Resource": "*"}),
            "identity",
            "The policy failed legacy parsing",
        ),
        (
            doc(allow(Condition={"DateLessThan": {"aws:CurrentTime": "soon"}})),
            "identity",
            "The policy failed legacy parsing",
        ),
        (doc(allow(resource="arn:aws:s3::bucket")), "identity", "The policy failed legacy parsing"),
        (
            doc(allow(Sid="a"), allow(Sid="a")),
            "identity",
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (doc({"Effect": "Allow", "Resource": "*"}), "identity", "Policy statement must contain actions."),
        (
            doc(allow(action="GetObject")),
            "identity",
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (doc(allow(action="s3:a:b")), "identity", "Actions/Condition can contain only one colon."),
        (doc(allow(resource="bucket")), "identity", 'Resource bucket must be in ARN format or "*".'),
        (doc({"Effect": "Allow", "Action": "s3:*"}), "identity", "Policy statement must contain resources."),
        (doc(allow(Principal="*")), "identity", "Policy document should not specify a principal."),
        (
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
            "resource",
            "Missing required field Principal",
        ),
        (
            doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}),
            "trust",
            "Has prohibited field Resource.",
        ),
        (
            doc({"Effect": "Allow", "Principal": {"AWS": "alice"}, "Action": "sts:AssumeRole"}),
            "trust",
            'Invalid principal in policy: "AWS":"alice"',
        ),
        (
            doc({"Effect": "Allow", "Principal": {"Service": "ec2"}, "Action": "sts:AssumeRole"}),
            "trust",
            'Invalid principal in policy: "SERVICE":"ec2"',
        ),
    ],
)
def test_validation_messages(document: dict, kind: str, message: str) -> None:
    assert malformed(document, kind).message == message


def test_errors_list_every_problem_in_reporting_order() -> None:
    err = malformed(doc(allow(action="GetObject", resource="bucket", Sid="x"), allow(Sid="x")))
    assert err.errors[0] == err.message == "Statement IDs (SID) in a single policy must be unique."
    assert 'Resource bucket must be in ARN format or "*".' in err.errors
    assert any("Statement 0" in d for d in err.details)


def test_managed_policies_need_the_current_version() -> None:
    old = doc(allow(), version="2008-10-17")
    Policy.parse(old)  # inline: accepted
    assert malformed(old, managed=True).message == "Policy document must be version 2012-10-17 or greater."
    assert malformed(doc(allow(), version=None), managed=True).message.startswith("Policy document must be")


# --- principals --------------------------------------------------------------------------------------


def test_who_parsing() -> None:
    session = Who(SESSION, {"aws:principalarn": (ROLE_ARN,)})
    assert (session.kind, session.account, session.role_arn, session.role_name) == (
        "session",
        A,
        ROLE_ARN,
        "app",
    )
    assert Who(f"arn:aws:iam::{A}:root", {}).kind == "root"
    assert Who(A, {}).kind == "root"
    assert Who("ec2.amazonaws.com", {}).kind == "service"
    assert Who(None, {}).kind == "unspecified"


def test_principal_grant_strengths() -> None:
    session = Who(SESSION, {})
    assert PrincipalSpec({"AWS": SESSION}).grant(session) == DIRECT
    assert PrincipalSpec({"AWS": ROLE_ARN}).grant(session) == ROLE  # path differs from the derived ARN
    assert PrincipalSpec({"AWS": A}).grant(session) == ACCOUNT
    assert PrincipalSpec({"AWS": f"arn:aws:iam::{A}:root"}).grant(Who(ALICE, {})) == ACCOUNT
    assert PrincipalSpec({"AWS": B}).grant(Who(ALICE, {})) == NONE
    assert PrincipalSpec({"Service": "EC2.amazonaws.com"}).grant(Who("ec2.amazonaws.com", {})) == DIRECT
    assert PrincipalSpec("*").grant(Who("ec2.amazonaws.com", {})) == DIRECT


def test_not_principal_needs_the_whole_chain() -> None:
    user = Who(ALICE, {})
    assert not PrincipalSpec({"AWS": ALICE}).excludes(user)  # the account is not exempt, so neither is alice
    assert PrincipalSpec({"AWS": [ALICE, A]}).excludes(user)
    session = Who(SESSION, {"aws:principalarn": (ROLE_ARN,)})
    assert not PrincipalSpec({"AWS": [A, ROLE_ARN]}).excludes(session)
    assert PrincipalSpec({"AWS": [A, ROLE_ARN, SESSION]}).excludes(session)


# --- evaluation ----------------------------------------------------------------------------------------


def test_identity_layer_and_reasons() -> None:
    p = identity(
        allow("s3:Get*", "arn:aws:s3:::bucket/*"), deny("s3:GetObject", "arn:aws:s3:::bucket/secret*")
    )
    assert evaluate(Request("s3:GetObject", OBJ, ALICE), identity=[p]).allowed
    d = evaluate(Request("s3:GetObject", "arn:aws:s3:::bucket/secret.txt", ALICE), identity=[p])
    assert (d.decision, d.denied_by, d.reason()) == (
        "explicitDeny",
        "identity",
        "with an explicit deny in an identity-based policy",
    )
    d = evaluate(Request("s3:PutObject", OBJ, ALICE), identity=[p])
    assert d.reason() == "because no identity-based policy allows the s3:PutObject action"


def test_actions_case_insensitive_resources_case_sensitive() -> None:
    p = identity(allow("S3:getobject", "arn:aws:s3:::Bucket/*"))
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::Bucket/k"), identity=[p]).allowed
    assert not evaluate(Request("s3:GetObject", "arn:aws:s3:::bucket/k"), identity=[p]).allowed


def test_not_action_and_not_resource() -> None:
    p = identity({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::private/*"})
    assert evaluate(Request("s3:GetObject", OBJ), identity=[p]).allowed
    assert not evaluate(Request("iam:GetUser", "*"), identity=[p]).allowed
    assert not evaluate(Request("s3:GetObject", "arn:aws:s3:::private/x"), identity=[p]).allowed


def test_resource_variables_and_version() -> None:
    stmt = allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:username}/*")
    current, legacy = identity(stmt), identity(stmt, version="2008-10-17")
    context = {"aws:username": "alice"}
    assert evaluate(
        Request("s3:GetObject", "arn:aws:s3:::bucket/alice/x", context=context), identity=[current]
    ).allowed
    assert not evaluate(
        Request("s3:GetObject", "arn:aws:s3:::bucket/bob/x", context=context), identity=[current]
    ).allowed
    assert not evaluate(Request("s3:GetObject", "arn:aws:s3:::bucket/alice/x"), identity=[current]).allowed
    literal = "arn:aws:s3:::bucket/${aws:username}/x"
    assert evaluate(Request("s3:GetObject", literal, context=context), identity=[legacy]).allowed
    assert not evaluate(
        Request("s3:GetObject", "arn:aws:s3:::bucket/alice/x", context=context), identity=[legacy]
    ).allowed


def test_boundary_session_scp_rcp_layers() -> None:
    everything = identity(allow("*", "*"))
    only_get = identity(allow("s3:GetObject"))
    put = Request("s3:PutObject", OBJ, ALICE)
    assert evaluate(put, identity=[everything], boundary=only_get).denied_by == "boundary"
    assert evaluate(put, identity=[everything], session_policies=[only_get]).denied_by == "session"
    assert evaluate(put, identity=[everything], scps=[everything, [only_get]]).denied_by == "scp"
    assert evaluate(
        put, identity=[everything], scps=[[only_get, everything]]
    ).allowed  # one level, either allows
    assert evaluate(put, identity=[everything], rcps=[only_get], scps=[only_get]).denied_by == "rcp"
    d = evaluate(put, identity=[everything], scps=[identity(allow("*"), deny("s3:Put*"))])
    assert (d.decision, d.reason()) == ("explicitDeny", "with an explicit deny in a service control policy")


def resource_policy(principal: object, action: str = "s3:GetObject", effect: str = "Allow") -> Policy:
    return Policy.parse(
        doc(
            {"Effect": effect, "Principal": principal, "Action": action, "Resource": "arn:aws:s3:::bucket/*"}
        ),
        kind="resource",
    )


def test_resource_policy_grant_strengths_same_account() -> None:
    get = Request("s3:GetObject", OBJ, SESSION, {"aws:PrincipalArn": ROLE_ARN})
    boundary = identity(allow("s3:ListBucket"))
    # Naming the session: final, even against a boundary and without identity policies.
    assert evaluate(get, resource_policy=resource_policy({"AWS": SESSION}), boundary=boundary).allowed
    # Naming the role: no identity allow needed, but the boundary still caps it.
    assert evaluate(get, resource_policy=resource_policy({"AWS": ROLE_ARN})).allowed
    d = evaluate(get, resource_policy=resource_policy({"AWS": ROLE_ARN}), boundary=boundary)
    assert d.denied_by == "boundary"
    # Naming the account: delegates to identity policies.
    d = evaluate(get, resource_policy=resource_policy({"AWS": A}))
    assert (d.decision, d.denied_by) == ("implicitDeny", "identity")
    assert evaluate(get, identity=[identity(allow())], resource_policy=resource_policy({"AWS": A})).allowed


def test_trust_policy_must_name_the_principal() -> None:
    trust = Policy.parse(
        doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        kind="trust",
    )
    assume = Request("sts:AssumeRole", ROLE_ARN, ALICE)
    d = evaluate(assume, identity=[identity(allow("sts:AssumeRole"))], resource_policy=trust)
    assert (d.decision, d.denied_by) == ("implicitDeny", "resource")
    assert evaluate(Request("sts:AssumeRole", ROLE_ARN, "ec2.amazonaws.com"), resource_policy=trust).allowed


def test_cross_account_needs_both_sides() -> None:
    get = Request("s3:GetObject", OBJ, BOB_B)
    grant = resource_policy({"AWS": B})
    bob_can = identity(allow())
    assert evaluate(get, identity=[bob_can], resource_policy=grant, resource_account=A).allowed
    assert evaluate(get, resource_policy=grant, resource_account=A).denied_by == "identity"
    d = evaluate(get, identity=[bob_can], resource_account=A)
    assert (d.denied_by, d.reason()) == (
        "resource",
        "because no resource-based policy allows the s3:GetObject action",
    )


def test_root_and_service_principals() -> None:
    root = Request("iam:DeleteRole", ROLE_ARN, f"arn:aws:iam::{A}:root")
    assert evaluate(root).allowed
    assert evaluate(root, scps=[identity(allow("s3:*"))]).denied_by == "scp"
    service = Request("s3:GetObject", OBJ, "cloudtrail.amazonaws.com")
    assert evaluate(service, identity=[identity(allow())]).denied_by == "resource"
    assert evaluate(service, resource_policy=resource_policy({"Service": "cloudtrail.amazonaws.com"})).allowed


def test_not_principal_deny_never_exempts_a_principal_with_a_boundary() -> None:
    guard = Policy.parse(
        doc({"Effect": "Deny", "NotPrincipal": {"AWS": [A, ALICE]}, "Action": "s3:*", "Resource": "*"}),
        kind="resource",
    )
    get = Request("s3:GetObject", OBJ, ALICE)
    everything = identity(allow("*"))
    assert evaluate(get, identity=[everything], resource_policy=guard).allowed
    assert (
        evaluate(get, identity=[everything], resource_policy=guard, boundary=everything).denied_by
        == "resource"
    )


def test_matched_missing_keys_and_explain() -> None:
    p = Policy.parse(
        doc(
            allow("s3:GetObject", Sid="FromOffice", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            allow("s3:GetObject", Sid="WithMfa", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        ),
        name="inline:reader",
    )
    d = evaluate(Request("s3:GetObject", OBJ, ALICE, {"aws:SourceIp": "10.9.9.9"}), identity=[p])
    assert d.allowed
    assert d.matched == [("inline:reader", "identity", 0, "FromOffice", "Allow")]
    assert d.missing_context_keys == ["aws:MultiFactorAuthPresent"]
    text = d.explain()
    assert "inline:reader statement #0 (Sid FromOffice)" in text
    assert "Bool aws:MultiFactorAuthPresent" in text and "key missing" in text


def test_failed_conditions_other_resources_and_policy_labels() -> None:
    """What an explanation is built from: each failed condition as data (with the request's value), the
    grants that exist for other resources, and the policies evaluated per layer."""
    p = Policy.parse(
        doc(
            allow("s3:GetObject", "arn:aws:s3:::other/*", Sid="OtherBucket"),
            allow("s3:GetObject", Sid="FromOffice", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            allow(
                "s3:GetObject", Sid="Tagged", Condition={"StringEquals": {"s3:ExistingObjectTag/team": "a"}}
            ),
        ),
        name="inline:reader",
    )
    boundary = Policy.parse(doc(allow("s3:*")), kind="boundary", name="arn:aws:iam::111122223333:policy/b")
    d = evaluate(
        Request("s3:GetObject", OBJ, ALICE, {"aws:SourceIp": "192.0.2.1"}), identity=[p], boundary=boundary
    )
    assert (d.decision, d.denied_by) == ("implicitDeny", "identity")
    assert d.failed_conditions == [
        (
            "inline:reader",
            "identity",
            1,
            "FromOffice",
            "Allow",
            "IpAddress",
            "aws:SourceIp",
            ("10.0.0.0/8",),
            ("192.0.2.1",),
        ),
        (
            "inline:reader",
            "identity",
            2,
            "Tagged",
            "Allow",
            "StringEquals",
            "s3:ExistingObjectTag/team",
            ("a",),
            None,
        ),
    ]
    assert d.other_resources == [
        ("inline:reader", "identity", 0, "OtherBucket", "Allow", ("arn:aws:s3:::other/*",), False)
    ]
    assert d.policy_labels() == {
        "identity": ["inline:reader"],
        "boundary": ["arn:aws:iam::111122223333:policy/b"],
    }
    assert evaluate(Request("s3:GetObject", OBJ, ALICE)).policy_labels() == {}


def test_action_index_is_bounded() -> None:
    p = identity(allow("s3:*"))
    for i in range(5000):
        evaluate(Request(f"s3:Action{i}", OBJ), identity=[p])
    assert len(p._index) <= 4096


def test_fast_path_and_traced_path_agree() -> None:
    """The decision evaluate() returns and the one the explained (traced) pass reaches are the same."""
    rng = random.Random(7)
    actions = ["s3:GetObject", "s3:Get*", "s3:*", "*", "iam:PassRole"]
    resources = ["*", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/${aws:username}/*", OBJ]
    principals = ["*", {"AWS": A}, {"AWS": ALICE}, {"AWS": B}, {"AWS": ROLE_ARN}]
    conditions = [
        {"StringEquals": {"aws:username": "alice"}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"ForAnyValue:StringLike": {"aws:TagKeys": "a*"}},
    ]

    def statement(with_principal: bool) -> dict:
        st = {"Effect": rng.choice(["Allow", "Allow", "Deny"]), "Action": rng.choice(actions)}
        st["Resource"] = rng.choice(resources)
        if with_principal:
            st["Principal"] = rng.choice(principals)
        if rng.random() < 0.4:
            st["Condition"] = rng.choice(conditions)
        return st

    def policy(kind: str) -> Policy:
        return Policy.parse(doc(*(statement(kind == "resource") for _ in range(3))), kind=kind)

    for _ in range(300):
        request = Request(
            rng.choice(["s3:GetObject", "iam:PassRole"]),
            rng.choice([OBJ, "arn:aws:s3:::bucket/alice/k"]),
            rng.choice([ALICE, SESSION, BOB_B, f"arn:aws:iam::{A}:root"]),
            rng.choice([{}, {"aws:username": "alice", "aws:SecureTransport": True, "aws:TagKeys": ["ab"]}]),
        )
        kwargs = {
            "identity": tuple(policy("identity") for _ in range(rng.randrange(4))),
            "resource_policy": policy("resource") if rng.random() < 0.5 else None,
            "boundary": policy("boundary") if rng.random() < 0.3 else None,
            "scps": [policy("scp")] if rng.random() < 0.2 else (),
            "resource_account": rng.choice([None, A, B]),
        }
        first = evaluate(request, **kwargs)  # policy by policy
        again = evaluate(request, **kwargs)  # the same identity list again: one merged PolicySet entry
        assert (again.decision, again.denied_by) == (first.decision, first.denied_by)
        assert first._traced().decision == (first.decision, first.denied_by)
