"""Table-driven tests of the policy engine against AWS's documented evaluation semantics.

Every case is one request evaluated against policies arranged by layer, with the decision AWS
documents for it. Sources (AWS IAM User Guide):
  [ops]   "IAM JSON policy elements: Condition operators"
  [cond]  "IAM JSON policy elements: Condition" (key names case-insensitive)
  [multi] "Conditions with multiple context keys or values" / "Single-valued vs. multivalued context keys"
  [vars]  "IAM policy elements: Variables and tags"
  [act]   "IAM JSON policy elements: Action / NotAction"
  [res]   "IAM JSON policy elements: Resource / NotResource"
  [prin]  "AWS JSON policy elements: Principal / NotPrincipal"
  [eval]  "Policy evaluation logic", "How AWS enforcement code logic evaluates requests",
          "Cross-account policy evaluation logic", "Permissions boundaries", "Session policies"
  [facts] /work/shared/reference/aws-facts.md section 1 (the project's digest of the above)

Only the public API is used: Policy.parse, Request, evaluate and the Decision it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from rolecall.policy import Decision, Policy, Request, evaluate

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

A = "111122223333"  # the "home" account
B = "444455556666"  # another account
ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{A}:user/bob"
CAROL_B = f"arn:aws:iam::{B}:user/carol"
DAVE_B = f"arn:aws:iam::{B}:user/dave"
ROOT_A = f"arn:aws:iam::{A}:root"
ROOT_B = f"arn:aws:iam::{B}:root"
ROLE = f"arn:aws:iam::{A}:role/app"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
OTHER_ROLE = f"arn:aws:iam::{A}:role/other"
OTHER_SESSION = f"arn:aws:sts::{A}:assumed-role/other/s9"
ROLE_PATH = f"arn:aws:iam::{A}:role/team/dev"  # a role with a path; its session ARN has no path
SESSION_PATH = f"arn:aws:sts::{A}:assumed-role/dev/s2"
ROLE_B = f"arn:aws:iam::{B}:role/xacct"
SESSION_B = f"arn:aws:sts::{B}:assumed-role/xacct/s3"
FED_USER = f"arn:aws:sts::{A}:federated-user/fred"
SAML = f"arn:aws:iam::{A}:saml-provider/Okta"
OIDC = f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"
CANONICAL = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
OTHER_CANONICAL = "0" * 64

BUCKET = "arn:aws:s3:::bucket"
OBJ = "arn:aws:s3:::bucket/key.txt"
SECRET_OBJ = "arn:aws:s3:::secret/plans.txt"

SESSION_CTX = {"aws:PrincipalArn": ROLE}
SESSION_PATH_CTX = {"aws:PrincipalArn": ROLE_PATH}
SESSION_B_CTX = {"aws:PrincipalArn": ROLE_B}
OTHER_SESSION_CTX = {"aws:PrincipalArn": OTHER_ROLE}

ALLOWED, EXPLICIT, IMPLICIT = "allowed", "explicitDeny", "implicitDeny"


def st(effect: str, action: Any = "*", resource: Any = "*", **elements: Any) -> dict[str, Any]:
    """One statement. Pass action=None / resource=None to leave the element out
    (e.g. with NotAction=..., NotResource=..., or in a trust policy)."""
    statement: dict[str, Any] = {"Effect": effect}
    if action is not None:
        statement["Action"] = action
    if resource is not None:
        statement["Resource"] = resource
    statement.update(elements)
    return statement


def allow(action: Any = "*", resource: Any = "*", **elements: Any) -> dict[str, Any]:
    return st("Allow", action, resource, **elements)


def deny(action: Any = "*", resource: Any = "*", **elements: Any) -> dict[str, Any]:
    return st("Deny", action, resource, **elements)


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document = {"Version": version, **document}
    return document


def trust(*principals_and_more: dict[str, Any]) -> dict[str, Any]:
    """A trust policy document from statements built with trust_allow / trust_deny."""
    return doc(*principals_and_more)


def trust_allow(principal: Any, action: Any = "sts:AssumeRole", **elements: Any) -> dict[str, Any]:
    return st("Allow", action, None, Principal=principal, **elements)


def trust_deny(principal: Any, action: Any = "sts:AssumeRole", **elements: Any) -> dict[str, Any]:
    return st("Deny", action, None, Principal=principal, **elements)


ALLOW_ALL = doc(allow())
FULL_ACCESS_SCP = doc(allow(Sid="FullAWSAccess"))


@dataclass(frozen=True)
class Case:
    id: str
    expect: str
    action: str = "s3:GetObject"
    resource: str = OBJ
    principal: str | None = ALICE
    context: dict[str, Any] = field(default_factory=dict)
    identity: Sequence[dict[str, Any]] = ()
    resource_policy: dict[str, Any] | None = None
    resource_kind: str = "resource"
    boundary: dict[str, Any] | None = None
    session: Sequence[dict[str, Any]] = ()
    scps: Sequence[Any] = ()  # each level: a document or a tuple of documents
    rcps: Sequence[Any] = ()
    resource_account: str | None = None
    denied_by: str | None = None  # checked when given
    sid: str | None = None  # a Sid that must be among Decision.matched, checked when given
    reason: str | None = None  # substring of Decision.reason(), checked when given


C = Case


def cond(id: str, condition: dict[str, Any], context: dict[str, Any], match: bool, **kw: Any) -> Case:
    """An identity Allow guarded by `condition`: allowed iff the condition holds."""
    return Case(
        id,
        ALLOWED if match else IMPLICIT,
        context=context,
        identity=[doc(allow(Sid="Guarded", Condition=condition))],
        denied_by=None if match else "identity",
        sid="Guarded" if match else None,
        **kw,
    )


def deny_cond(id: str, condition: dict[str, Any], context: dict[str, Any], match: bool) -> Case:
    """Allow everything, Deny guarded by `condition`: explicitDeny iff the condition holds."""
    return Case(
        id,
        EXPLICIT if match else ALLOWED,
        context=context,
        identity=[doc(allow(), deny(Sid="GuardedDeny", Condition=condition))],
        denied_by="identity" if match else None,
        sid="GuardedDeny" if match else None,
    )


def act(id: str, pattern: Any, action: str, match: bool) -> Case:
    return Case(
        id,
        ALLOWED if match else IMPLICIT,
        action=action,
        identity=[doc(allow(pattern))],
        denied_by=None if match else "identity",
    )


def res(id: str, pattern: Any, resource: str, match: bool) -> Case:
    return Case(
        id,
        ALLOWED if match else IMPLICIT,
        resource=resource,
        identity=[doc(allow("s3:GetObject", pattern))],
        denied_by=None if match else "identity",
    )


# --------------------------------------------------------------------------------------------
# Action matching [act]: case-insensitive, * and ? wildcards, the service prefix is part of
# the string (no implicit prefix matching).
# --------------------------------------------------------------------------------------------

ACTION_CASES = [
    act("action-exact", "s3:GetObject", "s3:GetObject", True),
    act("action-request-upper-case", "s3:GetObject", "S3:GETOBJECT", True),
    act("action-policy-lower-case", "s3:getobject", "s3:GetObject", True),
    act("action-policy-mixed-case-service", "S3:GetObject", "s3:GetObject", True),
    act("action-star-suffix", "s3:Get*", "s3:GetObjectAcl", True),
    act("action-star-suffix-other-verb", "s3:Get*", "s3:PutObject", False),
    act("action-star-prefix", "s3:*Object", "s3:DeleteObject", True),
    act("action-star-prefix-no-match", "s3:*Object", "s3:ListBucket", False),
    act("action-star-matches-empty", "s3:GetObject*", "s3:GetObject", True),
    act("action-question-mark", "s3:Get?bject", "s3:GetObject", True),
    act("action-question-mark-one-char-only", "s3:Get?bject", "s3:GetOObject", False),
    act("action-question-mark-first", "s3:?etObject", "s3:GetObject", True),
    act("action-lower-case-wildcard", "s3:get*", "s3:GetBucketPolicy", True),
    act("action-star-everything", "*", "ec2:RunInstances", True),
    act("action-service-star", "s3:*", "s3:PutObject", True),
    act("action-service-star-case", "s3:*", "S3:PutObject", True),
    act("action-service-star-not-other-service", "iam:*", "sts:AssumeRole", False),
    act("action-service-prefix-is-exact", "s3:*", "s3express:CreateSession", False),
    act("action-different-service", "dynamodb:*", "s3:GetObject", False),
    act("action-no-implicit-prefix", "s3:GetObject", "s3:GetObjectAcl", False),
    act("action-describe-star-case", "ec2:Describe*", "ec2:describeinstances", True),
    act("action-list-second-entry", ["ec2:*", "s3:GetObject"], "s3:GetObject", True),
    act("action-list-no-entry", ["ec2:*", "iam:Get*"], "s3:GetObject", False),
    act("action-two-stars", "iam:*Access*", "iam:CreateAccessKey", True),
    act("action-two-stars-no-match", "iam:*Access*", "iam:CreateRole", False),
    C(
        "action-deny-wildcard-over-allow-all",
        EXPLICIT,
        action="s3:ListBucket",
        resource=BUCKET,
        identity=[doc(allow(), deny("s3:List*", Sid="NoList"))],
        denied_by="identity",
        sid="NoList",
    ),
    C(
        "action-deny-wildcard-leaves-other-actions",
        ALLOWED,
        identity=[doc(allow(), deny("s3:List*"))],
    ),
]

# --------------------------------------------------------------------------------------------
# Resource matching [res]: case-sensitive, * spans '/', ? is one character, "*" alone matches
# everything, wildcards inside any ARN segment.
# --------------------------------------------------------------------------------------------

RESOURCE_CASES = [
    res("resource-exact", OBJ, OBJ, True),
    res("resource-star-spans-slashes", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c.txt", True),
    res("resource-star-needs-the-slash", "arn:aws:s3:::bucket/*", BUCKET, False),
    res("resource-prefix-is-not-a-bucket-prefix", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a", False),
    res("resource-star-after-bucket-name", "arn:aws:s3:::bucket*", "arn:aws:s3:::bucket2/a", True),
    res("resource-case-sensitive-bucket", "arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x", False),
    res("resource-case-sensitive-key", "arn:aws:s3:::bucket/Key.txt", OBJ, False),
    res("resource-question-one-char", "arn:aws:s3:::bucket/key?", "arn:aws:s3:::bucket/key1", True),
    res("resource-question-not-two-chars", "arn:aws:s3:::bucket/key?", "arn:aws:s3:::bucket/key12", False),
    res("resource-question-not-zero-chars", "arn:aws:s3:::bucket/key?", "arn:aws:s3:::bucket/key", False),
    res("resource-star-alone", "*", "arn:aws:dynamodb:us-east-1:111122223333:table/t", True),
    res("resource-middle-star", "arn:aws:s3:::bucket/*/public/*", "arn:aws:s3:::bucket/a/b/public/c", True),
    res("resource-suffix-pattern", "arn:aws:s3:::bucket/*.jpg", "arn:aws:s3:::bucket/x/y.jpg", True),
    res(
        "resource-suffix-pattern-no-match", "arn:aws:s3:::bucket/*.jpg", "arn:aws:s3:::bucket/x/y.png", False
    ),
    res("resource-s3-service-wide", "arn:aws:s3:::*", "arn:aws:s3:::any/thing", True),
    res(
        "resource-list-second-entry",
        ["arn:aws:s3:::other/*", "arn:aws:s3:::bucket/*"],
        OBJ,
        True,
    ),
    res(
        "resource-role-path",
        f"arn:aws:iam::{A}:role/*",
        ROLE_PATH,
        True,
    ),
    res("resource-account-wildcard", "arn:aws:iam::*:role/app", ROLE, True),
    res("resource-account-mismatch", ROLE, f"arn:aws:iam::{B}:role/app", False),
    res(
        "resource-user-path",
        f"arn:aws:iam::{A}:user/accounting/*",
        f"arn:aws:iam::{A}:user/accounting/x",
        True,
    ),
    res(
        "resource-user-path-other",
        f"arn:aws:iam::{A}:user/accounting/*",
        f"arn:aws:iam::{A}:user/eng/x",
        False,
    ),
    res(
        "resource-region-account-wildcards",
        "arn:aws:ec2:*:*:instance/*",
        f"arn:aws:ec2:us-east-1:{A}:instance/i-0123456789abcdef0",
        True,
    ),
    res(
        "resource-region-mismatch",
        "arn:aws:ec2:us-east-1:*:instance/*",
        f"arn:aws:ec2:us-west-2:{A}:instance/i-0123456789abcdef0",
        False,
    ),
    res(
        "resource-colons-in-resource-part",
        f"arn:aws:logs:us-east-1:{A}:log-group:app:*",
        f"arn:aws:logs:us-east-1:{A}:log-group:app:log-stream:s1",
        True,
    ),
    res(
        "resource-dynamodb-table-case",
        f"arn:aws:dynamodb:us-east-1:{A}:table/Books",
        f"arn:aws:dynamodb:us-east-1:{A}:table/books",
        False,
    ),
]

# --------------------------------------------------------------------------------------------
# NotAction / NotResource [act][res]: Allow+NotAction grants everything except the listed
# actions; Deny+NotAction denies everything except the listed; neither grants the excepted ones.
# --------------------------------------------------------------------------------------------

NOT_ACTION_RESOURCE_CASES = [
    C("notaction-allow-other-action", ALLOWED, identity=[doc(allow(None, NotAction="iam:*"))]),
    C(
        "notaction-allow-excludes-listed",
        IMPLICIT,
        action="iam:CreateUser",
        resource=f"arn:aws:iam::{A}:user/x",
        identity=[doc(allow(None, NotAction="iam:*"))],
        denied_by="identity",
    ),
    C(
        "notaction-allow-case-insensitive",
        IMPLICIT,
        action="iam:CreateUser",
        resource=f"arn:aws:iam::{A}:user/x",
        identity=[doc(allow(None, NotAction="IAM:*"))],
    ),
    C(
        "notaction-allow-list",
        IMPLICIT,
        action="organizations:LeaveOrganization",
        resource="*",
        identity=[doc(allow(None, NotAction=["iam:*", "organizations:*"]))],
    ),
    C(
        "notaction-allow-list-other",
        ALLOWED,
        action="ec2:RunInstances",
        resource="*",
        identity=[doc(allow(None, NotAction=["iam:*", "organizations:*"]))],
    ),
    C(
        "notaction-deny-denies-everything-else",
        EXPLICIT,
        action="ec2:RunInstances",
        resource="*",
        identity=[doc(allow(), deny(None, NotAction="s3:*", Sid="OnlyS3"))],
        denied_by="identity",
        sid="OnlyS3",
    ),
    C(
        "notaction-deny-spares-listed",
        ALLOWED,
        identity=[doc(allow(), deny(None, NotAction="s3:*"))],
    ),
    C(
        "notaction-deny-spares-listed-case-insensitive",
        ALLOWED,
        identity=[doc(allow(), deny(None, NotAction="S3:*"))],
    ),
    C(
        "notaction-deny-alone-grants-nothing",
        IMPLICIT,
        identity=[doc(deny(None, NotAction="s3:*"))],
        denied_by="identity",
    ),
    # The classic "require MFA for everything but IAM self-service" pattern.
    C(
        "notaction-deny-mfa-missing",
        EXPLICIT,
        identity=[
            doc(
                allow(),
                deny(
                    None,
                    NotAction="iam:*",
                    Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                ),
            )
        ],
    ),
    C(
        "notaction-deny-mfa-present",
        ALLOWED,
        context={"aws:MultiFactorAuthPresent": "true"},
        identity=[
            doc(
                allow(),
                deny(
                    None,
                    NotAction="iam:*",
                    Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                ),
            )
        ],
    ),
    C(
        "notaction-deny-mfa-missing-excepted-action",
        ALLOWED,
        action="iam:ChangePassword",
        resource=ALICE,
        identity=[
            doc(
                allow(),
                deny(
                    None,
                    NotAction="iam:*",
                    Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                ),
            )
        ],
    ),
    C(
        "notaction-deny-scoped-resource-hit",
        EXPLICIT,
        action="s3:PutObject",
        resource=SECRET_OBJ,
        identity=[doc(allow(), deny(None, "arn:aws:s3:::secret/*", NotAction="s3:GetObject"))],
    ),
    C(
        "notaction-deny-scoped-resource-excepted-action",
        ALLOWED,
        resource=SECRET_OBJ,
        identity=[doc(allow(), deny(None, "arn:aws:s3:::secret/*", NotAction="s3:GetObject"))],
    ),
    C(
        "notaction-deny-scoped-resource-other-resource",
        ALLOWED,
        action="s3:PutObject",
        identity=[doc(allow(), deny(None, "arn:aws:s3:::secret/*", NotAction="s3:GetObject"))],
    ),
    C(
        "notresource-allow-other",
        ALLOWED,
        identity=[doc(allow("s3:*", None, NotResource="arn:aws:s3:::secret/*"))],
    ),
    C(
        "notresource-allow-excluded",
        IMPLICIT,
        resource=SECRET_OBJ,
        identity=[doc(allow("s3:*", None, NotResource="arn:aws:s3:::secret/*"))],
        denied_by="identity",
    ),
    C(
        "notresource-case-sensitive",
        ALLOWED,
        resource=SECRET_OBJ,
        identity=[doc(allow("s3:*", None, NotResource="arn:aws:s3:::Secret/*"))],
    ),
    C(
        "notresource-deny-everything-but-listed-hit",
        EXPLICIT,
        identity=[doc(allow("s3:*"), deny("s3:*", None, NotResource=["arn:aws:s3:::public/*"]))],
    ),
    C(
        "notresource-deny-everything-but-listed-spared",
        ALLOWED,
        resource="arn:aws:s3:::public/index.html",
        identity=[doc(allow("s3:*"), deny("s3:*", None, NotResource=["arn:aws:s3:::public/*"]))],
    ),
    C(
        "notaction-notresource-together-allowed",
        ALLOWED,
        identity=[doc(allow(None, None, NotAction="iam:*", NotResource="arn:aws:s3:::secret/*"))],
    ),
    C(
        "notaction-notresource-together-resource-excluded",
        IMPLICIT,
        resource=SECRET_OBJ,
        identity=[doc(allow(None, None, NotAction="iam:*", NotResource="arn:aws:s3:::secret/*"))],
    ),
    C(
        "notaction-notresource-together-action-excluded",
        IMPLICIT,
        action="iam:GetUser",
        resource=ALICE,
        identity=[doc(allow(None, None, NotAction="iam:*", NotResource="arn:aws:s3:::secret/*"))],
    ),
]

# --------------------------------------------------------------------------------------------
# String condition operators [ops]
# --------------------------------------------------------------------------------------------

USER_CTX = {"aws:username": "alice"}

STRING_CASES = [
    cond("string-equals", {"StringEquals": {"aws:username": "alice"}}, USER_CTX, True),
    cond("string-equals-case-sensitive", {"StringEquals": {"aws:username": "Alice"}}, USER_CTX, False),
    cond(
        "string-equals-no-wildcards",
        {"StringEquals": {"s3:prefix": "home/*"}},
        {"s3:prefix": "home/x"},
        False,
    ),
    cond(
        "string-equals-literal-star", {"StringEquals": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/*"}, True
    ),
    cond("string-equals-empty-value", {"StringEquals": {"s3:prefix": ""}}, {"s3:prefix": ""}, True),
    cond("string-not-equals-differs", {"StringNotEquals": {"aws:username": "bob"}}, USER_CTX, True),
    cond("string-not-equals-same", {"StringNotEquals": {"aws:username": "alice"}}, USER_CTX, False),
    cond("string-not-equals-case-differs", {"StringNotEquals": {"aws:username": "ALICE"}}, USER_CTX, True),
    cond("string-equals-ignore-case", {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, USER_CTX, True),
    cond(
        "string-equals-ignore-case-differs",
        {"StringEqualsIgnoreCase": {"aws:username": "bob"}},
        USER_CTX,
        False,
    ),
    cond(
        "string-not-equals-ignore-case-same",
        {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}},
        USER_CTX,
        False,
    ),
    cond(
        "string-not-equals-ignore-case-differs",
        {"StringNotEqualsIgnoreCase": {"aws:username": "bob"}},
        USER_CTX,
        True,
    ),
    cond("string-like-star", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/a/b"}, True),
    cond("string-like-star-no-match", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/a"}, False),
    cond("string-like-question", {"StringLike": {"s3:prefix": "home/?"}}, {"s3:prefix": "home/a"}, True),
    cond(
        "string-like-question-one-char",
        {"StringLike": {"s3:prefix": "home/?"}},
        {"s3:prefix": "home/ab"},
        False,
    ),
    cond(
        "string-like-case-sensitive", {"StringLike": {"s3:prefix": "Home/*"}}, {"s3:prefix": "home/x"}, False
    ),
    cond(
        "string-like-without-wildcard-is-equality",
        {"StringLike": {"s3:prefix": "home"}},
        {"s3:prefix": "home"},
        True,
    ),
    cond(
        "string-like-partial-needs-wildcard",
        {"StringLike": {"s3:prefix": "home"}},
        {"s3:prefix": "home/x"},
        False,
    ),
    cond("string-not-like-other", {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/x"}, True),
    cond(
        "string-not-like-matching", {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/x"}, False
    ),
    cond(
        "string-like-instance-types",
        {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {"ec2:InstanceType": "t2.micro"},
        True,
    ),
    cond(
        "string-like-instance-types-no-match",
        {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {"ec2:InstanceType": "m5.large"},
        False,
    ),
    cond("string-equals-missing-key", {"StringEquals": {"aws:username": "alice"}}, {}, False),
    cond("string-like-missing-key", {"StringLike": {"s3:prefix": "*"}}, {}, False),
]

# --------------------------------------------------------------------------------------------
# Numeric condition operators [ops]: numbers compare as numbers (integers or decimals).
# --------------------------------------------------------------------------------------------

NUMERIC_CASES = [
    cond("numeric-equals", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    cond(
        "numeric-equals-decimal-form", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True
    ),
    cond("numeric-equals-differs", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, False),
    cond("numeric-not-equals", {"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
    cond(
        "numeric-not-equals-same", {"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False
    ),
    cond(
        "numeric-less-than-not-lexicographic",
        {"NumericLessThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": "9"},
        True,
    ),
    cond(
        "numeric-less-than-equal-value",
        {"NumericLessThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": "10"},
        False,
    ),
    cond(
        "numeric-less-than-equals",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "10"},
        True,
    ),
    cond("numeric-greater-than", {"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "100"}, True),
    cond(
        "numeric-greater-than-equals-below",
        {"NumericGreaterThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "9"},
        False,
    ),
    cond(
        "numeric-greater-than-equals-equal",
        {"NumericGreaterThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "10"},
        True,
    ),
    cond("numeric-negative", {"NumericLessThan": {"s3:max-keys": "0"}}, {"s3:max-keys": "-5"}, True),
    cond("numeric-decimals", {"NumericGreaterThan": {"s3:max-keys": "1.5"}}, {"s3:max-keys": "1.25"}, False),
    cond(
        "numeric-non-numeric-request-value",
        {"NumericEquals": {"s3:max-keys": "1"}},
        {"s3:max-keys": "abc"},
        False,
    ),
    # The API accepts int context values and compares them as numbers.
    cond(
        "numeric-int-context-value",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 5},
        True,
    ),
    cond(
        "numeric-multiple-values-or",
        {"NumericEquals": {"s3:max-keys": ["1", "2"]}},
        {"s3:max-keys": "2"},
        True,
    ),
    cond("numeric-missing-key", {"NumericLessThan": {"s3:max-keys": "10"}}, {}, False),
]

# --------------------------------------------------------------------------------------------
# Date condition operators [ops]: W3C ISO 8601 forms or epoch seconds, compared as instants.
# 2021-06-01T12:00:00Z == epoch 1622548800; 2020-01-01T00:00:00Z == 1577836800.
# --------------------------------------------------------------------------------------------

NOW = {"aws:CurrentTime": "2021-06-01T12:00:00Z"}

DATE_CASES = [
    cond("date-greater-than", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, NOW, True),
    cond("date-less-than-false", {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, NOW, False),
    cond("date-less-than", {"DateLessThan": {"aws:CurrentTime": "2022-01-01T00:00:00Z"}}, NOW, True),
    cond("date-equals", {"DateEquals": {"aws:CurrentTime": "2021-06-01T12:00:00Z"}}, NOW, True),
    cond("date-not-equals-same", {"DateNotEquals": {"aws:CurrentTime": "2021-06-01T12:00:00Z"}}, NOW, False),
    cond(
        "date-not-equals-differs", {"DateNotEquals": {"aws:CurrentTime": "2021-06-01T12:00:01Z"}}, NOW, True
    ),
    cond(
        "date-less-than-equals-equal",
        {"DateLessThanEquals": {"aws:CurrentTime": "2021-06-01T12:00:00Z"}},
        NOW,
        True,
    ),
    cond(
        "date-greater-than-equals-equal",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2021-06-01T12:00:00Z"}},
        NOW,
        True,
    ),
    cond(
        "date-greater-than-equal-is-false",
        {"DateGreaterThan": {"aws:CurrentTime": "2021-06-01T12:00:00Z"}},
        NOW,
        False,
    ),
    cond("date-policy-epoch", {"DateGreaterThan": {"aws:CurrentTime": "1577836800"}}, NOW, True),
    cond(
        "date-context-epoch",
        {"DateLessThan": {"aws:EpochTime": "2022-01-01T00:00:00Z"}},
        {"aws:EpochTime": "1622548800"},
        True,
    ),
    cond(
        "date-both-epoch",
        {"DateEquals": {"aws:EpochTime": "1622548800"}},
        {"aws:EpochTime": "1622548800"},
        True,
    ),
    cond("date-epoch-equals-iso", {"DateEquals": {"aws:CurrentTime": "1622548800"}}, NOW, True),
    cond("date-timezone-offset", {"DateEquals": {"aws:CurrentTime": "2021-06-01T14:00:00+02:00"}}, NOW, True),
    cond(
        "date-fractional-seconds",
        {"DateLessThan": {"aws:CurrentTime": "2021-06-01T12:00:00.500Z"}},
        NOW,
        True,
    ),
    cond("date-date-only", {"DateGreaterThan": {"aws:CurrentTime": "2021-01-01"}}, NOW, True),
    cond(
        "date-unparseable-request-value",
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "yesterday"},
        False,
    ),
    cond(
        "date-missing-token-issue-time",
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}},
        {},
        False,
    ),
]

# --------------------------------------------------------------------------------------------
# Bool and BinaryEquals [ops]. Binary context values are given base64-encoded, as the IAM
# policy simulator takes them (ContextKeyType "binary").
# --------------------------------------------------------------------------------------------

BINARY = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="

BOOL_BINARY_CASES = [
    cond("bool-true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
    cond("bool-mismatch", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
    cond("bool-missing", {"Bool": {"aws:SecureTransport": "false"}}, {}, False),
    # The API accepts Python bools in the context and compares them as "true"/"false".
    cond(
        "bool-python-bool-context",
        {"Bool": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": True},
        True,
    ),
    cond(
        "bool-python-false-context",
        {"Bool": {"aws:SecureTransport": "false"}},
        {"aws:SecureTransport": False},
        True,
    ),
    # A JSON boolean in the policy is accepted by IAM and means the same as the string.
    cond(
        "bool-json-boolean-in-policy",
        {"Bool": {"aws:SecureTransport": False}},
        {"aws:SecureTransport": "false"},
        True,
    ),
    deny_cond(
        "bool-deny-insecure-transport",
        {"Bool": {"aws:SecureTransport": "false"}},
        {"aws:SecureTransport": "false"},
        True,
    ),
    deny_cond(
        "bool-deny-insecure-transport-secure",
        {"Bool": {"aws:SecureTransport": "false"}},
        {"aws:SecureTransport": "true"},
        False,
    ),
    cond("binary-equals", {"BinaryEquals": {"kms:Blob": BINARY}}, {"kms:Blob": BINARY}, True),
    cond("binary-equals-differs", {"BinaryEquals": {"kms:Blob": BINARY}}, {"kms:Blob": "AAAA"}, False),
    cond("binary-equals-missing", {"BinaryEquals": {"kms:Blob": BINARY}}, {}, False),
]

# --------------------------------------------------------------------------------------------
# IP address operators [ops]: CIDR, IPv4 and IPv6, a bare address means /32.
# --------------------------------------------------------------------------------------------

IP_CASES = [
    cond(
        "ip-v4-cidr", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True
    ),
    cond(
        "ip-v4-cidr-outside",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.114.1"},
        False,
    ),
    cond(
        "ip-v4-bare-is-32",
        {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
        {"aws:SourceIp": "203.0.113.7"},
        True,
    ),
    cond(
        "ip-v4-bare-is-32-neighbour",
        {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
        {"aws:SourceIp": "203.0.113.8"},
        False,
    ),
    cond(
        "ip-v4-slash-zero",
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        {"aws:SourceIp": "198.51.100.1"},
        True,
    ),
    cond(
        "ip-v6-cidr-case-insensitive-hex",
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:5678:abcd::1"},
        True,
    ),
    cond(
        "ip-v6-cidr-outside",
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:5679::1"},
        False,
    ),
    cond(
        "ip-v4-request-v6-range",
        {"IpAddress": {"aws:SourceIp": "2001:DB8::/32"}},
        {"aws:SourceIp": "203.0.113.7"},
        False,
    ),
    cond(
        "ip-mixed-list",
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        {"aws:SourceIp": "2001:db8:1234:5678::9"},
        True,
    ),
    cond(
        "not-ip-outside",
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "192.0.2.1"},
        True,
    ),
    cond(
        "not-ip-inside", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, False
    ),
    cond(
        "ip-unparseable-request-value",
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        {"aws:SourceIp": "not-an-ip"},
        False,
    ),
    cond("ip-missing", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {}, False),
    deny_cond(
        "ip-deny-outside-corporate-range",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:SourceIp": "198.51.100.9"},
        True,
    ),
]

# --------------------------------------------------------------------------------------------
# ARN operators [ops]: the six colon-separated parts are matched separately, case-sensitively;
# ArnEquals and ArnLike behave identically.
# --------------------------------------------------------------------------------------------

TOPIC = f"arn:aws:sns:us-east-1:{A}:topic-a"

ARN_CASES = [
    cond(
        "arn-like",
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{A}:topic-*"}},
        {"aws:SourceArn": TOPIC},
        True,
    ),
    cond(
        "arn-equals-behaves-like-arn-like",
        {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:*:{A}:topic-*"}},
        {"aws:SourceArn": TOPIC},
        True,
    ),
    cond("arn-equals-exact", {"ArnEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC}, True),
    cond(
        "arn-like-case-sensitive",
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{A}:Topic-*"}},
        {"aws:SourceArn": TOPIC},
        False,
    ),
    # The documented example: StringLike's * crosses colons, ArnLike's does not.
    cond(
        "arn-like-star-stays-in-segment",
        {"ArnLike": {"aws:SourceArn": f"arn:aws:someservice:*:{A}:finance/*"}},
        {"aws:SourceArn": f"arn:aws:someservice:us-east-2:999999999999:store/abc:{A}:finance/document.txt"},
        False,
    ),
    cond(
        "string-like-star-crosses-colons",
        {"StringLike": {"aws:SourceArn": f"arn:aws:someservice:*:{A}:finance/*"}},
        {"aws:SourceArn": f"arn:aws:someservice:us-east-2:999999999999:store/abc:{A}:finance/document.txt"},
        True,
    ),
    cond(
        "arn-like-resource-part-keeps-colons",
        {"ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{A}:log-group:app:*"}},
        {"aws:SourceArn": f"arn:aws:logs:us-east-1:{A}:log-group:app:log-stream:x"},
        True,
    ),
    cond(
        "arn-like-empty-segments",
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket/*"}},
        {"aws:SourceArn": OBJ},
        True,
    ),
    cond(
        "arn-like-not-an-arn",
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
        {"aws:SourceArn": "topic-a"},
        False,
    ),
    cond(
        "arn-like-principal-arn-role-wildcard",
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/*"}},
        SESSION_CTX,
        True,
        principal=SESSION,
    ),
    cond(
        "arn-not-equals-differs",
        {"ArnNotEquals": {"aws:SourceArn": TOPIC}},
        {"aws:SourceArn": f"arn:aws:sns:us-east-1:{A}:topic-b"},
        True,
    ),
    cond("arn-not-equals-same", {"ArnNotEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC}, False),
    cond(
        "arn-not-like-matching",
        {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:topic-*"}},
        {"aws:SourceArn": TOPIC},
        False,
    ),
    cond("arn-like-missing", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, {}, False),
]

# --------------------------------------------------------------------------------------------
# Null, ...IfExists, and negated operators on an absent key [ops]:
# absent key -> false, except negated operators -> true; IfExists -> true when absent.
# --------------------------------------------------------------------------------------------

TOKEN = {"aws:TokenIssueTime": "2021-06-01T11:00:00Z"}

NULL_IFEXISTS_NEGATED_CASES = [
    cond("null-true-absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    cond("null-true-present", {"Null": {"aws:TokenIssueTime": "true"}}, TOKEN, False),
    cond("null-false-present", {"Null": {"aws:TokenIssueTime": "false"}}, TOKEN, True),
    cond("null-false-absent", {"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    cond(
        "null-two-keys-and",
        {"Null": {"aws:TokenIssueTime": "true", "aws:SourceVpc": "false"}},
        {"aws:SourceVpc": "vpc-1"},
        True,
    ),
    deny_cond("null-deny-missing-tag", {"Null": {"aws:RequestTag/project": "true"}}, {}, True),
    cond("ifexists-string-absent", {"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, {}, True),
    cond(
        "ifexists-string-present-match",
        {"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}},
        {"ec2:InstanceType": "t2.micro"},
        True,
    ),
    cond(
        "ifexists-string-present-mismatch",
        {"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}},
        {"ec2:InstanceType": "m5.large"},
        False,
    ),
    cond(
        "ifexists-string-like-present-mismatch",
        {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*"]}},
        {"ec2:InstanceType": "m5.large"},
        False,
    ),
    cond("ifexists-numeric-absent", {"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {}, True),
    cond(
        "ifexists-numeric-present-mismatch",
        {"NumericLessThanIfExists": {"s3:max-keys": "10"}},
        {"s3:max-keys": "20"},
        False,
    ),
    cond(
        "ifexists-date-absent",
        {"DateGreaterThanIfExists": {"aws:TokenIssueTime": "2030-01-01T00:00:00Z"}},
        {},
        True,
    ),
    cond(
        "ifexists-date-present-mismatch",
        {"DateGreaterThanIfExists": {"aws:TokenIssueTime": "2030-01-01T00:00:00Z"}},
        TOKEN,
        False,
    ),
    cond("ifexists-bool-absent", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    cond("ifexists-ip-absent", {"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True),
    cond(
        "ifexists-ip-present-outside",
        {"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "192.0.2.1"},
        False,
    ),
    cond("ifexists-arn-absent", {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:*:x"}}, {}, True),
    cond("ifexists-binary-absent", {"BinaryEqualsIfExists": {"kms:Blob": BINARY}}, {}, True),
    # "If you are using Deny with a negated operator like StringNotEqualsIfExists, the request
    # is still denied even if the tag is missing." [ops]
    deny_cond(
        "ifexists-deny-negated-absent", {"StringNotEqualsIfExists": {"aws:RequestTag/env": "prod"}}, {}, True
    ),
    deny_cond(
        "ifexists-deny-negated-present-equal",
        {"StringNotEqualsIfExists": {"aws:RequestTag/env": "prod"}},
        {"aws:RequestTag/env": "prod"},
        False,
    ),
    cond("negated-string-not-equals-absent", {"StringNotEquals": {"aws:username": "bob"}}, {}, True),
    cond("negated-string-not-like-absent", {"StringNotLike": {"s3:prefix": "home/*"}}, {}, True),
    cond(
        "negated-string-not-equals-ignore-case-absent",
        {"StringNotEqualsIgnoreCase": {"aws:username": "bob"}},
        {},
        True,
    ),
    cond("negated-numeric-not-equals-absent", {"NumericNotEquals": {"s3:max-keys": "10"}}, {}, True),
    cond(
        "negated-date-not-equals-absent",
        {"DateNotEquals": {"aws:TokenIssueTime": "2021-06-01T11:00:00Z"}},
        {},
        True,
    ),
    cond("negated-not-ip-absent", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True),
    cond("negated-arn-not-equals-absent", {"ArnNotEquals": {"aws:SourceArn": TOPIC}}, {}, True),
    cond("negated-arn-not-like-absent", {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, {}, True),
    deny_cond(
        "negated-deny-string-not-like-absent", {"StringNotLike": {"aws:PrincipalTag/team": "eng-*"}}, {}, True
    ),
]

# --------------------------------------------------------------------------------------------
# Set operators and combining [multi]: ForAllValues true when the key is absent or empty;
# ForAnyValue false then. Several values: OR (negated operators: NOR). Several keys: AND.
# Several operators: AND.
# --------------------------------------------------------------------------------------------

SET_CASES = [
    cond(
        "forall-subset",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["a"]},
        True,
    ),
    cond(
        "forall-all-listed",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["b", "a"]},
        True,
    ),
    cond(
        "forall-one-not-listed",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["a", "c"]},
        False,
    ),
    cond("forall-absent-key-is-true", {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, True),
    cond(
        "forall-empty-list-is-true",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": []},
        True,
    ),
    cond(
        "forall-string-like",
        {"ForAllValues:StringLike": {"aws:TagKeys": "Created*"}},
        {"aws:TagKeys": ["CreatedBy", "CreatedAt"]},
        True,
    ),
    cond(
        "forall-string-like-one-off",
        {"ForAllValues:StringLike": {"aws:TagKeys": "Created*"}},
        {"aws:TagKeys": ["CreatedBy", "Owner"]},
        False,
    ),
    cond(
        "forall-ignore-case",
        {"ForAllValues:StringEqualsIgnoreCase": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": ["ENV", "Env"]},
        True,
    ),
    cond(
        "forall-single-string-context",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": "a"},
        True,
    ),
    # Negated operator under ForAllValues: every request value must differ from every policy value.
    cond(
        "forall-not-equals-none-forbidden",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["a", "b"]},
        True,
    ),
    cond(
        "forall-not-equals-one-forbidden",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["a", "secret"]},
        False,
    ),
    cond(
        "forany-one-match",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["c", "b"]},
        True,
    ),
    cond(
        "forany-no-match",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["c"]},
        False,
    ),
    cond("forany-absent-key-is-false", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, False),
    cond(
        "forany-empty-list-is-false",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": []},
        False,
    ),
    cond(
        "forany-string-like",
        {"ForAnyValue:StringLike": {"aws:TagKeys": "team-*"}},
        {"aws:TagKeys": ["x", "team-a"]},
        True,
    ),
    cond(
        "forany-single-string-context",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": "a"},
        True,
    ),
    cond(
        "forany-not-equals-one-differs",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["a", "b"]},
        True,
    ),
    cond(
        "forany-not-equals-all-same",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["a"]},
        False,
    ),
    # The documented DynamoDB example: Deny PutItem touching ID or PostDateTime.
    deny_cond(
        "forany-deny-forbidden-attribute",
        {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}},
        {"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]},
        True,
    ),
    deny_cond(
        "forany-deny-harmless-attribute",
        {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}},
        {"dynamodb:requestedAttributes": ["UserName"]},
        False,
    ),
    cond(
        "values-or",
        {"StringEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        {"aws:PrincipalTag/role": "security"},
        True,
    ),
    cond(
        "values-or-none",
        {"StringEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        {"aws:PrincipalTag/role": "dev"},
        False,
    ),
    cond(
        "negated-values-nor-listed",
        {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        {"aws:PrincipalTag/role": "security"},
        False,
    ),
    cond(
        "negated-values-nor-unlisted",
        {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        {"aws:PrincipalTag/role": "dev"},
        True,
    ),
    cond(
        "keys-and-both",
        {"StringEquals": {"aws:PrincipalTag/team": "red", "aws:RequestedRegion": "us-east-1"}},
        {"aws:PrincipalTag/team": "red", "aws:RequestedRegion": "us-east-1"},
        True,
    ),
    cond(
        "keys-and-one-fails",
        {"StringEquals": {"aws:PrincipalTag/team": "red", "aws:RequestedRegion": "us-east-1"}},
        {"aws:PrincipalTag/team": "red", "aws:RequestedRegion": "eu-west-1"},
        False,
    ),
    cond(
        "operators-and-both",
        {"StringEquals": {"aws:PrincipalTag/team": "red"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:PrincipalTag/team": "red", "aws:SourceIp": "10.0.0.1"},
        True,
    ),
    cond(
        "operators-and-one-fails",
        {"StringEquals": {"aws:PrincipalTag/team": "red"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:PrincipalTag/team": "red", "aws:SourceIp": "192.0.2.1"},
        False,
    ),
    cond(
        "operators-and-mixed-families",
        {
            "Bool": {"aws:SecureTransport": "true"},
            "NumericLessThanEquals": {"s3:max-keys": "10"},
            "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        },
        {"aws:SecureTransport": "true", "s3:max-keys": "5", **NOW},
        True,
    ),
]

# --------------------------------------------------------------------------------------------
# Condition key names are case-insensitive, values are compared per operator [cond].
# --------------------------------------------------------------------------------------------

KEY_CASE_CASES = [
    cond(
        "key-case-policy-upper",
        {"IpAddress": {"AWS:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "10.0.0.1"},
        True,
    ),
    cond(
        "key-case-context-upper",
        {"IpAddress": {"aws:sourceip": "10.0.0.0/8"}},
        {"AWS:SOURCEIP": "10.0.0.1"},
        True,
    ),
    cond(
        "key-case-tag-key",
        {"StringEquals": {"aws:PrincipalTag/Team": "red"}},
        {"aws:PrincipalTag/team": "red"},
        True,
    ),
    cond(
        "key-case-value-still-sensitive",
        {"StringEquals": {"aws:username": "alice"}},
        {"aws:UserName": "Alice"},
        False,
    ),
    cond(
        "key-case-null",
        {"Null": {"AWS:TokenIssueTime": "true"}},
        {"aws:tokenissuetime": "2021-01-01T00:00:00Z"},
        False,
    ),
    cond("key-case-service-key", {"StringEquals": {"S3:Prefix": "home/"}}, {"s3:prefix": "home/"}, True),
]

# --------------------------------------------------------------------------------------------
# Policy variables [vars]: Version 2012-10-17 only; Resource (after the 5th colon) and
# string/ARN conditions; ${*} ${?} ${$}; defaults "${key, 'default'}"; an unresolved variable
# makes a Resource entry match nothing and a String* condition not match (negated: match)
# [facts]. Variables are replaced once (a ${$} does not start a new variable).
# --------------------------------------------------------------------------------------------


def var_res(
    id: str,
    pattern: str,
    resource: str,
    context: dict[str, Any],
    match: bool,
    *,
    version: str | None = "2012-10-17",
    principal: str = ALICE,
) -> Case:
    return Case(
        id,
        ALLOWED if match else IMPLICIT,
        resource=resource,
        principal=principal,
        context=context,
        identity=[doc(allow("s3:GetObject", pattern), version=version)],
        denied_by=None if match else "identity",
    )


HOME = "arn:aws:s3:::bucket/home/${aws:username}/*"
TEAM_CTX = {"aws:PrincipalTag/team": "red"}

VARIABLE_CASES = [
    var_res("var-username-own-home", HOME, "arn:aws:s3:::bucket/home/alice/notes.txt", USER_CTX, True),
    var_res("var-username-other-home", HOME, "arn:aws:s3:::bucket/home/bob/notes.txt", USER_CTX, False),
    var_res("var-username-case-of-value", HOME, "arn:aws:s3:::bucket/home/Alice/notes.txt", USER_CTX, False),
    # A role session has no aws:username: the entry matches nothing, not even "home//".
    var_res(
        "var-missing-matches-nothing",
        HOME,
        "arn:aws:s3:::bucket/home//notes.txt",
        SESSION_CTX,
        False,
        principal=SESSION,
    ),
    var_res(
        "var-missing-does-not-match-literal",
        HOME,
        "arn:aws:s3:::bucket/home/${aws:username}/x",
        SESSION_CTX,
        False,
        principal=SESSION,
    ),
    var_res(
        "var-missing-user-without-key",
        "arn:aws:s3:::bucket/home/${aws:username}/*",
        "arn:aws:s3:::bucket/home/x/y",
        {},
        False,
    ),
    var_res(
        "var-principal-tag",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
        "arn:aws:s3:::bucket/red/x",
        TEAM_CTX,
        True,
    ),
    var_res(
        "var-principal-tag-other",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
        "arn:aws:s3:::bucket/blue/x",
        TEAM_CTX,
        False,
    ),
    var_res(
        "var-default-used-when-missing",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'company-wide'}/*",
        "arn:aws:s3:::bucket/company-wide/x",
        {},
        True,
    ),
    var_res(
        "var-default-ignored-when-present",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'company-wide'}/*",
        "arn:aws:s3:::bucket/company-wide/x",
        TEAM_CTX,
        False,
    ),
    var_res(
        "var-default-present-value",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'company-wide'}/*",
        "arn:aws:s3:::bucket/red/x",
        TEAM_CTX,
        True,
    ),
    var_res("var-literal-star", "arn:aws:s3:::bucket/a${*}b", "arn:aws:s3:::bucket/a*b", {}, True),
    var_res(
        "var-literal-star-is-not-wildcard", "arn:aws:s3:::bucket/a${*}b", "arn:aws:s3:::bucket/aXb", {}, False
    ),
    var_res("var-literal-question", "arn:aws:s3:::bucket/q${?}", "arn:aws:s3:::bucket/q?", {}, True),
    var_res(
        "var-literal-question-is-not-wildcard",
        "arn:aws:s3:::bucket/q${?}",
        "arn:aws:s3:::bucket/qx",
        {},
        False,
    ),
    var_res("var-literal-dollar", "arn:aws:s3:::bucket/cost${$}", "arn:aws:s3:::bucket/cost$", {}, True),
    var_res(
        "var-dollar-no-resubstitution",
        "arn:aws:s3:::bucket/${$}{aws:username}",
        "arn:aws:s3:::bucket/${aws:username}",
        USER_CTX,
        True,
    ),
    # Key names are case-insensitive, in variables too.
    var_res(
        "var-name-case-insensitive",
        "arn:aws:s3:::bucket/home/${AWS:UserName}/*",
        "arn:aws:s3:::bucket/home/alice/x",
        USER_CTX,
        True,
    ),
    # Variables in the middle of a segment, with wildcards around them.
    var_res(
        "var-with-wildcards",
        "arn:aws:s3:::bucket/*-${aws:username}-*",
        "arn:aws:s3:::bucket/x-alice-y",
        USER_CTX,
        True,
    ),
    # Version 2008-10-17 (or no Version): ${...} is literal text; its '*' is a wildcard.
    var_res(
        "var-2008-literal",
        HOME,
        "arn:aws:s3:::bucket/home/${aws:username}/x",
        USER_CTX,
        True,
        version="2008-10-17",
    ),
    var_res(
        "var-2008-not-substituted",
        HOME,
        "arn:aws:s3:::bucket/home/alice/x",
        USER_CTX,
        False,
        version="2008-10-17",
    ),
    var_res(
        "var-no-version-not-substituted",
        HOME,
        "arn:aws:s3:::bucket/home/alice/x",
        USER_CTX,
        False,
        version=None,
    ),
    var_res(
        "var-no-version-literal",
        HOME,
        "arn:aws:s3:::bucket/home/${aws:username}/x",
        USER_CTX,
        True,
        version=None,
    ),
    var_res(
        "var-2008-star-inside-braces-is-wildcard",
        "arn:aws:s3:::bucket/${*}",
        "arn:aws:s3:::bucket/${anything}",
        {},
        True,
        version="2008-10-17",
    ),
    cond(
        "var-condition-string-like",
        {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
        {**USER_CTX, "s3:prefix": "home/alice/docs"},
        True,
    ),
    cond(
        "var-condition-string-like-other-user",
        {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
        {**USER_CTX, "s3:prefix": "home/bob/docs"},
        False,
    ),
    cond(
        "var-condition-string-equals-tag",
        {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}},
        {**USER_CTX, "aws:ResourceTag/owner": "alice"},
        True,
    ),
    cond(
        "var-condition-arn-equals",
        {"ArnEquals": {"aws:SourceArn": f"arn:aws:iam::{A}:user/${{aws:username}}"}},
        {**USER_CTX, "aws:SourceArn": ALICE},
        True,
    ),
    cond(
        "var-condition-missing-string-equals",
        {"StringEquals": {"s3:prefix": "home/${aws:username}/"}},
        {"s3:prefix": "home//"},
        False,
    ),
    # [facts]: an unresolved variable in a negated string condition matches.
    cond(
        "var-condition-missing-negated-matches",
        {"StringNotEquals": {"s3:prefix": "home/${aws:username}/"}},
        {"s3:prefix": "home/x/"},
        True,
    ),
    cond(
        "var-condition-default",
        {"StringEquals": {"s3:prefix": "${aws:PrincipalTag/team, 'shared'}/"}},
        {"s3:prefix": "shared/"},
        True,
    ),
    cond(
        "var-condition-literal-star",
        {"StringLike": {"s3:prefix": "a${*}"}},
        {"s3:prefix": "abc"},
        False,
    ),
    cond(
        "var-condition-literal-star-exact",
        {"StringLike": {"s3:prefix": "a${*}"}},
        {"s3:prefix": "a*"},
        True,
    ),
]

# --------------------------------------------------------------------------------------------
# Identity-based policies and explicit deny [eval]: default implicit deny; any Allow across the
# attached policies allows; an explicit Deny anywhere wins.
# --------------------------------------------------------------------------------------------

IDENTITY_CASES = [
    C(
        "identity-none",
        IMPLICIT,
        denied_by="identity",
        reason="because no identity-based policy allows the s3:GetObject action",
    ),
    C("identity-allow", ALLOWED, identity=[doc(allow("s3:GetObject", OBJ, Sid="ReadKey"))], sid="ReadKey"),
    C(
        "identity-allow-in-third-policy",
        ALLOWED,
        identity=[doc(allow("ec2:*")), doc(allow("iam:Get*")), doc(allow("s3:Get*", Sid="S3Read"))],
        sid="S3Read",
    ),
    C(
        "identity-deny-in-other-policy-wins",
        EXPLICIT,
        identity=[doc(allow()), doc(deny("s3:*", Sid="NoS3"))],
        denied_by="identity",
        sid="NoS3",
        reason="with an explicit deny in an identity-based policy",
    ),
    C(
        "identity-deny-same-policy-wins",
        EXPLICIT,
        identity=[doc(allow("s3:GetObject", OBJ), deny("s3:GetObject", OBJ, Sid="Nope"))],
        sid="Nope",
    ),
    C(
        "identity-deny-other-resource",
        ALLOWED,
        identity=[doc(allow(), deny("s3:*", "arn:aws:s3:::secret/*"))],
    ),
    C("identity-deny-other-action", ALLOWED, identity=[doc(allow(), deny("s3:PutObject"))]),
    C(
        "identity-deny-condition-false",
        ALLOWED,
        context={"aws:SourceIp": "10.0.0.1"},
        identity=[doc(allow(), deny(Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
    ),
    C("identity-statement-as-object", ALLOWED, identity=[{"Version": "2012-10-17", "Statement": allow()}]),
    C(
        "identity-2008-version-still-evaluates",
        ALLOWED,
        identity=[doc(allow("s3:GetObject"), version="2008-10-17")],
    ),
    C(
        "identity-allow-condition-false",
        IMPLICIT,
        context={"aws:SourceIp": "192.0.2.1"},
        identity=[doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
        denied_by="identity",
    ),
    C(
        "identity-allow-other-action-only",
        IMPLICIT,
        identity=[doc(allow("s3:PutObject"))],
        denied_by="identity",
    ),
]

# --------------------------------------------------------------------------------------------
# Permissions boundaries [eval]: a boundary present caps identity permissions; it grants nothing
# by itself; an explicit Deny in it wins.
# --------------------------------------------------------------------------------------------

BOUNDARY_CASES = [
    C("boundary-both-allow", ALLOWED, identity=[ALLOW_ALL], boundary=doc(allow("s3:*"))),
    C(
        "boundary-does-not-allow",
        IMPLICIT,
        action="ec2:RunInstances",
        resource="*",
        identity=[ALLOW_ALL],
        boundary=doc(allow("s3:*")),
        denied_by="boundary",
        reason="because no permissions boundary allows the ec2:RunInstances action",
    ),
    C(
        "boundary-alone-grants-nothing",
        IMPLICIT,
        boundary=doc(allow()),
        denied_by="identity",
    ),
    C(
        "boundary-explicit-deny",
        EXPLICIT,
        identity=[ALLOW_ALL],
        boundary=doc(allow(), deny("s3:GetObject", Sid="BoundaryDeny")),
        denied_by="boundary",
        sid="BoundaryDeny",
        reason="with an explicit deny in a permissions boundary",
    ),
    C(
        "boundary-narrower-identity",
        IMPLICIT,
        action="s3:PutObject",
        identity=[doc(allow("s3:GetObject"))],
        boundary=doc(allow("s3:*")),
        denied_by="identity",
    ),
    C(
        "boundary-condition-met",
        ALLOWED,
        context={"aws:RequestedRegion": "us-east-1"},
        identity=[ALLOW_ALL],
        boundary=doc(allow(Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})),
    ),
    C(
        "boundary-condition-not-met",
        IMPLICIT,
        context={"aws:RequestedRegion": "eu-west-1"},
        identity=[ALLOW_ALL],
        boundary=doc(allow(Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})),
        denied_by="boundary",
    ),
    C(
        "boundary-role-session",
        IMPLICIT,
        action="s3:PutObject",
        principal=SESSION,
        context=SESSION_CTX,
        identity=[doc(allow("s3:*"))],
        boundary=doc(allow("s3:GetObject")),
        denied_by="boundary",
    ),
    C(
        "boundary-role-session-allowed",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[doc(allow("s3:*"))],
        boundary=doc(allow("s3:GetObject")),
    ),
    C(
        "boundary-identity-deny-still-wins",
        EXPLICIT,
        identity=[doc(allow(), deny("s3:GetObject"))],
        boundary=doc(allow()),
        denied_by="identity",
    ),
]

# --------------------------------------------------------------------------------------------
# Session policies [eval]: when present they cap the session; absent, the role's permissions
# apply. Several session policies (inline + managed) together form the session's cap (any one
# allowing suffices) -- the docs describe the cap as "the session policies", plural.
# --------------------------------------------------------------------------------------------

SESSION_POLICY_CASES = [
    C("session-absent", ALLOWED, principal=SESSION, context=SESSION_CTX, identity=[doc(allow("s3:*"))]),
    C(
        "session-allows-subset",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[doc(allow("s3:*"))],
        session=[doc(allow("s3:GetObject"))],
    ),
    C(
        "session-does-not-allow",
        IMPLICIT,
        action="s3:PutObject",
        principal=SESSION,
        context=SESSION_CTX,
        identity=[doc(allow("s3:*"))],
        session=[doc(allow("s3:GetObject"))],
        denied_by="session",
        reason="because no session policy allows the s3:PutObject action",
    ),
    C(
        "session-grants-nothing-alone",
        IMPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[doc(allow("ec2:*"))],
        session=[ALLOW_ALL],
        denied_by="identity",
    ),
    C(
        "session-explicit-deny",
        EXPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        session=[doc(allow(), deny("s3:GetObject", Sid="SessDeny"))],
        denied_by="session",
        sid="SessDeny",
        reason="with an explicit deny in a session policy",
    ),
    C(
        "session-two-policies-either-allows",
        ALLOWED,
        action="s3:PutObject",
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        session=[doc(allow("s3:GetObject")), doc(allow("s3:PutObject"))],
    ),
    C(
        "session-boundary-checked-first",
        IMPLICIT,
        action="s3:PutObject",
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        boundary=doc(allow("s3:GetObject")),
        session=[doc(allow("s3:GetObject"))],
        denied_by="boundary",
    ),
    C(
        "session-all-three-allow",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        boundary=doc(allow("s3:*")),
        session=[doc(allow("s3:Get*"))],
    ),
    C(
        "session-federated-user",
        IMPLICIT,
        action="s3:PutObject",
        principal=FED_USER,
        identity=[ALLOW_ALL],
        session=[doc(allow("s3:GetObject"))],
        denied_by="session",
    ),
]

# --------------------------------------------------------------------------------------------
# SCPs and RCPs [eval]: every level must allow (policies within a level are a union); an
# explicit Deny anywhere wins; they grant nothing. RCPs are evaluated before SCPs.
# --------------------------------------------------------------------------------------------

ORG_CASES = [
    C("scp-full-access", ALLOWED, identity=[ALLOW_ALL], scps=[FULL_ACCESS_SCP]),
    C("scp-grants-nothing", IMPLICIT, scps=[FULL_ACCESS_SCP], denied_by="identity"),
    C(
        "scp-second-level-narrows",
        IMPLICIT,
        action="ec2:RunInstances",
        resource="*",
        identity=[ALLOW_ALL],
        scps=[FULL_ACCESS_SCP, doc(allow("s3:*"))],
        denied_by="scp",
        reason="because no service control policy allows the ec2:RunInstances action",
    ),
    C(
        "scp-second-level-allows",
        ALLOWED,
        identity=[ALLOW_ALL],
        scps=[FULL_ACCESS_SCP, doc(allow("s3:*"))],
    ),
    C(
        "scp-level-union-of-policies",
        ALLOWED,
        action="ec2:RunInstances",
        resource="*",
        identity=[ALLOW_ALL],
        scps=[(doc(allow("s3:*")), doc(allow("ec2:*")))],
    ),
    C(
        "scp-first-level-narrows",
        IMPLICIT,
        identity=[ALLOW_ALL],
        scps=[doc(allow("ec2:*")), FULL_ACCESS_SCP],
        denied_by="scp",
    ),
    C(
        "scp-explicit-deny",
        EXPLICIT,
        identity=[ALLOW_ALL],
        scps=[(FULL_ACCESS_SCP, doc(deny("s3:*", Sid="NoS3")))],
        denied_by="scp",
        sid="NoS3",
        reason="with an explicit deny in a service control policy",
    ),
    C(
        "scp-deny-region-condition",
        EXPLICIT,
        context={"aws:RequestedRegion": "ap-south-1"},
        identity=[ALLOW_ALL],
        scps=[
            doc(
                allow(),
                deny(
                    None,
                    NotAction=["iam:*", "sts:*"],
                    Condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
                ),
            )
        ],
        denied_by="scp",
    ),
    C(
        "scp-deny-region-condition-allowed-region",
        ALLOWED,
        context={"aws:RequestedRegion": "us-east-1"},
        identity=[ALLOW_ALL],
        scps=[
            doc(
                allow(),
                deny(
                    None,
                    NotAction=["iam:*", "sts:*"],
                    Condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
                ),
            )
        ],
    ),
    C(
        "scp-limits-resource-policy-user-grant",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        scps=[doc(allow("ec2:*"))],
        denied_by="scp",
    ),
    C(
        "scp-limits-role-session",
        IMPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        scps=[doc(allow("ec2:*"))],
        denied_by="scp",
    ),
    C("rcp-full-access", ALLOWED, identity=[ALLOW_ALL], rcps=[doc(allow(Principal="*"))]),
    C(
        "rcp-no-allow",
        IMPLICIT,
        identity=[ALLOW_ALL],
        rcps=[doc(allow("sqs:*", Principal="*"))],
        denied_by="rcp",
        reason="because no resource control policy allows the s3:GetObject action",
    ),
    C(
        "rcp-explicit-deny-insecure",
        EXPLICIT,
        context={"aws:SecureTransport": "false"},
        identity=[ALLOW_ALL],
        rcps=[
            doc(
                allow(Principal="*"),
                deny("s3:*", Principal="*", Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}),
            )
        ],
        denied_by="rcp",
        reason="with an explicit deny in a resource control policy",
    ),
    C(
        "rcp-explicit-deny-condition-not-met",
        ALLOWED,
        context={"aws:SecureTransport": "true"},
        identity=[ALLOW_ALL],
        rcps=[
            doc(
                allow(Principal="*"),
                deny("s3:*", Principal="*", Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}),
            )
        ],
    ),
    C(
        "rcp-grants-nothing",
        IMPLICIT,
        rcps=[doc(allow(Principal="*"))],
        denied_by="identity",
    ),
    C(
        "rcp-before-scp",
        IMPLICIT,
        identity=[ALLOW_ALL],
        rcps=[doc(allow("sqs:*", Principal="*"))],
        scps=[doc(allow("ec2:*"))],
        denied_by="rcp",
    ),
    C(
        "rcp-two-levels",
        IMPLICIT,
        identity=[ALLOW_ALL],
        rcps=[doc(allow(Principal="*")), doc(allow("sqs:*", Principal="*"))],
        denied_by="rcp",
    ),
]

# --------------------------------------------------------------------------------------------
# Resource-based policy, same account [eval][facts]: Allow naming a user ARN, a role-session ARN
# or a federated-user session is final (not capped by identity, boundary or session implicit
# denies); naming a role ARN is capped by boundary and session policies (identity not needed);
# naming the account delegates to identity policies.
# --------------------------------------------------------------------------------------------

SAME_ACCOUNT_CASES = [
    C(
        "same-rbp-user-grant-no-identity",
        ALLOWED,
        resource_policy=doc(allow(Principal={"AWS": ALICE}, Sid="ToAlice")),
        sid="ToAlice",
    ),
    C(
        "same-rbp-user-grant-boundary-not-allowing",
        ALLOWED,
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        boundary=doc(allow("ec2:*")),
    ),
    C(
        "same-rbp-user-grant-boundary-explicit-deny",
        EXPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        boundary=doc(allow(), deny("s3:*")),
        denied_by="boundary",
    ),
    C(
        "same-rbp-user-grant-identity-deny",
        EXPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        identity=[doc(deny("s3:GetObject"))],
        denied_by="identity",
    ),
    C("same-rbp-user-list", ALLOWED, resource_policy=doc(allow(Principal={"AWS": [BOB, ALICE]}))),
    C(
        "same-rbp-other-user-identity-allows",
        ALLOWED,
        resource_policy=doc(allow(Principal={"AWS": BOB})),
        identity=[doc(allow("s3:GetObject"))],
    ),
    C(
        "same-rbp-other-user-no-identity",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": BOB})),
        denied_by="identity",
    ),
    C(
        "same-rbp-absent-identity-allows",
        ALLOWED,
        identity=[doc(allow("s3:GetObject"))],
    ),
    C(
        "same-rbp-deny-user",
        EXPLICIT,
        resource_policy=doc(deny(Principal={"AWS": ALICE}, Sid="BlockAlice")),
        identity=[ALLOW_ALL],
        denied_by="resource",
        sid="BlockAlice",
        reason="with an explicit deny in a resource-based policy",
    ),
    C(
        "same-rbp-deny-star",
        EXPLICIT,
        resource_policy=doc(deny(Principal="*")),
        identity=[ALLOW_ALL],
        denied_by="resource",
    ),
    C(
        "same-rbp-account-id-delegates-no-identity",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": A})),
        denied_by="identity",
    ),
    C(
        "same-rbp-account-id-delegates-identity-allows",
        ALLOWED,
        resource_policy=doc(allow(Principal={"AWS": A})),
        identity=[doc(allow("s3:GetObject"))],
    ),
    C(
        "same-rbp-root-arn-delegates-no-identity",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ROOT_A})),
        denied_by="identity",
    ),
    C(
        "same-rbp-root-arn-delegates-boundary-caps",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ROOT_A})),
        identity=[ALLOW_ALL],
        boundary=doc(allow("ec2:*")),
        denied_by="boundary",
    ),
    # "Principal": "*" grants to every principal directly (a public grant).
    C("same-rbp-star-grant", ALLOWED, resource_policy=doc(allow(Principal="*"))),
    C("same-rbp-aws-star-grant", ALLOWED, resource_policy=doc(allow(Principal={"AWS": "*"}))),
    C(
        "same-rbp-grant-condition-false",
        IMPLICIT,
        context={"aws:SourceIp": "192.0.2.1"},
        resource_policy=doc(
            allow(Principal={"AWS": ALICE}, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
        ),
        denied_by="identity",
    ),
    C(
        "same-rbp-grant-other-action",
        IMPLICIT,
        action="s3:PutObject",
        resource_policy=doc(allow("s3:GetObject", Principal={"AWS": ALICE})),
    ),
    C(
        "same-rbp-grant-other-resource",
        IMPLICIT,
        resource=SECRET_OBJ,
        resource_policy=doc(allow("s3:GetObject", OBJ, Principal={"AWS": ALICE})),
    ),
    # Role ARN grants: the session is matched through aws:PrincipalArn.
    C(
        "same-rbp-role-grant-no-identity",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE})),
    ),
    C(
        "same-rbp-role-grant-capped-by-boundary",
        IMPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE})),
        boundary=doc(allow("ec2:*")),
        denied_by="boundary",
    ),
    C(
        "same-rbp-role-grant-boundary-allows",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE})),
        boundary=doc(allow("s3:*")),
    ),
    C(
        "same-rbp-role-grant-capped-by-session-policy",
        IMPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE})),
        session=[doc(allow("ec2:*"))],
        denied_by="session",
    ),
    C(
        "same-rbp-role-grant-session-policy-allows",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE})),
        session=[doc(allow("s3:GetObject"))],
    ),
    C(
        "same-rbp-role-with-path",
        ALLOWED,
        principal=SESSION_PATH,
        context=SESSION_PATH_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE_PATH})),
    ),
    C(
        "same-rbp-role-grant-other-role-session",
        IMPLICIT,
        principal=OTHER_SESSION,
        context=OTHER_SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE})),
        denied_by="identity",
    ),
    C(
        "same-rbp-deny-role-matches-session",
        EXPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        resource_policy=doc(deny(Principal={"AWS": ROLE})),
        denied_by="resource",
    ),
    # Session ARN grants are final.
    C(
        "same-rbp-session-grant-boundary-not-allowing",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": SESSION})),
        boundary=doc(allow("ec2:*")),
    ),
    C(
        "same-rbp-session-grant-session-policy-not-allowing",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": SESSION})),
        session=[doc(allow("ec2:*"))],
    ),
    C(
        "same-rbp-session-grant-other-session",
        IMPLICIT,
        principal=f"arn:aws:sts::{A}:assumed-role/app/s-other",
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": SESSION})),
    ),
    C(
        "same-rbp-session-grant-explicit-session-deny",
        EXPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        resource_policy=doc(allow(Principal={"AWS": SESSION})),
        session=[doc(deny("s3:*"))],
        denied_by="session",
    ),
    C(
        "same-rbp-federated-user-grant-final",
        ALLOWED,
        principal=FED_USER,
        resource_policy=doc(allow(Principal={"AWS": FED_USER})),
        session=[doc(allow("ec2:*"))],
    ),
    C(
        "same-rbp-canonical-user",
        ALLOWED,
        principal=CANONICAL,
        resource_policy=doc(allow(Principal={"CanonicalUser": CANONICAL})),
        resource_account=A,
    ),
    C(
        "same-rbp-canonical-user-other",
        IMPLICIT,
        principal=CANONICAL,
        resource_policy=doc(allow(Principal={"CanonicalUser": OTHER_CANONICAL})),
        resource_account=A,
    ),
]

# --------------------------------------------------------------------------------------------
# Cross-account [eval]: the principal's side (identity, boundary, session, SCP) and the resource
# side (resource policy naming the principal, RCP) must both allow.
# --------------------------------------------------------------------------------------------

XA = {"resource_account": B}  # ALICE (account A) reaching into account B

CROSS_ACCOUNT_CASES = [
    C(
        "xacct-identity-only",
        IMPLICIT,
        identity=[ALLOW_ALL],
        denied_by="resource",
        reason="because no resource-based policy allows the s3:GetObject action",
        **XA,
    ),
    C(
        "xacct-rbp-does-not-name",
        IMPLICIT,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": f"arn:aws:iam::{A}:user/someone-else"})),
        denied_by="resource",
        **XA,
    ),
    C(
        "xacct-rbp-names-user-no-identity",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        denied_by="identity",
        **XA,
    ),
    C(
        "xacct-both",
        ALLOWED,
        identity=[doc(allow("s3:GetObject"))],
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        **XA,
    ),
    C(
        "xacct-rbp-names-account-id",
        ALLOWED,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": A})),
        **XA,
    ),
    C(
        "xacct-rbp-names-root",
        ALLOWED,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": ROOT_A})),
        **XA,
    ),
    C(
        "xacct-rbp-names-root-no-identity",
        IMPLICIT,
        resource_policy=doc(allow(Principal={"AWS": ROOT_A})),
        denied_by="identity",
        **XA,
    ),
    C("xacct-rbp-star", ALLOWED, identity=[ALLOW_ALL], resource_policy=doc(allow(Principal="*")), **XA),
    C(
        "xacct-rbp-star-no-identity",
        IMPLICIT,
        resource_policy=doc(allow(Principal="*")),
        denied_by="identity",
        **XA,
    ),
    C(
        "xacct-identity-deny",
        EXPLICIT,
        identity=[doc(allow(), deny("s3:*"))],
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        denied_by="identity",
        **XA,
    ),
    C(
        "xacct-rbp-deny",
        EXPLICIT,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": A}), deny(Principal={"AWS": ALICE})),
        denied_by="resource",
        **XA,
    ),
    C(
        "xacct-boundary-caps",
        IMPLICIT,
        identity=[ALLOW_ALL],
        boundary=doc(allow("ec2:*")),
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        denied_by="boundary",
        **XA,
    ),
    C(
        "xacct-role-session-by-role-arn",
        ALLOWED,
        principal=SESSION_B,
        context=SESSION_B_CTX,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": ROLE_B})),
        resource_account=A,
    ),
    C(
        "xacct-role-session-by-role-arn-no-identity",
        IMPLICIT,
        principal=SESSION_B,
        context=SESSION_B_CTX,
        resource_policy=doc(allow(Principal={"AWS": ROLE_B})),
        resource_account=A,
        denied_by="identity",
    ),
    C(
        "xacct-role-session-session-policy-caps",
        IMPLICIT,
        principal=SESSION_B,
        context=SESSION_B_CTX,
        identity=[ALLOW_ALL],
        session=[doc(allow("ec2:*"))],
        resource_policy=doc(allow(Principal={"AWS": ROLE_B})),
        resource_account=A,
        denied_by="session",
    ),
    C(
        "xacct-scp-caps-principal-side",
        IMPLICIT,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        scps=[doc(allow("ec2:*"))],
        denied_by="scp",
        **XA,
    ),
    C(
        "xacct-rcp-denies-outside-org",
        EXPLICIT,
        context={"aws:PrincipalOrgID": "o-outsider"},
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        rcps=[
            doc(
                allow(Principal="*"),
                deny(
                    "s3:*",
                    Principal="*",
                    Condition={"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-home"}},
                ),
            )
        ],
        denied_by="rcp",
        **XA,
    ),
    C(
        "xacct-rcp-allows-inside-org",
        ALLOWED,
        context={"aws:PrincipalOrgID": "o-home"},
        identity=[ALLOW_ALL],
        resource_policy=doc(allow(Principal={"AWS": ALICE})),
        rcps=[
            doc(
                allow(Principal="*"),
                deny(
                    "s3:*",
                    Principal="*",
                    Condition={"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-home"}},
                ),
            )
        ],
        **XA,
    ),
    C(
        "xacct-rbp-condition-on-org",
        ALLOWED,
        context={"aws:PrincipalOrgID": "o-home"},
        identity=[ALLOW_ALL],
        resource_policy=doc(
            allow(Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-home"}})
        ),
        **XA,
    ),
    C(
        "xacct-rbp-condition-on-org-outsider",
        IMPLICIT,
        context={"aws:PrincipalOrgID": "o-outsider"},
        identity=[ALLOW_ALL],
        resource_policy=doc(
            allow(Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-home"}})
        ),
        denied_by="resource",
        **XA,
    ),
    # An explicit resource_account equal to the principal's account is same-account.
    C("xacct-explicit-same-account", ALLOWED, identity=[ALLOW_ALL], resource_account=A),
]

# --------------------------------------------------------------------------------------------
# NotPrincipal [prin]: Deny + NotPrincipal denies everyone except the listed principals (listing
# the account ARN too, as AWS recommends); Allow + NotPrincipal grants everyone except them.
# --------------------------------------------------------------------------------------------

NOT_PRINCIPAL_CASES = [
    C(
        "notprincipal-deny-unlisted-principal",
        EXPLICIT,
        identity=[ALLOW_ALL],
        resource_policy=doc(deny("s3:*", NotPrincipal={"AWS": [CAROL_B, ROOT_B]})),
        denied_by="resource",
    ),
    C(
        "notprincipal-deny-spares-listed",
        ALLOWED,
        principal=CAROL_B,
        identity=[ALLOW_ALL],
        resource_policy=doc(
            allow(Principal={"AWS": CAROL_B}),
            deny("s3:*", NotPrincipal={"AWS": [CAROL_B, ROOT_B]}),
        ),
        resource_account=A,
    ),
    C(
        "notprincipal-deny-spares-listed-session",
        ALLOWED,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[ALLOW_ALL],
        resource_policy=doc(deny("s3:*", NotPrincipal={"AWS": [SESSION, ROLE, ROOT_A]})),
    ),
    C(
        "notprincipal-deny-unlisted-other-account",
        EXPLICIT,
        principal=CAROL_B,
        identity=[ALLOW_ALL],
        resource_policy=doc(
            allow(Principal={"AWS": CAROL_B}),
            deny("s3:*", NotPrincipal={"AWS": [SESSION, ROLE, ROOT_A]}),
        ),
        resource_account=A,
        denied_by="resource",
    ),
    C(
        "notprincipal-allow-grants-others",
        ALLOWED,
        principal=DAVE_B,
        identity=[ALLOW_ALL],
        resource_policy=doc(allow("s3:GetObject", NotPrincipal={"AWS": CAROL_B})),
        resource_account=A,
    ),
    C(
        "notprincipal-allow-excludes-listed",
        IMPLICIT,
        principal=CAROL_B,
        identity=[ALLOW_ALL],
        # The user and its account are both listed: whether a NotPrincipal naming only the user
        # exempts it is left open by the docs ("might"), so the test does not rely on it.
        resource_policy=doc(allow("s3:GetObject", NotPrincipal={"AWS": [CAROL_B, ROOT_B]})),
        resource_account=A,
        denied_by="resource",
    ),
]

# --------------------------------------------------------------------------------------------
# Root, service and federated principals [eval][prin]: the root user is allowed in its own
# account unless explicitly denied or capped by an SCP/RCP; a service principal has no identity
# policies, so only a resource (trust) policy can allow it.
# --------------------------------------------------------------------------------------------

ROOT_SERVICE_CASES = [
    C("root-no-policies", ALLOWED, principal=ROOT_A),
    C("root-any-action", ALLOWED, principal=ROOT_A, action="iam:DeleteRole", resource=ROLE),
    C(
        "root-resource-deny",
        EXPLICIT,
        principal=ROOT_A,
        resource_policy=doc(deny(Principal="*")),
        denied_by="resource",
    ),
    C(
        "root-scp-deny",
        EXPLICIT,
        principal=ROOT_A,
        action="ec2:RunInstances",
        resource="*",
        scps=[doc(allow(), deny("ec2:*"))],
        denied_by="scp",
    ),
    C(
        "root-scp-no-allow",
        IMPLICIT,
        principal=ROOT_A,
        action="ec2:RunInstances",
        resource="*",
        scps=[doc(allow("s3:*"))],
        denied_by="scp",
    ),
    C(
        "root-rcp-no-allow",
        IMPLICIT,
        principal=ROOT_A,
        rcps=[doc(allow("sqs:*", Principal="*"))],
        denied_by="rcp",
    ),
    C("root-cross-account-no-rbp", IMPLICIT, principal=ROOT_B, resource_account=A, denied_by="resource"),
    C(
        "root-cross-account-rbp-names-account",
        ALLOWED,
        principal=ROOT_B,
        resource_policy=doc(allow(Principal={"AWS": B})),
        resource_account=A,
    ),
    C(
        "service-trust-allows",
        ALLOWED,
        principal="ec2.amazonaws.com",
        action="sts:AssumeRole",
        resource=ROLE,
        resource_policy=trust(trust_allow({"Service": "ec2.amazonaws.com"})),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "service-trust-other-service",
        IMPLICIT,
        principal="ec2.amazonaws.com",
        action="sts:AssumeRole",
        resource=ROLE,
        resource_policy=trust(trust_allow({"Service": "lambda.amazonaws.com"})),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "service-trust-list",
        ALLOWED,
        principal="lambda.amazonaws.com",
        action="sts:AssumeRole",
        resource=ROLE,
        resource_policy=trust(trust_allow({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]})),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "service-no-resource-policy",
        IMPLICIT,
        principal="logs.amazonaws.com",
        action="s3:PutObject",
        resource_account=A,
    ),
    C(
        "service-bucket-policy-source-account",
        ALLOWED,
        principal="logs.amazonaws.com",
        action="s3:PutObject",
        context={"aws:SourceAccount": A},
        resource_policy=doc(
            allow(
                "s3:PutObject",
                Principal={"Service": "logs.amazonaws.com"},
                Condition={"StringEquals": {"aws:SourceAccount": A}},
            )
        ),
        resource_account=A,
    ),
    C(
        "service-bucket-policy-wrong-source-account",
        IMPLICIT,
        principal="logs.amazonaws.com",
        action="s3:PutObject",
        context={"aws:SourceAccount": B},
        resource_policy=doc(
            allow(
                "s3:PutObject",
                Principal={"Service": "logs.amazonaws.com"},
                Condition={"StringEquals": {"aws:SourceAccount": A}},
            )
        ),
        resource_account=A,
    ),
    C(
        "service-not-matched-by-aws-principal",
        IMPLICIT,
        principal="ec2.amazonaws.com",
        action="sts:AssumeRole",
        resource=ROLE,
        resource_policy=trust(trust_allow({"AWS": ROOT_A})),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "federated-web-identity",
        ALLOWED,
        principal="cognito-identity.amazonaws.com",
        action="sts:AssumeRoleWithWebIdentity",
        resource=ROLE,
        context={"cognito-identity.amazonaws.com:aud": "us-east-1:pool"},
        resource_policy=trust(
            trust_allow(
                {"Federated": "cognito-identity.amazonaws.com"},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"}},
            )
        ),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "federated-web-identity-google",
        ALLOWED,
        principal="accounts.google.com",
        action="sts:AssumeRoleWithWebIdentity",
        resource=ROLE,
        context={"accounts.google.com:aud": "client-1"},
        resource_policy=trust(
            trust_allow(
                {"Federated": "accounts.google.com"},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringEquals": {"accounts.google.com:aud": "client-1"}},
            )
        ),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "federated-web-identity-wrong-audience",
        IMPLICIT,
        principal="cognito-identity.amazonaws.com",
        action="sts:AssumeRoleWithWebIdentity",
        resource=ROLE,
        context={"cognito-identity.amazonaws.com:aud": "us-east-1:other"},
        resource_policy=trust(
            trust_allow(
                {"Federated": "cognito-identity.amazonaws.com"},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"}},
            )
        ),
        resource_kind="trust",
        resource_account=A,
    ),
    C(
        "federated-oidc-github-sub",
        ALLOWED,
        principal=OIDC,
        action="sts:AssumeRoleWithWebIdentity",
        resource=ROLE,
        context={"token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"},
        resource_policy=trust(
            trust_allow(
                {"Federated": OIDC},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:*"}},
            )
        ),
        resource_kind="trust",
    ),
    C(
        "federated-oidc-github-other-repo",
        IMPLICIT,
        principal=OIDC,
        action="sts:AssumeRoleWithWebIdentity",
        resource=ROLE,
        context={"token.actions.githubusercontent.com:sub": "repo:evil/app:ref:refs/heads/main"},
        resource_policy=trust(
            trust_allow(
                {"Federated": OIDC},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:*"}},
            )
        ),
        resource_kind="trust",
    ),
    C(
        "federated-saml",
        ALLOWED,
        principal=SAML,
        action="sts:AssumeRoleWithSAML",
        resource=ROLE,
        resource_policy=trust(trust_allow({"Federated": SAML}, "sts:AssumeRoleWithSAML")),
        resource_kind="trust",
    ),
    C(
        "federated-saml-other-provider",
        IMPLICIT,
        principal=f"arn:aws:iam::{A}:saml-provider/Other",
        action="sts:AssumeRoleWithSAML",
        resource=ROLE,
        resource_policy=trust(trust_allow({"Federated": SAML}, "sts:AssumeRoleWithSAML")),
        resource_kind="trust",
    ),
]

# --------------------------------------------------------------------------------------------
# Trust policies [eval][facts]: unlike other resource policies, a trust policy must explicitly
# allow the principal, even in the same account; naming the account delegates to identity.
# --------------------------------------------------------------------------------------------

ASSUME = {"action": "sts:AssumeRole", "resource": ROLE, "resource_kind": "trust"}

TRUST_CASES = [
    C(
        "trust-names-user",
        ALLOWED,
        resource_policy=trust(trust_allow({"AWS": ALICE}, Sid="TrustAlice")),
        sid="TrustAlice",
        **ASSUME,
    ),
    C(
        "trust-names-account-identity-allows",
        ALLOWED,
        identity=[doc(allow("sts:AssumeRole", ROLE))],
        resource_policy=trust(trust_allow({"AWS": ROOT_A})),
        **ASSUME,
    ),
    C(
        "trust-names-account-no-identity",
        IMPLICIT,
        resource_policy=trust(trust_allow({"AWS": A})),
        denied_by="identity",
        **ASSUME,
    ),
    C(
        "trust-does-not-name-caller",
        IMPLICIT,
        identity=[doc(allow("sts:AssumeRole", ROLE))],
        resource_policy=trust(trust_allow({"AWS": BOB})),
        denied_by="resource",
        **ASSUME,
    ),
    C(
        "trust-deny-statement",
        EXPLICIT,
        identity=[doc(allow("sts:AssumeRole", ROLE))],
        resource_policy=trust(trust_allow({"AWS": ROOT_A}), trust_deny({"AWS": ALICE})),
        denied_by="resource",
        **ASSUME,
    ),
    C(
        "trust-external-id-match",
        ALLOWED,
        principal=CAROL_B,
        context={"sts:ExternalId": "ext-123"},
        identity=[doc(allow("sts:AssumeRole", ROLE))],
        resource_policy=trust(
            trust_allow({"AWS": ROOT_B}, Condition={"StringEquals": {"sts:ExternalId": "ext-123"}})
        ),
        resource_account=A,
        **ASSUME,
    ),
    C(
        "trust-external-id-mismatch",
        IMPLICIT,
        principal=CAROL_B,
        context={"sts:ExternalId": "guess"},
        identity=[doc(allow("sts:AssumeRole", ROLE))],
        resource_policy=trust(
            trust_allow({"AWS": ROOT_B}, Condition={"StringEquals": {"sts:ExternalId": "ext-123"}})
        ),
        resource_account=A,
        denied_by="resource",
        **ASSUME,
    ),
    C(
        "trust-external-id-missing",
        IMPLICIT,
        principal=CAROL_B,
        identity=[doc(allow("sts:AssumeRole", ROLE))],
        resource_policy=trust(
            trust_allow({"AWS": ROOT_B}, Condition={"StringEquals": {"sts:ExternalId": "ext-123"}})
        ),
        resource_account=A,
        **ASSUME,
    ),
    C(
        "trust-cross-account-no-identity",
        IMPLICIT,
        principal=CAROL_B,
        resource_policy=trust(trust_allow({"AWS": CAROL_B})),
        resource_account=A,
        denied_by="identity",
        **ASSUME,
    ),
    C(
        "trust-cross-account-both",
        ALLOWED,
        principal=CAROL_B,
        identity=[doc(allow("sts:AssumeRole", f"arn:aws:iam::{A}:role/*"))],
        resource_policy=trust(trust_allow({"AWS": CAROL_B})),
        resource_account=A,
        **ASSUME,
    ),
    C(
        "trust-role-chaining-same-account",
        ALLOWED,
        principal=OTHER_SESSION,
        context=OTHER_SESSION_CTX,
        resource_policy=trust(trust_allow({"AWS": OTHER_ROLE})),
        **ASSUME,
    ),
    # A role no longer implicitly trusts itself.
    C(
        "trust-role-does-not-trust-itself",
        IMPLICIT,
        principal=SESSION,
        context=SESSION_CTX,
        identity=[doc(allow("sts:AssumeRole"))],
        resource_policy=trust(trust_allow({"AWS": OTHER_ROLE})),
        denied_by="resource",
        **ASSUME,
    ),
    C(
        "trust-mfa-required-present",
        ALLOWED,
        context={"aws:MultiFactorAuthPresent": "true"},
        resource_policy=trust(
            trust_allow({"AWS": ALICE}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        ),
        **ASSUME,
    ),
    C(
        "trust-mfa-required-absent",
        IMPLICIT,
        resource_policy=trust(
            trust_allow({"AWS": ALICE}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        ),
        **ASSUME,
    ),
    C(
        "trust-other-sts-action-not-covered",
        IMPLICIT,
        action="sts:TagSession",
        resource=ROLE,
        resource_kind="trust",
        resource_policy=trust(trust_allow({"AWS": ALICE})),
    ),
    C(
        "trust-action-list",
        ALLOWED,
        action="sts:TagSession",
        resource=ROLE,
        resource_kind="trust",
        resource_policy=trust(trust_allow({"AWS": ALICE}, ["sts:AssumeRole", "sts:TagSession"])),
    ),
    C(
        "trust-role-path-principal",
        ALLOWED,
        principal=SESSION_PATH,
        context=SESSION_PATH_CTX,
        resource_policy=trust(trust_allow({"AWS": ROLE_PATH})),
        **ASSUME,
    ),
    C(
        "trust-star-with-org-condition",
        ALLOWED,
        principal=CAROL_B,
        context={"aws:PrincipalOrgID": "o-home"},
        identity=[doc(allow("sts:AssumeRole"))],
        resource_policy=trust(trust_allow("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-home"}})),
        resource_account=A,
        **ASSUME,
    ),
    C(
        "trust-star-with-org-condition-outsider",
        IMPLICIT,
        principal=CAROL_B,
        context={"aws:PrincipalOrgID": "o-outsider"},
        identity=[doc(allow("sts:AssumeRole"))],
        resource_policy=trust(trust_allow("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-home"}})),
        resource_account=A,
        **ASSUME,
    ),
    C(
        "trust-identity-deny-wins",
        EXPLICIT,
        identity=[doc(deny("sts:AssumeRole"))],
        resource_policy=trust(trust_allow({"AWS": ALICE})),
        denied_by="identity",
        **ASSUME,
    ),
]

CASES: list[Case] = [
    *ACTION_CASES,
    *RESOURCE_CASES,
    *NOT_ACTION_RESOURCE_CASES,
    *STRING_CASES,
    *NUMERIC_CASES,
    *DATE_CASES,
    *BOOL_BINARY_CASES,
    *IP_CASES,
    *ARN_CASES,
    *NULL_IFEXISTS_NEGATED_CASES,
    *SET_CASES,
    *KEY_CASE_CASES,
    *VARIABLE_CASES,
    *IDENTITY_CASES,
    *BOUNDARY_CASES,
    *SESSION_POLICY_CASES,
    *ORG_CASES,
    *SAME_ACCOUNT_CASES,
    *CROSS_ACCOUNT_CASES,
    *NOT_PRINCIPAL_CASES,
    *ROOT_SERVICE_CASES,
    *TRUST_CASES,
]


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


def _parse_level(level: Any, kind: str, label: str) -> Policy | list[Policy]:
    if isinstance(level, dict):
        return Policy.parse(level, kind=kind, name=label)
    return [Policy.parse(d, kind=kind, name=f"{label}.{i}") for i, d in enumerate(level)]


def run(case: Case) -> Decision:
    request = Request(
        action=case.action, resource=case.resource, principal=case.principal, context=dict(case.context)
    )
    return evaluate(
        request,
        identity=[Policy.parse(d, kind="identity", name=f"identity{i}") for i, d in enumerate(case.identity)],
        resource_policy=(
            None
            if case.resource_policy is None
            else Policy.parse(case.resource_policy, kind=case.resource_kind, name="resource")
        ),
        boundary=None
        if case.boundary is None
        else Policy.parse(case.boundary, kind="boundary", name="boundary"),
        session_policies=[
            Policy.parse(d, kind="session", name=f"session{i}") for i, d in enumerate(case.session)
        ],
        scps=[_parse_level(level, "scp", f"scp{i}") for i, level in enumerate(case.scps)],
        rcps=[_parse_level(level, "rcp", f"rcp{i}") for i, level in enumerate(case.rcps)],
        resource_account=case.resource_account,
    )


def test_table_is_large_and_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(CASES) >= 300
    assert {c.expect for c in CASES} == {ALLOWED, EXPLICIT, IMPLICIT}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    decision = run(case)
    explain = decision.explain()
    assert decision.decision == case.expect, explain
    assert decision.allowed is (case.expect == ALLOWED), explain
    if case.expect == ALLOWED:
        assert decision.denied_by is None, explain
    else:
        assert decision.denied_by is not None, explain
    if case.denied_by is not None:
        assert decision.denied_by == case.denied_by, explain
    if case.sid is not None:
        assert case.sid in [m.sid for m in decision.matched], explain
        effect = "Deny" if case.expect == EXPLICIT else "Allow"
        assert any(m.sid == case.sid and m.effect == effect for m in decision.matched), explain
    if case.reason is not None:
        assert case.reason in decision.reason(), (decision.reason(), explain)
