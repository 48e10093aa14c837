"""Policy.parse refusals: MalformedPolicy with IAM's MalformedPolicyDocument wording.

Wording asserted here is what IAM's API answers, as seen in real error reports:
  "Syntax errors in policy."                                   -- unparseable JSON, `null`, a Condition
                                                                  with no operator level (CreatePolicy)
  "Policy statement must contain actions."                     -- no Action/NotAction
  "Policy statement must contain resources."                   -- identity statement without Resource
  "Policy document should not specify a principal."            -- Principal in PutRolePolicy/PutGroupPolicy
  "Has prohibited field Resource"                               -- Resource in a CreateRole trust policy
  "Statement IDs (SID) in a single policy must be unique."     -- CreatePolicy
  "Actions/Condition can contain only one colon."              -- CreatePolicy
  "Actions/Conditions must be prefaced by a vendor"            -- an action with no service prefix
  "Invalid principal in policy"                                -- CreateRole / UpdateAssumeRolePolicy
"Policy document must be version 2012-10-17 or greater." is CreatePolicy's answer for a managed policy
without a 2012-10-17 Version; inline and trust policies may omit Version (it then defaults to
2008-10-17), and Policy.parse does not know managed from inline, so that message is the caller's to
give and a Version-less document must parse. Where AWS's exact wording for a refusal is not known
(bad Effect, unknown element, unknown operator, bad Version) only the refusal is asserted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolecall.policy import MalformedPolicy, Policy

A = "111122223333"
ROLE = f"arn:aws:iam::{A}:role/app"

ALLOW_S3 = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
TRUST_STMT = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
RESOURCE_STMT = {**ALLOW_S3, "Principal": {"AWS": f"arn:aws:iam::{A}:root"}}


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17", **top: Any) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if version is not None:
        document["Version"] = version
    document["Statement"] = list(statements)
    document.update(top)
    return document


def refuse(source: Any, kind: str = "identity", **kw: Any) -> MalformedPolicy:
    with pytest.raises(MalformedPolicy) as info:
        Policy.parse(source, kind=kind, **kw)
    error = info.value
    assert isinstance(error.errors, list) and error.errors, "errors lists the problems found"
    assert all(isinstance(e, str) and e for e in error.errors)
    return error


# ---- (kind, document or text, expected message substring or None) -------------------------------

MALFORMED: list[tuple[str, str, Any, str | None]] = [
    # Not JSON, or not a JSON object.
    ("not-json", "identity", "{", "Syntax errors in policy."),
    ("plain-words", "identity", "allow everything", "Syntax errors in policy."),
    ("json-null", "identity", "null", "Syntax errors in policy."),
    ("json-array", "identity", "[]", None),
    ("json-string", "identity", '"policy"', None),
    ("json-number", "identity", "42", None),
    ("empty-text", "identity", "", None),
    ("only-whitespace", "identity", "   \n\t ", None),
    ("trailing-garbage", "identity", json.dumps(doc(ALLOW_S3)) + "}", None),
    ("empty-object", "identity", {}, None),
    ("no-statement", "identity", {"Version": "2012-10-17"}, None),
    ("statement-is-string", "identity", {"Version": "2012-10-17", "Statement": "Allow"}, None),
    ("statement-item-not-object", "identity", doc(ALLOW_S3, "oops"), None),  # type: ignore[arg-type]
    # Top-level and statement elements.
    ("unknown-top-level-element", "identity", doc(ALLOW_S3, Foo="bar"), None),
    (
        "condition-at-top-level",
        "identity",
        doc(ALLOW_S3, Condition={"Bool": {"aws:SecureTransport": "true"}}),
        None,
    ),
    ("unknown-statement-element", "identity", doc({**ALLOW_S3, "Actions": "s3:*"}), None),
    ("bad-version", "identity", doc(ALLOW_S3, version="2010-01-01"), None),
    ("version-not-string", "identity", {"Version": 20121017, "Statement": [ALLOW_S3]}, None),
    # Effect.
    ("effect-missing", "identity", doc({"Action": "s3:*", "Resource": "*"}), None),
    ("effect-lower-case", "identity", doc({**ALLOW_S3, "Effect": "allow"}), None),
    ("effect-unknown", "identity", doc({**ALLOW_S3, "Effect": "Permit"}), None),
    ("effect-not-string", "identity", doc({**ALLOW_S3, "Effect": True}), None),
    # Action / Resource.
    (
        "no-action",
        "identity",
        doc({"Effect": "Allow", "Resource": "*"}),
        "Policy statement must contain actions.",
    ),
    (
        "no-resource",
        "identity",
        doc({"Effect": "Allow", "Action": "s3:*"}),
        "Policy statement must contain resources.",
    ),
    ("action-and-notaction", "identity", doc({**ALLOW_S3, "NotAction": "iam:*"}), None),
    ("resource-and-notresource", "identity", doc({**ALLOW_S3, "NotResource": "arn:aws:s3:::x"}), None),
    (
        "action-two-colons",
        "identity",
        doc({**ALLOW_S3, "Action": "s3:Get:Object"}),
        "Actions/Condition can contain only one colon.",
    ),
    (
        "action-no-vendor",
        "identity",
        doc({**ALLOW_S3, "Action": "GetObject"}),
        "Actions/Conditions must be prefaced by a vendor",
    ),
    ("action-wrong-type", "identity", doc({**ALLOW_S3, "Action": 7}), None),
    ("action-list-wrong-type", "identity", doc({**ALLOW_S3, "Action": ["s3:GetObject", 7]}), None),
    ("resource-object", "identity", doc({**ALLOW_S3, "Resource": {"Ref": "Bucket"}}), None),
    # Sid. (Only identity policies here: S3 bucket policies are reported to accept repeated Sids.)
    (
        "duplicate-sid",
        "identity",
        doc({**ALLOW_S3, "Sid": "Same"}, {**ALLOW_S3, "Sid": "Same"}),
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    ("sid-not-string", "identity", doc({**ALLOW_S3, "Sid": 1}), None),
    # Principal by kind.
    (
        "identity-with-principal",
        "identity",
        doc({**ALLOW_S3, "Principal": {"AWS": f"arn:aws:iam::{A}:root"}}),
        "Policy document should not specify a principal.",
    ),
    (
        "identity-with-notprincipal",
        "identity",
        doc({**ALLOW_S3, "NotPrincipal": {"AWS": f"arn:aws:iam::{A}:root"}}),
        None,
    ),
    ("boundary-with-principal", "boundary", doc({**ALLOW_S3, "Principal": "*"}), None),
    ("session-with-principal", "session", doc({**ALLOW_S3, "Principal": "*"}), None),
    ("trust-without-principal", "trust", doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), "Principal"),
    ("trust-with-resource", "trust", doc({**TRUST_STMT, "Resource": ROLE}), "Has prohibited field Resource"),
    (
        "trust-with-notprincipal",
        "trust",
        doc({**TRUST_STMT, "NotPrincipal": {"AWS": f"arn:aws:iam::{A}:root"}}),
        None,
    ),
    (
        "trust-invalid-aws-principal",
        "trust",
        doc({**TRUST_STMT, "Principal": {"AWS": "not-an-arn"}}),
        "Invalid principal in policy",
    ),
    ("trust-unknown-principal-type", "trust", doc({**TRUST_STMT, "Principal": {"Robot": "r2d2"}}), None),
    (
        "trust-principal-wildcard-in-arn",
        "trust",
        doc({**TRUST_STMT, "Principal": {"AWS": f"arn:aws:iam::{A}:role/*"}}),
        None,
    ),
    ("resource-without-principal", "resource", doc(ALLOW_S3), "Principal"),
    # Conditions.
    (
        "condition-without-operator",
        "identity",
        doc({**ALLOW_S3, "Condition": {"servicecatalog:accountLevel": "self"}}),
        "Syntax errors in policy.",
    ),
    (
        "condition-unknown-operator",
        "identity",
        doc({**ALLOW_S3, "Condition": {"StringEqualz": {"aws:username": "a"}}}),
        None,
    ),
    (
        "condition-null-ifexists",
        "identity",
        doc({**ALLOW_S3, "Condition": {"NullIfExists": {"aws:TokenIssueTime": "true"}}}),
        None,
    ),
    (
        "condition-unknown-set-qualifier",
        "identity",
        doc({**ALLOW_S3, "Condition": {"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}}),
        None,
    ),
    ("condition-not-object", "identity", doc({**ALLOW_S3, "Condition": ["StringEquals"]}), None),
    (
        "condition-value-object",
        "identity",
        doc({**ALLOW_S3, "Condition": {"StringEquals": {"aws:username": {"a": "b"}}}}),
        None,
    ),
    # Bad bytes.
    ("invalid-utf8", "identity", b'{"Version": "2012-10-17", "Statement": [\xff]}', None),
    ("nul-byte", "identity", b"\x00", None),
    (
        "control-character-in-string",
        "identity",
        '{"Version": "2012-10-17", "Statement": [{"Sid": "a\x01"}]}',
        None,
    ),
]


@pytest.mark.parametrize(
    ("kind", "source", "wording"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed(kind: str, source: Any, wording: str | None) -> None:
    error = refuse(source, kind)
    if wording is not None:
        assert wording in str(error), (str(error), error.errors)


def test_errors_lists_every_problem() -> None:
    error = refuse(
        doc(
            {"Effect": "Allow", "Resource": "*"},  # no Action
            {"Effect": "Allow", "Action": "s3:*"},  # no Resource
        )
    )
    assert len(error.errors) >= 2, error.errors


# ---- Documents IAM accepts -----------------------------------------------------------------------

ACCEPTED: list[tuple[str, str, Any]] = [
    ("identity-minimal", "identity", doc(ALLOW_S3)),
    ("identity-statement-object", "identity", {"Version": "2012-10-17", "Statement": ALLOW_S3}),
    ("identity-no-version", "identity", doc(ALLOW_S3, version=None)),
    ("identity-version-2008", "identity", doc(ALLOW_S3, version="2008-10-17")),
    ("identity-with-id", "identity", doc(ALLOW_S3, Id="my-policy")),
    (
        "identity-notaction-notresource",
        "identity",
        doc({"Effect": "Deny", "NotAction": "iam:*", "NotResource": "*"}),
    ),
    ("identity-distinct-sids", "identity", doc({**ALLOW_S3, "Sid": "One"}, {**ALLOW_S3, "Sid": "Two"})),
    ("identity-action-star", "identity", doc({"Effect": "Allow", "Action": "*", "Resource": "*"})),
    (
        "identity-every-operator-family",
        "identity",
        doc(
            {
                **ALLOW_S3,
                "Condition": {
                    "StringEqualsIgnoreCase": {"aws:username": "alice"},
                    "StringNotLikeIfExists": {"s3:prefix": "tmp/*"},
                    "NumericLessThanEquals": {"s3:max-keys": "10"},
                    "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                    "Bool": {"aws:SecureTransport": "true"},
                    "BinaryEquals": {"kms:Blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
                    "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8::/32"]},
                    "ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:topic"},
                    "Null": {"aws:TokenIssueTime": "true"},
                    "ForAllValues:StringLike": {"aws:TagKeys": ["env", "team-*"]},
                    "ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "x"},
                },
            }
        ),
    ),
    (
        "identity-variables",
        "identity",
        doc({**ALLOW_S3, "Resource": "arn:aws:s3:::b/${aws:username}/${aws:PrincipalTag/team, 'x'}/${*}"}),
    ),
    ("trust-service", "trust", doc(TRUST_STMT)),
    ("trust-no-version", "trust", doc(TRUST_STMT, version=None)),
    ("trust-aws-account-id", "trust", doc({**TRUST_STMT, "Principal": {"AWS": A}})),
    (
        "trust-federated",
        "trust",
        doc(
            {
                **TRUST_STMT,
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ),
    ),
    ("trust-star", "trust", doc({**TRUST_STMT, "Principal": "*"})),
    ("resource-star", "resource", doc({**ALLOW_S3, "Principal": "*"})),
    (
        "resource-notprincipal",
        "resource",
        doc(
            {
                **ALLOW_S3,
                "Effect": "Deny",
                "NotPrincipal": {"AWS": [f"arn:aws:iam::{A}:user/bob", f"arn:aws:iam::{A}:root"]},
            }
        ),
    ),
    (
        "resource-canonical-user",
        "resource",
        doc(
            {
                **ALLOW_S3,
                "Principal": {
                    "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
                },
            }
        ),
    ),
    ("boundary", "boundary", doc(ALLOW_S3)),
    ("session", "session", doc(ALLOW_S3)),
    (
        "scp",
        "scp",
        doc(
            {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
        ),
    ),
    ("rcp", "rcp", doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})),
]


@pytest.mark.parametrize(("kind", "source"), [a[1:] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_accepted(kind: str, source: Any) -> None:
    for form in (source, json.dumps(source), json.dumps(source, indent=4).encode()):
        policy = Policy.parse(form, kind=kind, name="p")
        assert policy.kind == kind
        assert policy.name == "p"
        assert policy.document == source
        if "Version" in source:
            assert policy.version == source["Version"]
        else:  # no Version element: the 2008-10-17 language
            assert policy.version in (None, "2008-10-17")
        statements = source["Statement"]
        assert len(policy.statements) == (len(statements) if isinstance(statements, list) else 1)


def test_text_is_kept() -> None:
    text = '{"Version": "2012-10-17",\n "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'
    assert Policy.parse(text, kind="identity").text == text


# ---- Size limits: characters not counting whitespace ---------------------------------------------


def sized(target: int, kind: str = "identity") -> dict[str, Any]:
    """A document whose compact JSON (no whitespace anywhere) is exactly `target` characters."""
    statement = dict(TRUST_STMT) if kind == "trust" else dict(ALLOW_S3)
    statement["Sid"] = ""
    document = doc(statement)
    base = len(json.dumps(document, separators=(",", ":")))
    assert target >= base
    statement["Sid"] = "S" * (target - base)
    assert len(json.dumps(document, separators=(",", ":"))) == target
    return document


def indented(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=8) + "\n\n\t  "


@pytest.mark.parametrize("limit", [200, 1000])
def test_max_size_is_inclusive(limit: int) -> None:
    Policy.parse(json.dumps(sized(limit), separators=(",", ":")), kind="identity", max_size=limit)
    refuse(json.dumps(sized(limit + 1), separators=(",", ":")), "identity", max_size=limit)


def test_whitespace_does_not_count() -> None:
    text = indented(sized(300))
    assert len(text) > 400
    Policy.parse(text, kind="identity", max_size=300)
    refuse(indented(sized(301)), "identity", max_size=300)


@pytest.mark.parametrize(("kind", "limit"), [("identity", 6144), ("boundary", 6144), ("trust", 2048)])
def test_default_size_limits(kind: str, limit: int) -> None:
    Policy.parse(indented(sized(limit, kind)), kind=kind)
    refuse(indented(sized(limit + 1, kind)), kind)


def test_explicit_max_size_overrides_default() -> None:
    # e.g. a role's inline policies may total 10,240 characters, above the managed 6,144.
    Policy.parse(indented(sized(9000)), kind="identity", max_size=10240)
    # and an explicit small limit applies to any kind
    refuse(indented(sized(500)), "identity", max_size=400)
