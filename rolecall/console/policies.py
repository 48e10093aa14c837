"""What a role's policies say, read through the API as the signed-in principal: the trust policy, the inline
and managed permission policies and the boundary, each with its document (or the refusal that hid it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from rolecall.console.page import Page, Refused


@dataclass
class PolicyText:
    kind: str  # "inline" | "managed" | "boundary"
    name: str
    arn: str | None
    document: dict[str, Any] | None
    refused: Refused | None = None


def parse_document(text: str) -> dict[str, Any]:
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def managed_policy(page: Page, arn: str, kind: str) -> PolicyText:
    from rolecall.console.page import Refused

    got = page.try_call("iam", "GetPolicy", {"PolicyArn": arn})
    name = arn.rsplit("/", 1)[-1]
    if isinstance(got, Refused):
        return PolicyText(kind, name, arn, None, got)
    version = page.try_call(
        "iam", "GetPolicyVersion", {"PolicyArn": arn, "VersionId": got["Policy"]["DefaultVersionId"]}
    )
    if isinstance(version, Refused):
        return PolicyText(kind, name, arn, None, version)
    return PolicyText(kind, name, arn, parse_document(version["PolicyVersion"]["Document"]))


def role_policies(page: Page, role: dict[str, Any]) -> list[PolicyText | Refused]:
    """The role's inline policies, its managed policies and its boundary, in that order."""
    from rolecall.console.page import Refused

    name = role["RoleName"]
    out: list[PolicyText | Refused] = []
    inline = page.try_call("iam", "ListRolePolicies", {"RoleName": name})
    if isinstance(inline, Refused):
        out.append(inline)
    else:
        for policy_name in inline["PolicyNames"]:
            got = page.try_call("iam", "GetRolePolicy", {"RoleName": name, "PolicyName": policy_name})
            if isinstance(got, Refused):
                out.append(PolicyText("inline", policy_name, None, None, got))
            else:
                out.append(PolicyText("inline", policy_name, None, parse_document(got["PolicyDocument"])))
    attached = page.try_call("iam", "ListAttachedRolePolicies", {"RoleName": name})
    if isinstance(attached, Refused):
        out.append(attached)
    else:
        out += [managed_policy(page, p["PolicyArn"], "managed") for p in attached["AttachedPolicies"]]
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if boundary:
        out.append(managed_policy(page, boundary, "boundary"))
    return out


def allowed_reach(policies: list[PolicyText | Refused], limit: int = 8) -> list[str]:
    """What the role's permission policies allow, statement by statement ("s3:GetObject on arn:..."),
    the boundary left out (it only limits)."""
    out: list[str] = []
    for p in policies:
        if not isinstance(p, PolicyText) or p.document is None or p.kind == "boundary":
            continue
        statements = p.document.get("Statement")
        for st in statements if isinstance(statements, list) else [statements]:
            if not isinstance(st, dict) or st.get("Effect") != "Allow":
                continue
            actions = st.get("Action") or [f"all but {a}" for a in _list(st.get("NotAction"))]
            resources = st.get("Resource") or [f"all but {r}" for r in _list(st.get("NotResource"))]
            cond = " (with conditions)" if st.get("Condition") else ""
            out.append(f"{', '.join(_list(actions))} on {', '.join(_list(resources))}{cond}")
    if len(out) > limit:
        out = out[:limit] + [f"... and {len(out) - limit} more statements"]
    return out


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
