"""A role's trust policy in words: who can assume the role, how, and on which conditions.

Follows IAM's rules for trust policies: a principal named by its account (`arn:aws:iam::A:root` or `A`)
lets that account decide, so its users and roles still need an identity-based policy that allows
sts:AssumeRole; a user or role named by its ARN needs none in the same account; a service principal stands
for the service acting for its resources; a federated principal is an identity provider whose users
assume the role with a web identity token or a SAML assertion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SERVICE_NAMES = {
    "ec2.amazonaws.com": "Amazon EC2 (instances with this role in their instance profile)",
    "lambda.amazonaws.com": "AWS Lambda (functions with this role as their execution role)",
    "ecs-tasks.amazonaws.com": "Amazon ECS tasks",
    "states.amazonaws.com": "AWS Step Functions",
    "cloudformation.amazonaws.com": "AWS CloudFormation",
    "events.amazonaws.com": "Amazon EventBridge",
}

ACTION_WORDS = {
    "sts:assumerole": "assume it (sts:AssumeRole)",
    "sts:assumerolewithwebidentity": "assume it with a web identity (OIDC) token (sts:AssumeRoleWithWebIdentity)",
    "sts:assumerolewithsaml": "assume it with a SAML assertion (sts:AssumeRoleWithSAML)",
    "sts:tagsession": "pass session tags (sts:TagSession)",
    "sts:setsourceidentity": "set a source identity (sts:SetSourceIdentity)",
    "sts:setcontext": "set session context (sts:SetContext)",
    "sts:*": "do any STS action on it, assuming it included (sts:*)",
    "*": "do anything on it, assuming it included (*)",
}

OPERATOR_WORDS = {
    "stringequals": "is",
    "stringnotequals": "is not",
    "stringequalsignorecase": "is (ignoring case)",
    "stringnotequalsignorecase": "is not (ignoring case)",
    "stringlike": "matches",
    "stringnotlike": "does not match",
    "numericequals": "equals",
    "numericnotequals": "does not equal",
    "numericlessthan": "is less than",
    "numericlessthanequals": "is at most",
    "numericgreaterthan": "is greater than",
    "numericgreaterthanequals": "is at least",
    "dateequals": "is the date",
    "datenotequals": "is not the date",
    "datelessthan": "is before",
    "datelessthanequals": "is at or before",
    "dategreaterthan": "is after",
    "dategreaterthanequals": "is at or after",
    "bool": "is",
    "binaryequals": "is",
    "ipaddress": "is in",
    "notipaddress": "is not in",
    "arnequals": "is",
    "arnlike": "matches",
    "arnnotequals": "is not",
    "arnnotlike": "does not match",
    "null": "is absent:",
}


@dataclass
class Grant:
    """One statement of the trust policy, in words."""

    effect: str  # "Allow" | "Deny"
    sid: str | None
    principals: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the same principals, named briefly (for pictures)
    actions: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    except_principals: bool = False  # NotPrincipal: everyone but these


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def principal_words(kind: str, value: str) -> str:
    """One principal of a trust policy in words."""
    if kind == "Service":
        name = SERVICE_NAMES.get(value.lower())
        return f"the AWS service {value}" + (f" — {name}" if name else "")
    if kind == "Federated":
        if ":saml-provider/" in value:
            return f"users of the SAML identity provider {value.rsplit('/', 1)[-1]} ({value})"
        if ":oidc-provider/" in value:
            return f"users of the OIDC identity provider {value.split(':oidc-provider/', 1)[1]}"
        return f"users of the web identity provider {value}"
    if kind == "CanonicalUser":
        return f"the canonical user {value}"
    if value == "*":
        return "anyone: every AWS principal of every account (and, with no condition, the public)"
    if value.isdigit() and len(value) == 12:
        value = f"arn:aws:iam::{value}:root"
    parts = value.split(":", 5)
    if len(parts) < 6:
        return value
    account, resource = parts[4], parts[5]
    if resource == "root":
        return (
            f"account {account}: its root user, and those of its IAM users and roles whose own "
            "identity-based policies allow them to assume this role"
        )
    kind_name, _, rest = resource.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind_name == "user":
        return f"the IAM user {name} of account {account}"
    if kind_name == "role":
        return f"sessions of the role {name} of account {account} (role chaining)"
    if kind_name == "assumed-role":
        role, _, session = rest.partition("/")
        return f"the session {session} of the role {role} of account {account}"
    return value


def principal_label(kind: str, value: str) -> str:
    """One principal of a trust policy, named briefly: "service ec2.amazonaws.com", "account 1234...", ..."""
    if kind == "Service":
        return f"service {value}"
    if kind == "Federated":
        return f"federated {value.split(':oidc-provider/', 1)[-1].split(':saml-provider/', 1)[-1]}"
    if value == "*":
        return "anyone"
    if value.isdigit() and len(value) == 12:
        return f"account {value}"
    parts = value.split(":", 5)
    if kind != "AWS" or len(parts) < 6:
        return f"{kind} {value}"
    if parts[5] == "root":
        return f"account {parts[4]}"
    kind_name, _, rest = parts[5].partition("/")
    return f"{kind_name} {rest.rsplit('/', 1)[-1] if kind_name != 'assumed-role' else rest} ({parts[4]})"


def condition_words(block: dict[str, Any]) -> list[str]:
    out = []
    for operator, keys in (block or {}).items():
        base = operator
        qualifier = ""
        if ":" in base:
            qualifier, base = base.split(":", 1)
        if_exists = base.lower().endswith("ifexists")
        if if_exists:
            base = base[: -len("IfExists")]
        verb = OPERATOR_WORDS.get(base.lower(), base)
        for key, values in (keys or {}).items():
            shown = ", ".join(json.dumps(v) if not isinstance(v, str) else v for v in _as_list(values))
            if base.lower() == "null":
                absent = str(_as_list(values)[0]).lower() == "true"
                text = f"{key} is {'absent' if absent else 'present'} in the request"
            else:
                many = "any of" if len(_as_list(values)) > 1 else ""
                text = f"{key} {verb} {many + ' ' if many else ''}{shown}"
            if qualifier.lower() == "foranyvalue":
                text = f"any value of {text}"
            elif qualifier.lower() == "forallvalues":
                text = f"every value of {text}"
            if if_exists:
                text += " (when the key is present)"
            out.append(text)
    return out


def trust_in_words(document: str | dict[str, Any]) -> list[Grant]:
    """The trust policy's statements in words (a statement about other actions than STS's is still shown)."""
    doc = json.loads(document) if isinstance(document, str) else document
    grants = []
    for st in _as_list(doc.get("Statement")):
        if not isinstance(st, dict):
            continue
        grant = Grant(effect=st.get("Effect", "Allow"), sid=st.get("Sid"))
        principal = st.get("Principal", st.get("NotPrincipal"))
        grant.except_principals = "NotPrincipal" in st
        if principal == "*":
            grant.principals.append(principal_words("AWS", "*"))
            grant.labels.append(principal_label("AWS", "*"))
        elif isinstance(principal, dict):
            for kind, values in principal.items():
                grant.principals += [principal_words(kind, str(v)) for v in _as_list(values)]
                grant.labels += [principal_label(kind, str(v)) for v in _as_list(values)]
        actions = _as_list(st.get("Action")) or [f"everything but {a}" for a in _as_list(st.get("NotAction"))]
        grant.actions = [ACTION_WORDS.get(str(a).lower(), str(a)) for a in actions]
        grant.conditions = condition_words(st.get("Condition") or {})
        grants.append(grant)
    return grants
