"""Least-privilege rewrites from the trail: for each principal whose policies grant wildcard actions, the
policy of what it actually did (CloudTrail records: successful calls, their actions and resource ARNs;
"*" for a call whose record names no resource). A principal with no successful call is told so."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .account import Account, Principal

# eventName -> the IAM action it is authorized as, where they differ.
_ACTION_OF_EVENT = {
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",
    ("lambda", "Invoke"): "InvokeFunction",
    ("monitoring", "PutMetricData"): "PutMetricData",
}
_PREFIX_OF_SOURCE = {"monitoring": "cloudwatch"}


def action_of(record: Mapping[str, Any]) -> str | None:
    source = str(record.get("eventSource") or "")
    name = str(record.get("eventName") or "")
    if not source.endswith(".amazonaws.com") or not name:
        return None
    service = source[: -len(".amazonaws.com")]
    name = _ACTION_OF_EVENT.get((service, name), name)
    if service == "lambda":
        name = name.rstrip("0123456789")  # CreateFunction20150331 -> CreateFunction
    return f"{_PREFIX_OF_SOURCE.get(service, service)}:{name}"


def principal_of(record: Mapping[str, Any]) -> str | None:
    who = record.get("userIdentity") or {}
    if who.get("type") == "AssumedRole":
        issuer = (who.get("sessionContext") or {}).get("sessionIssuer") or {}
        return issuer.get("arn")
    if who.get("type") == "IAMUser":
        return who.get("arn")
    return None


def _broad(p: Principal) -> list[str]:
    """Actions patterns with a wildcard in p's Allow statements (NotAction counts as broad)."""
    out: list[str] = []
    for policy in p.policies:
        for st in policy.statements:
            if st.is_deny:
                continue
            if st.not_action:
                out.append(f"NotAction in {policy.name}")
                continue
            raw = st.raw.get("Action")
            for a in [raw] if isinstance(raw, str) else raw or []:
                if isinstance(a, str) and ("*" in a or "?" in a):
                    out.append(f"{a} in {policy.name}")
    return list(dict.fromkeys(out))


def _granted_services(p: Principal) -> set[str]:
    """Services p's Allow statements name outright ("*" for a wildcard service or NotAction)."""
    found: set[str] = set()
    for policy in p.policies:
        for st in policy.statements:
            if st.is_deny:
                continue
            if st.not_action:
                found.add("*")
                continue
            raw = st.raw.get("Action")
            for a in [raw] if isinstance(raw, str) else raw or []:
                if isinstance(a, str):
                    service = a.split(":", 1)[0].lower()
                    found.add("*" if "*" in service or "?" in service else service)
    return found


@dataclass
class Rewrite:
    principal: str
    broad: list[str]
    calls: int
    document: dict[str, Any] | None  # None: no successful call in the trail
    unused_services: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "over_broad": self.broad,
            "calls_in_trail": self.calls,
            "policy": self.document,
            "unused_services": self.unused_services,
        }

    def render(self) -> str:
        head = f"{self.principal}: grants {', '.join(self.broad)}"
        if self.document is None:
            return (
                head
                + "\n  no successful call in the trail that was read: remove these grants, or read a longer trail"
            )
        body = json.dumps(self.document, indent=2)
        if self.unused_services:
            head += f"\n  granted but never used: {', '.join(self.unused_services)}"
        return (
            head
            + f"\n  used {self.calls} call(s); a policy of exactly that:\n"
            + "\n".join("  " + line for line in body.splitlines())
        )


def rewrites_from_trail(account: Account, records: Iterable[Mapping[str, Any]]) -> list[Rewrite]:
    used: dict[str, dict[str, set[str]]] = {}  # principal -> action -> resources
    calls: dict[str, int] = {}
    for r in records:
        if r.get("errorCode"):
            continue
        principal, action = principal_of(r), action_of(r)
        if principal is None or action is None:
            continue
        arns: list[str] = [
            str(x["ARN"]) for x in r.get("resources") or [] if isinstance(x, dict) and x.get("ARN")
        ]
        used.setdefault(principal, {}).setdefault(action, set()).update(arns or ["*"])
        calls[principal] = calls.get(principal, 0) + 1
    out = []
    for p in account.principals:
        broad = _broad(p)
        if not broad or p.service_linked:
            continue
        actions = used.get(p.arn)
        if not actions:
            out.append(Rewrite(p.arn, broad, 0, None))
            continue
        by_resources: dict[tuple[str, ...], list[str]] = {}
        for action, resources in sorted(actions.items()):
            key = ("*",) if "*" in resources else tuple(sorted(resources))
            by_resources.setdefault(key, []).append(action)
        statements = [
            {
                "Effect": "Allow",
                "Action": acts if len(acts) > 1 else acts[0],
                "Resource": list(res) if len(res) > 1 else res[0],
            }
            for res, acts in sorted(by_resources.items(), key=lambda kv: kv[1])
        ]
        document = {"Version": "2012-10-17", "Statement": statements}
        used_services = {a.split(":", 1)[0] for a in actions}
        unused = sorted(_granted_services(p) - used_services - {"*"})
        out.append(Rewrite(p.arn, broad, calls[p.arn], document, unused))
    return out
