"""The engine against an external corpus of evaluation cases (cloud-copilot/iam-simulate's tests, as data in
the shared folder beside the repository: ../shared/conformance/, whose README says what it is).

Every case is evaluated through the public API. Cases tagged `short-arn` follow upstream's unverified rules
for ARNs with fewer than six parts and are not held against rolecall (the corpus README says not to change
rolecall for them without AWS documentation). The cases in DISAGREE are ones where rolecall deliberately
answers otherwise, each with the reason; they must keep disagreeing, so that a change that starts agreeing
is noticed and the list kept true. Skipped when the corpus is not there (a checkout without shared/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolecall.policy import MalformedPolicy, Policy, Request, evaluate

ROOT = Path(__file__).resolve().parents[2]
# Beside the checkout (CI, /work/main), or beside the folder of worktrees (/work/wt/NAME).
CANDIDATES = [ROOT.parent / "shared" / "conformance", ROOT.parent.parent / "shared" / "conformance"]
CORPUS = next(
    (d / "iam-simulate-cases.json" for d in CANDIDATES if (d / "iam-simulate-cases.json").exists()), None
)

VALIDATION = "IAM refuses the document (MalformedPolicyDocument) where upstream evaluates it"
INVALID_NEGATED = (
    "upstream makes a negated operator false over an unparseable value; AWS documents no such rule"
)
DISAGREE: dict[str, str] = {
    "core_engine/coreEngineTests/boundaryNotPrincipalDenyResource.json#0": (
        "NotPrincipal exempts a role only when its account is listed too (IAM User Guide, NotPrincipal)"
    ),
    "condition/arn/ArnNotLike.test.ts#0": INVALID_NEGATED,
    "condition/arn/ArnNotLike.test.ts#1": INVALID_NEGATED,
    "condition/boolean/Bool.test.ts#4": "rolecall takes policy variables only in string and ARN operators",
    "condition/boolean/Bool.test.ts#5": "rolecall takes policy variables only in string and ARN operators",
    "condition/date/DateEquals.test.ts#4": VALIDATION,
    "condition/date/DateEquals.test.ts#6": VALIDATION,
    "condition/date/DateGreaterThan.test.ts#3": VALIDATION,
    "condition/date/DateGreaterThanEquals.test.ts#3": VALIDATION,
    "condition/date/DateLessThan.test.ts#3": VALIDATION,
    "condition/date/DateLessThanEquals.test.ts#3": VALIDATION,
    "condition/date/DateNotEquals.test.ts#2": VALIDATION,
    "condition/date/DateNotEquals.test.ts#3": INVALID_NEGATED,
    "condition/ipaddress/NotIpAddress.test.ts#0": INVALID_NEGATED,
    "condition/ipaddress/NotIpAddress.test.ts#5": INVALID_NEGATED,
    "condition/ipaddress/NotIpAddress.test.ts#9": INVALID_NEGATED,
    "condition/numeric/NumericNotEquals.test.ts#2": INVALID_NEGATED,
    "condition/numeric/NumericNotEquals.test.ts#3": INVALID_NEGATED,
    "resource/resource.test.ts#resourceTests[3]": "rolecall's validator refuses a wildcard in the partition",
}


def _cases() -> list[dict[str, Any]]:
    if CORPUS is None:
        return []
    return [c for c in json.loads(CORPUS.read_text())["cases"] if "short-arn" not in c.get("tags", [])]


def _decide(case: dict[str, Any]) -> str:
    def parse(doc: dict[str, Any] | None, kind: str) -> Policy | None:
        return None if doc is None else Policy.parse(json.dumps(doc), kind=kind)

    try:
        request = Request(
            action=case["action"],
            resource=case["resource"],
            principal=case["principal"],
            context=case["context"],
        )
        return evaluate(
            request,
            identity=[parse(d, "identity") for d in case["identity"]],
            resource_policy=parse(case["resource_policy"], case.get("resource_policy_kind") or "resource"),
            boundary=parse(case["boundary"], "boundary"),
            session_policies=[parse(d, "session") for d in case["session_policies"]],
            scps=[[parse(d, "scp") for d in level] for level in case["scps"]],
            rcps=[[parse(d, "rcp") for d in level] for level in case["rcps"]],
            resource_account=case["resource_account"],
        ).decision
    except MalformedPolicy:
        return "rejected"


@pytest.mark.skipif(CORPUS is None, reason="the conformance corpus (../shared/conformance/) is not here")
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_case(case: dict[str, Any]) -> None:
    expected = set(case["expect"].split("|"))
    got = _decide(case)
    if case["id"] in DISAGREE:
        assert got not in expected, (
            f"now agrees with upstream: drop it from DISAGREE ({DISAGREE[case['id']]})"
        )
    else:
        assert got in expected, f"{case['name']}: expected {case['expect']}, got {got}"
