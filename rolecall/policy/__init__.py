"""rolecall's policy engine: a pure library (no I/O) that parses, validates, compiles and evaluates
IAM policy documents the way AWS does.

    p = Policy.parse(text_or_bytes_or_dict, kind="identity", name=None, max_size=None)
    d = evaluate(Request(action, resource, principal, context), identity=[p], ...)
    d.decision, d.allowed, d.denied_by, d.matched, d.missing_context_keys, d.failed_conditions,
    d.other_resources, d.policy_labels(), d.reason(), d.explain()
"""

from .compile import Policy, Statement
from .conditions import Condition
from .document import MalformedPolicy
from .evaluate import Decision, FailedCondition, MatchedStatement, OtherResource, evaluate
from .matching import arn_match, wildcard_match
from .request import Request

__all__ = [
    "Condition",
    "Decision",
    "FailedCondition",
    "MalformedPolicy",
    "MatchedStatement",
    "OtherResource",
    "Policy",
    "Request",
    "Statement",
    "arn_match",
    "evaluate",
    "wildcard_match",
]
