"""ValidatePolicy's basic policy checks: the findings Access Analyzer reports on a policy document.

Each finding carries AWS's issue code, its finding type (ERROR, SECURITY_WARNING, WARNING, SUGGESTION),
details worded as AWS words them in programmatic calls, a link to the check's entry in the IAM User
Guide's policy check reference, and the locations in the text it is about. The checks read the policy's
JSON as written (they must report on documents IAM would refuse, so they cannot start from the engine's
parsed Policy) and the Service Authorization Reference for actions and condition keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from rolecall.authz.service_reference import (
    Action,
    ServiceReference,
    is_global_key,
    key_matches,
)
from rolecall.policy.conditions import parse_operator
from rolecall.policy.matching import wildcard_match
from rolecall.services.accessanalyzer.locations import Locator, Path

REFERENCE_URL = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
)
_ANCHOR_TYPE = {
    "ERROR": "error",
    "SECURITY_WARNING": "security-warning",
    "WARNING": "general-warning",
    "SUGGESTION": "suggestion",
}
VERSIONS = ("2008-10-17", "2012-10-17")
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
# Policy types whose statements name no principal, and those whose statements must.
NO_PRINCIPAL = ("IDENTITY_POLICY", "SERVICE_CONTROL_POLICY")
NEEDS_PRINCIPAL = ("RESOURCE_POLICY", "RESOURCE_CONTROL_POLICY")


class Findings:
    """The findings of one document, in the order the checks found them."""

    def __init__(self, text: str) -> None:
        self.locator = Locator(text)
        self.items: list[dict[str, Any]] = []

    def add(self, finding_type: str, code: str, details: str, *paths: Path) -> None:
        anchor = f"access-analyzer-reference-policy-checks-{_ANCHOR_TYPE[finding_type]}-"
        anchor += code.lower().replace("_", "-")
        self.items.append(
            {
                "findingDetails": details,
                "findingType": finding_type,
                "issueCode": code,
                "learnMoreLink": f"{REFERENCE_URL}#{anchor}",
                "locations": [self.locator.location(*p) for p in paths] if paths else [],
            }
        )


def validate_policy(
    text: str, policy_type: str, reference: ServiceReference, resource_type: str | None = None
) -> list[dict[str, Any]]:
    """Every finding of the basic policy checks on `text`, a policy of `policy_type`."""
    try:
        found = Findings(text)
        document = json.loads(text)
    except RecursionError:  # nested deeper than any policy: JSON, but not a document to check
        found = Findings("")
        found.add(
            "ERROR", "JSON_SYNTAX_ERROR", "Fix the JSON syntax error: the document is nested too deeply."
        )
        return found.items
    except ValueError as exc:
        line, column, index = _json_error_position(text, exc)
        found.add(
            "ERROR",
            "JSON_SYNTAX_ERROR",
            f"Fix the JSON syntax error at index {index} line {line} column {column}.",
        )
        return found.items
    if not isinstance(document, dict):
        found.add(
            "ERROR", "DATA_TYPE_MISMATCH", "The text does not match the expected JSON data type Object.", ()
        )
        return found.items
    _check_top_level(document, found)
    statements = document.get("Statement")
    if isinstance(statements, dict):
        entries: list[tuple[Path, Any]] = [((("value", "Statement"),), statements)]
    elif isinstance(statements, list):
        entries = [((("value", "Statement"), ("index", i)), st) for i, st in enumerate(statements)]
    else:
        return found.items
    sids: dict[str, Path] = {}
    checked: list[tuple[Path, dict[str, Any]]] = []
    for path, statement in entries:
        if not isinstance(statement, dict):
            found.add(
                "ERROR",
                "DATA_TYPE_MISMATCH",
                "The text does not match the expected JSON data type Object.",
                path,
            )
            continue
        _check_statement(statement, path, policy_type, reference, found, resource_type)
        sid = statement.get("Sid")
        if isinstance(sid, str) and sid:
            if sid in sids and policy_type != "RESOURCE_POLICY":
                found.add(
                    "ERROR",
                    "UNIQUE_SIDS_REQUIRED",
                    "Duplicate statement IDs are not supported for this policy type. Update the Sid value.",
                    (*path, ("value", "Sid")),
                )
            sids.setdefault(sid, path)
        checked.append((path, statement))
    _check_redundant_statements(checked, found)
    return found.items


def _json_error_position(text: str, exc: ValueError) -> tuple[int, int, int]:
    index = getattr(exc, "pos", 0) or 0
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1), index


def _check_top_level(document: dict[str, Any], found: Findings) -> None:
    for name in document:
        if name not in ("Version", "Id", "Statement"):
            found.add(
                "ERROR",
                "INVALID_POLICY_ELEMENT",
                f"The policy element {name} is not valid.",
                (("key", name),),
            )
    version = document.get("Version")
    if "Version" not in document:
        found.add(
            "WARNING",
            "MISSING_VERSION",
            "We recommend that you specify the Version element to help you with debugging permission issues.",
            (),
        )
    elif version not in VERSIONS:
        found.add(
            "ERROR",
            "INVALID_VERSION",
            f"The version {version} is not valid. Use one of the following versions: 2012-10-17, 2008-10-17.",
            (("value", "Version"),),
        )
    if "Statement" not in document:
        found.add("ERROR", "MISSING_STATEMENT", "Add a Statement element to the policy.", ())


def _strings(value: Any) -> list[tuple[int | None, str]] | None:
    """(index in the list or None for a lone string, value) of an element that is a string or a list."""
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        return [(i, v) for i, v in enumerate(value) if isinstance(v, str)]
    return None


def _at(path: Path, element: str, index: int | None) -> Path:
    base: Path = (*path, ("value", element))
    return base if index is None else (*base, ("index", index))


def _check_statement(
    statement: dict[str, Any],
    path: Path,
    policy_type: str,
    reference: ServiceReference,
    found: Findings,
    resource_type: str | None,
) -> None:
    for name in statement:
        if name not in STATEMENT_ELEMENTS:
            found.add(
                "ERROR",
                "INVALID_POLICY_ELEMENT",
                f"The policy element {name} is not valid.",
                (*path, ("key", name)),
            )
    effect = statement.get("Effect")
    if "Effect" not in statement:
        found.add(
            "ERROR",
            "MISSING_EFFECT",
            "Add an Effect element to the policy statement with a value of Allow or Deny.",
            path,
        )
    elif effect not in ("Allow", "Deny"):
        found.add(
            "ERROR",
            "INVALID_EFFECT",
            "The Effect element must be Allow or Deny. Update the Effect element value.",
            (*path, ("value", "Effect")),
        )
    if "Action" not in statement and "NotAction" not in statement:
        found.add(
            "ERROR", "MISSING_ACTION", "Add an Action or NotAction element to the policy statement.", path
        )
    if (
        "Resource" not in statement
        and "NotResource" not in statement
        and resource_type != "AWS::IAM::AssumeRolePolicyDocument"
        and policy_type in ("IDENTITY_POLICY", "RESOURCE_CONTROL_POLICY")
    ):
        found.add(
            "ERROR",
            "MISSING_RESOURCE",
            "Add a Resource or NotResource element to the policy statement.",
            path,
        )
    has_principal = "Principal" in statement or "NotPrincipal" in statement
    if policy_type in NO_PRINCIPAL and has_principal:
        element = "Principal" if "Principal" in statement else "NotPrincipal"
        code = (
            "SCP_SYNTAX_ERROR_PRINCIPAL"
            if policy_type == "SERVICE_CONTROL_POLICY"
            else "UNSUPPORTED_PRINCIPAL"
        )
        details = (
            f"The {element} element is not supported in a service control policy. Remove the {element} element."
            if code == "SCP_SYNTAX_ERROR_PRINCIPAL"
            else f"Policies of type {policy_type} do not support the {element} element. Remove the {element} element."
        )
        found.add("ERROR", code, details, (*path, ("key", element)))
    if policy_type in NEEDS_PRINCIPAL and not has_principal:
        found.add("ERROR", "MISSING_PRINCIPAL", "Add a Principal element to the policy statement.", path)
    if effect == "Allow" and "NotPrincipal" in statement:
        found.add(
            "SECURITY_WARNING",
            "ALLOW_WITH_NOT_PRINCIPAL",
            "Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead.",
            (*path, ("key", "NotPrincipal")),
        )
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if statement.get(element) == []:
            kind = element.removeprefix("Not").lower()
            found.add(
                "SUGGESTION",
                f"EMPTY_ARRAY_{kind.upper()}",
                f"This statement includes no {kind}s and does not affect the policy. Specify {kind}s.",
                (*path, ("value", element)),
            )
    actions = _check_actions(statement, path, reference, found)
    _check_resources(statement, path, found)
    _check_arn_fields(statement, path, reference, found)
    _check_conditions(statement, path, reference, actions, found)
    if effect == "Allow":
        _check_pass_role(statement, path, actions, found)


def _check_actions(
    statement: dict[str, Any], path: Path, reference: ServiceReference, found: Findings
) -> list[Action]:
    """Check Action/NotAction against the reference; the actions an Action element grants (for the
    condition key checks); empty for NotAction."""
    element = "Action" if "Action" in statement else "NotAction"
    values = _strings(statement.get(element))
    if values is None:
        return []
    granted: list[Action] = []
    seen: dict[str, int | None] = {}
    redundant: list[tuple[int | None, str]] = []
    for index, action in values:
        location = _at(path, element, index)
        if action == "*":
            if element == "Action":
                granted.extend(reference.matching_actions("*"))
            continue
        prefix, colon, name = action.partition(":")
        if not colon or not prefix or not name:
            found.add(
                "ERROR",
                "INVALID_ACTION",
                f"The action {action} does not exist. Actions are written as service:action, e.g. s3:GetObject.",
                location,
            )
            continue
        if not any(ch in prefix for ch in "*?") and not reference.has_service(prefix):
            found.add(
                "ERROR",
                "INVALID_SERVICE_IN_ACTION",
                f"The service {prefix} specified in the action does not exist.",
                location,
            )
            continue
        matched = reference.matching_actions(action)
        if not matched:
            found.add("ERROR", "INVALID_ACTION", f"The action {action} does not exist.", location)
            continue
        if element == "Action":
            granted.extend(matched)
        lowered = action.lower()
        if lowered in seen:
            redundant.append((index, action))
        seen[lowered] = index
    # An action a wildcard of the same statement already covers is redundant too.
    patterns = [a for a in seen if "*" in a or "?" in a]
    for index, action in values:
        lowered = action.lower()
        if "*" in lowered or "?" in lowered or lowered not in seen or (index, action) in redundant:
            continue
        if any(wildcard_match(p, lowered, case_sensitive=False) for p in patterns):
            redundant.append((index, action))
    if redundant:  # one finding per statement, as AWS words it: how many, one example, where each is
        redundant.sort(key=lambda r: r[0] or 0)
        found.add(
            "SUGGESTION",
            "REDUNDANT_ACTION",
            f"The {len(redundant)} action(s) are redundant because they provide similar permissions. Update the "
            f"policy to remove the redundant action such as: {redundant[0][1]}.",
            *(_at(path, element, index) for index, _ in redundant),
        )
    return list({a.full_name: a for a in granted}.values())


def _check_resources(statement: dict[str, Any], path: Path, found: Findings) -> None:
    element = "Resource" if "Resource" in statement else "NotResource"
    values = _strings(statement.get(element))
    if values is None:
        return
    written = [v for _, v in values]
    redundant = []
    for index, resource in values:
        others = [w for w in written if w != resource]
        if written.count(resource) > 1 or any(
            wildcard_match(o, resource, case_sensitive=True) for o in others if "*" in o or "?" in o
        ):
            redundant.append(index)
            written.remove(resource)
    if redundant:
        found.add(
            "SUGGESTION",
            "REDUNDANT_RESOURCE",
            f"The {len(redundant)} resource ARN(s) are redundant because they reference the same resource. Review "
            "the use of wildcards (*) and update the policy to remove the redundant resource ARN.",
            *(_at(path, element, index) for index in redundant),
        )


def _resource_formats(reference: ServiceReference, service: str, resource: str) -> list[list[str]]:
    """The ARN formats of the service's resource types that `resource` (an ARN's resource part) fits, as
    their six colon-separated fields."""
    fits = []
    for arn in reference.resource_formats(service):
        fields = arn.split(":", 5)
        if len(fields) != 6:
            continue
        pattern = ".+".join(re.escape(part) for part in re.split(r"\$\{[^}]*\}", fields[5]))
        if re.fullmatch(pattern, resource):
            fits.append(fields)
    return fits


def _check_arn_fields(
    statement: dict[str, Any], path: Path, reference: ServiceReference, found: Findings
) -> None:
    """An account ID or Region in a resource ARN of a service whose ARNs (of that shape) have none."""
    element = "Resource" if "Resource" in statement else "NotResource"
    for index, arn in _strings(statement.get(element)) or []:
        fields = arn.split(":", 5)
        if len(fields) != 6 or fields[0] != "arn" or not reference.has_service(fields[2]):
            continue
        formats = _resource_formats(reference, fields[2], fields[5])
        if not formats:
            continue
        service = fields[2]
        if fields[4] not in ("", "*") and all(f[4] == "" for f in formats):
            found.add(
                "ERROR",
                "ARN_ACCOUNT_NOT_ALLOWED",
                f"The service {service} does not support specifying an account ID in the resource ARN.",
                _at(path, element, index),
            )
        if fields[3] not in ("", "*") and all(f[3] == "" for f in formats):
            found.add(
                "ERROR",
                "ARN_REGION_NOT_ALLOWED",
                f"The service {service} does not support specifying a Region in the resource ARN.",
                _at(path, element, index),
            )


def _conditions(statement: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    block = statement.get("Condition")
    if not isinstance(block, dict):
        return
    for operator, keys in block.items():
        if isinstance(keys, dict):
            for key, values in keys.items():
                yield operator, key, values
        else:
            yield operator, "", keys


def _check_conditions(
    statement: dict[str, Any], path: Path, reference: ServiceReference, actions: list[Action], found: Findings
) -> None:
    for operator, key, _values in _conditions(statement):
        op_path: Path = (*path, ("value", "Condition"), ("key", operator))
        if parse_operator(operator) is None:
            found.add(
                "ERROR",
                "INVALID_CONDITION_OPERATOR",
                f"The condition operator {operator} is not valid. Use a valid condition operator.",
                op_path,
            )
            continue
        if not key:
            continue
        key_path: Path = (*path, ("value", "Condition"), ("value", operator), ("key", key))
        prefix = key.partition(":")[0]
        if prefix.lower() == "aws":
            if not is_global_key(key):
                found.add(
                    "ERROR",
                    "INVALID_GLOBAL_CONDITION_KEY",
                    f"The condition key {key} does not exist. Use a valid condition key.",
                    key_path,
                )
            continue
        if not reference.has_service(prefix):
            continue  # identity providers' keys (accounts.google.com:aud, ...) are not service keys
        declared = reference.service_condition_keys(prefix)
        if not any(key_matches(d, key) for d in declared):
            found.add(
                "ERROR",
                "INVALID_SERVICE_CONDITION_KEY",
                f"The condition key {key} does not exist in the service {prefix}. Use a valid condition key.",
                key_path,
            )
            continue
        if not actions or len(actions) > 1000:
            continue  # with "*" or wide wildcards, which actions are meant is for the author to say
        unsupported = [
            a.full_name
            for a in actions
            if not any(key_matches(d, key) for d in reference.condition_keys_for(a))
        ]
        if unsupported:
            found.add(
                "ERROR",
                "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
                f"The following actions: {', '.join(unsupported)} are not supported by the condition key {key}. "
                "The condition will not be evaluated for these actions. We recommend that you move these "
                "actions to a different statement without this condition key.",
                key_path,
            )


def _check_pass_role(statement: dict[str, Any], path: Path, actions: list[Action], found: Findings) -> None:
    if not any(a.full_name == "iam:PassRole" for a in actions):
        return
    resources = _strings(statement.get("Resource"))
    if resources is None:
        return
    star = [i for i, r in resources if r == "*" or r.endswith(":*") or r.endswith("/*")]
    if not star:
        return
    conditions = {key.lower() for _, key, _ in _conditions(statement)}
    if "iam:passedtoservice" in conditions:
        return
    action_values = _strings(statement.get("Action")) or []
    wide_action = any(v in ("*", "iam:*") or v.lower() in ("iam:pass*",) for _, v in action_values)
    if wide_action:
        found.add(
            "SECURITY_WARNING",
            "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
            "Using wildcards (*) in the action and the resource can be overly permissive because it allows "
            "iam:PassRole permissions on all resources. We recommend that you specify resource ARNs or add the "
            "iam:PassedToService condition key to your statement.",
            *(_at(path, "Resource", i) for i in star),
        )
        return
    found.add(
        "SECURITY_WARNING",
        "PASS_ROLE_WITH_STAR_IN_RESOURCE",
        "Using the iam:PassRole action with wildcards (*) in the resource can be overly permissive because it "
        "allows iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs or "
        "add the iam:PassedToService condition key to your statement.",
        *(_at(path, "Resource", i) for i in star),
    )


def _check_redundant_statements(checked: list[tuple[Path, dict[str, Any]]], found: Findings) -> None:
    """A statement identical to an earlier one (Sid aside) grants nothing more."""
    seen: set[str] = set()
    for path, statement in checked:
        body = json.dumps({k: v for k, v in statement.items() if k != "Sid"}, sort_keys=True)
        if body in seen:
            found.add(
                "SUGGESTION",
                "REDUNDANT_STATEMENT",
                "The statement is redundant because it provides identical permissions to another statement. "
                "Update the policy to remove the redundant statement.",
                path,
            )
        seen.add(body)
