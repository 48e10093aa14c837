"""Access Analyzer's policy checks over the wire: ValidatePolicy and the three custom policy checks.

They read no account state: they answer about the documents in the request, from the Service
Authorization Reference (policy_checks) and rolecall's policy engine (access_checks).
"""

from __future__ import annotations

from typing import Any

from rolecall.authz.service_reference import service_reference
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.policy import MalformedPolicy, Policy
from rolecall.services.accessanalyzer.access_checks import (
    check_access_not_granted,
    check_no_new_access,
    check_no_public_access,
)
from rolecall.services.accessanalyzer.errors import ValidationException
from rolecall.services.accessanalyzer.policy_checks import validate_policy

POLICY_TYPES = ("IDENTITY_POLICY", "RESOURCE_POLICY", "SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
CHECK_POLICY_TYPES = ("IDENTITY_POLICY", "RESOURCE_POLICY")
MAX_DOCUMENT = 1_000_000  # characters; far above any policy AWS stores
ENGINE_KIND = {"IDENTITY_POLICY": "identity", "RESOURCE_POLICY": "resource"}


def _enum(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return str(value)


def _parse(text: str, kind: str, member: str) -> Policy:
    if len(text) > MAX_DOCUMENT:
        raise ValidationException(f"The {member} is too large.")
    try:
        return Policy.parse(text, kind=kind, max_size=MAX_DOCUMENT)
    except MalformedPolicy as exc:
        raise ValidationException(
            f"The {member} is not a valid policy: {exc}. Run ValidatePolicy on it to see every problem."
        ) from None


def _kind(policy_type: str, resource_type: str | None = None) -> str:
    if resource_type == "AWS::IAM::AssumeRolePolicyDocument":
        return "trust"
    return ENGINE_KIND[policy_type]


class PolicyChecks(Family):
    @operation("access-analyzer:ValidatePolicy", read_only=True, unsupported={"locale": ("EN",)})
    def ValidatePolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        policy_type = _enum("policyType", params.get("policyType"), POLICY_TYPES)
        text = params.get("policyDocument", "")
        if len(text) > MAX_DOCUMENT:
            raise ValidationException("The policyDocument is too large.")
        findings = validate_policy(
            text, policy_type, service_reference(), params.get("validatePolicyResourceType")
        )
        start = 0
        token = params.get("nextToken")
        if token is not None:
            if not token.isdigit() or int(token) > len(findings):
                raise ValidationException("The nextToken is not valid.")
            start = int(token)
        size = params.get("maxResults") or len(findings) or 1
        if size < 1:
            raise ValidationException("maxResults must be at least 1.")
        page = findings[start : start + size]
        out: dict[str, Any] = {"findings": page}
        if start + size < len(findings):
            out["nextToken"] = str(start + size)
        return out

    @operation("access-analyzer:CheckNoNewAccess", read_only=True)
    def CheckNoNewAccess(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        policy_type = _enum("policyType", params.get("policyType"), CHECK_POLICY_TYPES)
        kind = _kind(policy_type)
        new = _parse(params["newPolicyDocument"], kind, "newPolicyDocument")
        existing = _parse(params["existingPolicyDocument"], kind, "existingPolicyDocument")
        result = check_no_new_access(new, existing, service_reference())
        return result.output(
            "The modified permissions do not grant new access compared to your existing policy.",
            "The modified permissions grant new access compared to your existing policy.",
        )

    @operation("access-analyzer:CheckAccessNotGranted", read_only=True)
    def CheckAccessNotGranted(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        policy_type = _enum("policyType", params.get("policyType"), CHECK_POLICY_TYPES)
        access = params.get("access") or []
        if not access:
            raise ValidationException("The access list must hold at least one entry.")
        has_actions = has_resources = False
        for entry in access:
            actions, resources = entry.get("actions") or [], entry.get("resources") or []
            if not actions and not resources:
                raise ValidationException("Each access entry must list actions, resources or both.")
            for action in actions:
                if "*" in action or "?" in action or ":" not in action:
                    raise ValidationException(
                        f"The action {action} is not valid: name one action, without wildcards."
                    )
            has_actions = has_actions or bool(actions)
            has_resources = has_resources or bool(resources)
        policy = _parse(params["policyDocument"], _kind(policy_type), "policyDocument")
        listed = (
            "actions or resources"
            if has_actions and has_resources
            else "actions"
            if has_actions
            else "resources"
        )
        result = check_access_not_granted(policy, access, service_reference())
        return result.output(
            f"The policy document does not grant access to perform one or more of the listed {listed}.",
            f"The policy document grants access to perform one or more of the listed {listed}.",
        )

    @operation("access-analyzer:CheckNoPublicAccess", read_only=True)
    def CheckNoPublicAccess(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        resource_type = params["resourceType"]
        policy = _parse(params["policyDocument"], _kind("RESOURCE_POLICY", resource_type), "policyDocument")
        result = check_no_public_access(policy, resource_type, service_reference())
        return result.output(
            "The resource policy does not grant public access for the given resource type.",
            "The resource policy grants public access for the given resource type.",
        )
