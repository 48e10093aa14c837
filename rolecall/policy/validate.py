"""MalformedPolicyDocument checks, in the order IAM reports them.

IAM checks a document in stages and reports the first stage that fails: JSON and element syntax
("Syntax errors in policy."), the Version of a managed policy, the legacy parser (Effect spelling,
date values, ARN shapes it cannot read: "The policy failed legacy parsing"), then the grammar proper:
kind-specific elements, Sid uniqueness, actions, resource ARN formats, action vendors, resources.
The messages below are IAM's own wording. Every problem found is kept in MalformedPolicy.errors; the
message is the one IAM would report.
"""

from __future__ import annotations

import re
from typing import Any

from .conditions import parse_date, parse_operator
from .document import SYNTAX_ERROR, MalformedPolicy
from .matching import compile_pattern

KINDS = ("identity", "resource", "trust", "boundary", "session", "scp", "rcp")
VERSIONS = ("2008-10-17", "2012-10-17")
CURRENT_VERSION = "2012-10-17"
TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
PARTITIONS = frozenset(
    {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
)
MAX_STATEMENTS = 4096
MAX_VALUES = 4096  # per element (Action list, Resource list, one condition key's values, ...)

# Kinds whose statements must not name a principal, and kinds whose statements must.
NO_PRINCIPAL = frozenset({"identity", "boundary", "session", "scp", "rcp"})
NEEDS_PRINCIPAL = frozenset({"resource", "trust"})
IAM_KINDS = frozenset({"identity", "boundary", "session", "trust"})

VERSION_REQUIRED = "Policy document must be version 2012-10-17 or greater."
LEGACY = "The policy failed legacy parsing"
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique."
SID_CHARACTERS = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
PRINCIPAL_IN_IDENTITY = "Policy document should not specify a principal."
MISSING_PRINCIPAL = "Missing required field Principal"
TRUST_RESOURCE = "Has prohibited field Resource."
TRUST_NOT_PRINCIPAL = "Has prohibited field NotPrincipal."
TRUST_ACTIONS = "AssumeRole policy may only specify STS AssumeRole actions."
# The actions a trust policy may name: those STS authorizes against a role's trust policy. A wildcard is
# accepted when it covers one of them ("sts:*", "sts:Assume*"); any other sts: action is refused as IAM refuses
# sts:BadAssumeRole.
TRUST_POLICY_ACTIONS = (
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:setcontext",
)
VENDOR_NOT_QUALIFIED = "Resource vendor must be fully qualified and cannot contain regexes."
IAM_PATHS = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)

# Accepted besides IAM_PATHS (which is what IAM's message lists): newer IAM resource types.
IAM_OTHER_RESOURCES = ("*", "root", "${", "role-template/", "assumed-role/")
# S3 resources that do carry a Region (access points, S3 Control resources).
S3_REGIONAL = (
    "accesspoint/",
    "access-grants/",
    "job/",
    "storage-lens/",
    "storage-lens-group/",
    "async-request/",
    "outpost/",
    "*",
)
_VENDOR = re.compile(r"[A-Za-z0-9.\-]+")
_SID = re.compile(r"[0-9A-Za-z]*")
_ACCOUNT_ID = re.compile(r"\d{12}")
_UNIQUE_ID = re.compile(r"A[A-Z0-9]{15,127}")
_NAME = r"[\w+=,.@\-]+"
_AWS_PRINCIPAL = re.compile(
    rf"arn:[a-z\-]+:(?:iam::\d{{12}}:(?:root|user/(?:[!-~]+/)?{_NAME}|role/(?:[!-~]+/)?{_NAME})"
    rf"|sts::\d{{12}}:(?:assumed-role/{_NAME}/{_NAME}|federated-user/{_NAME}))"
)
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.\-]*\.(?:amazonaws\.com(?:\.cn)?|amazon\.com)")
_FEDERATED = re.compile(
    r"arn:[a-z\-]+:iam::\d{12}:(?:saml-provider|oidc-provider)/[!-~]+|[A-Za-z0-9][A-Za-z0-9.\-]*(?:/[!-~]*)?"
)


class _Problems:
    """Problems found, each with the rank of the stage that reports it (lower is reported first)."""

    SYNTAX, VERSION, LEGACY, STRUCTURE, SID, ACTIONS, RESOURCE_FORMAT, VENDOR, RESOURCES, PRINCIPAL = range(
        10
    )

    def __init__(self) -> None:
        self.found: list[tuple[int, str, str]] = []

    def add(self, rank: int, message: str, detail: str | None = None) -> None:
        self.found.append((rank, message, detail or message))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        ordered = sorted(self.found, key=lambda f: f[0])  # stable: document order within a stage
        messages = list(dict.fromkeys(m for _, m, _ in ordered))
        raise MalformedPolicy(messages[0], [d for _, _, d in ordered], errors=messages)


def _strings(value: Any) -> list[str] | None:
    """A string or a list of strings (None entries are tolerated, as IAM does); None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
        return [v for v in value if v is not None]
    return None


def _condition_scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float) and value is not None


def statements_of(document: dict[str, Any]) -> list[Any]:
    statement = document.get("Statement")
    return [statement] if isinstance(statement, dict) else list(statement or [])


def _check_syntax(document: dict[str, Any], problems: _Problems) -> None:
    S = problems.SYNTAX
    for key in document:
        if key not in TOP_LEVEL:
            problems.add(S, SYNTAX_ERROR, f"Unknown field {key}")
    if "Version" in document and document["Version"] not in VERSIONS:
        problems.add(S, SYNTAX_ERROR, f"Version {document['Version']!r} is not 2008-10-17 or 2012-10-17")
    if "Id" in document and not isinstance(document["Id"], str):
        problems.add(S, SYNTAX_ERROR, "Id must be a string")
    statement = document.get("Statement")
    if statement is None:
        problems.add(S, SYNTAX_ERROR, "Missing required field Statement")
        return
    if not isinstance(statement, dict | list) or statement == []:
        problems.add(S, SYNTAX_ERROR, "Statement must be an object or a non-empty list")
        return
    statements = statements_of(document)
    if len(statements) > MAX_STATEMENTS:
        problems.add(S, SYNTAX_ERROR, f"more than {MAX_STATEMENTS} statements")
        return
    for i, st in enumerate(statements):
        if not isinstance(st, dict):
            problems.add(S, SYNTAX_ERROR, f"Statement {i} is not an object")
            continue
        _check_statement_syntax(i, st, problems)


def _check_statement_syntax(i: int, st: dict[str, Any], problems: _Problems) -> None:
    S = problems.SYNTAX
    where = f"Statement {i}"
    for key in st:
        if key not in STATEMENT_ELEMENTS:
            problems.add(S, SYNTAX_ERROR, f"Unknown field {key} in {where}")
    for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if a in st and b in st:
            problems.add(S, SYNTAX_ERROR, f"{where} has both {a} and {b}")
    effect = st.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        problems.add(S, SYNTAX_ERROR, f"{where}: Effect must be Allow or Deny")
    if "Sid" in st and not isinstance(st["Sid"], str):
        problems.add(S, SYNTAX_ERROR, f"{where}: Sid must be a string")
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in st:
            values = _strings(st[element])
            if values is None:
                problems.add(S, SYNTAX_ERROR, f"{where}: {element} must be a string or a list of strings")
            elif len(values) > MAX_VALUES:
                problems.add(S, SYNTAX_ERROR, f"{where}: {element} has more than {MAX_VALUES} values")
    for element in ("Principal", "NotPrincipal"):
        if element in st:
            _check_principal_syntax(where, element, st[element], problems)
    if "Condition" in st:
        _check_condition_syntax(where, st["Condition"], problems)


def _check_principal_syntax(where: str, element: str, value: Any, problems: _Problems) -> None:
    if isinstance(value, str):
        return  # "*" or an invalid principal, reported later
    if not isinstance(value, dict):
        problems.add(problems.SYNTAX, SYNTAX_ERROR, f'{where}: {element} must be "*" or an object')
        return
    for kind, names in value.items():
        values = _strings(names)
        if values is None:
            problems.add(problems.SYNTAX, SYNTAX_ERROR, f"{where}: {element} {kind} must be a string or list")
        elif len(values) > MAX_VALUES:
            problems.add(problems.SYNTAX, SYNTAX_ERROR, f"{where}: {element} has too many values")


def _check_condition_syntax(where: str, condition: Any, problems: _Problems) -> None:
    S = problems.SYNTAX
    if not isinstance(condition, dict):
        problems.add(S, SYNTAX_ERROR, f"{where}: Condition must be an object")
        return
    for operator, block in condition.items():
        if not isinstance(block, dict):
            problems.add(S, SYNTAX_ERROR, f"{where}: Condition {operator} must be an object")
            continue
        if parse_operator(operator) is None and block:
            # IAM tolerates an unknown operator only with nothing under it.
            problems.add(S, SYNTAX_ERROR, f"{where}: Invalid Condition type : {operator}")
        for key, values in block.items():
            if isinstance(values, list):
                if not all(_condition_scalar(v) for v in values):
                    problems.add(
                        S, SYNTAX_ERROR, f"{where}: Condition {operator} {key} has a non-scalar value"
                    )
                elif len(values) > MAX_VALUES:
                    problems.add(S, SYNTAX_ERROR, f"{where}: Condition {operator} {key} has too many values")
            elif not _condition_scalar(values):
                problems.add(S, SYNTAX_ERROR, f"{where}: Condition {operator} {key} has a non-scalar value")


def condition_values(values: Any) -> list[str]:
    """A condition key's values as strings (JSON true/false become "true"/"false")."""
    items = values if isinstance(values, list) else [values]
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, int | float):
            out.append(str(v))
    return out


def _check_legacy(statements: list[dict[str, Any]], problems: _Problems) -> None:
    L = problems.LEGACY
    for i, st in enumerate(statements):
        if st["Effect"] not in ("Allow", "Deny"):
            problems.add(L, LEGACY, f"Statement {i}: Effect {st['Effect']!r} must be spelled Allow or Deny")
        for operator, block in (st.get("Condition") or {}).items():
            parsed = parse_operator(operator)
            if parsed is None or not parsed.family.startswith("Date"):
                continue
            for key, values in block.items():
                for value in condition_values(values):
                    if parse_date(value) is None:
                        problems.add(L, LEGACY, f"Statement {i}: {operator} {key}: {value!r} is not a date")


def _resource_format_error(resource: str) -> str | None:
    """IAM's complaint about one Resource/NotResource entry's ARN shape, if any."""
    if resource == "*":
        return None
    if ":" not in resource:
        return f'Resource {resource} must be in ARN format or "*".'
    _, _, rest = resource.partition(":")
    partition, colon, rest = rest.partition(":")
    if partition != "*" and partition not in PARTITIONS:
        parts = rest.split(":")
        service = parts[0] if parts[0] != "" or len(parts) > 1 else "*"
        region = parts[1] if len(parts) > 1 else "*"
        account = parts[2] if len(parts) > 2 else "*"
        tail = ":".join(parts[3:]) if len(parts) > 3 else "*"
        return f'Partition "{partition}" is not valid for resource "arn:{partition}:{service}:{region}:{account}:{tail}".'
    if not colon:
        return VENDOR_NOT_QUALIFIED
    service, _, rest = rest.partition(":")
    if "*" in service or "?" in service:
        return VENDOR_NOT_QUALIFIED
    region, _, rest = rest.partition(":")
    _account, _, resource_id = rest.partition(":")
    if service == "iam":
        if region:
            return f"IAM resource {resource} cannot contain region information."
        if resource_id and not resource_id.startswith(IAM_PATHS + IAM_OTHER_RESOURCES):
            return 'IAM resource path must either be "*" or start with ' + ", ".join(IAM_PATHS) + "."
    elif service == "s3" and region and not resource_id.startswith(S3_REGIONAL):
        return f"Resource {resource} can not contain region information."
    return None


def _legacy_resource_unreadable(resource: str) -> bool:
    """ARN shapes the legacy parser cannot read: `::` with fewer than six parts, or an empty service."""
    if resource == "*" or ":" not in resource:
        return False
    if resource.count(":") < 5 and "::" in resource:
        return True
    parts = resource.split(":")
    return len(parts) > 2 and parts[2] == ""


def _check_resources(statements: list[dict[str, Any]], problems: _Problems) -> None:
    for i, st in enumerate(statements):
        for element in ("Resource", "NotResource"):
            if element not in st:
                continue
            values = _strings(st[element]) or []
            format_errors = [
                e for e in (_resource_format_error(r) for r in sorted(values, reverse=True)) if e
            ]
            for error in format_errors:
                problems.add(problems.RESOURCE_FORMAT, error, f"Statement {i}: {error}")
            if not format_errors:
                for r in values:
                    if _legacy_resource_unreadable(r):
                        problems.add(
                            problems.LEGACY, LEGACY, f"Statement {i}: {element} {r!r} is not a readable ARN"
                        )


def _action_error(action: str) -> str | None:
    parts = action.split(":")
    if len(parts) == 1 and parts[0] != "*":
        return NO_VENDOR
    if len(parts) > 2:
        return ONE_COLON
    if parts[0] != "*" and not _VENDOR.fullmatch(parts[0]):
        return f"Vendor {parts[0]} is not valid"
    return None


def _principal_errors(element: Any) -> list[str]:
    """Invalid principal values, in IAM's wording."""
    if isinstance(element, str):
        return [] if element == "*" else [f'Invalid principal in policy: "{element}"']
    if not isinstance(element, dict) or not element:
        return ["Invalid principal in policy"]
    errors = []
    for kind, names in element.items():
        values = _strings(names) or []
        if kind not in PRINCIPAL_TYPES or not values:
            errors.append(f'Invalid principal in policy: "{kind}"')
            continue
        label = "AWS" if kind == "AWS" else re.sub(r"(?<!^)(?=[A-Z])", "_", kind).upper()
        for value in values:
            if kind == "AWS":
                ok = (
                    value == "*"
                    or _ACCOUNT_ID.fullmatch(value) is not None
                    or _AWS_PRINCIPAL.fullmatch(value) is not None
                    or _UNIQUE_ID.fullmatch(value) is not None
                )
            elif kind == "Service":
                ok = _SERVICE.fullmatch(value) is not None
            elif kind == "Federated":
                ok = _FEDERATED.fullmatch(value) is not None
            else:
                ok = re.fullmatch(r"[0-9A-Za-z]{1,128}", value) is not None
            if not ok:
                errors.append(f'Invalid principal in policy: "{label}":"{value}"')
    return errors


def _check_grammar(kind: str, statements: list[dict[str, Any]], problems: _Problems) -> None:
    P = problems
    sids: set[str] = set()
    for i, st in enumerate(statements):
        where = f"Statement {i}"
        has_principal = "Principal" in st or "NotPrincipal" in st
        if kind in NO_PRINCIPAL and has_principal:
            rcp_star = kind == "rcp" and st.get("Principal") in ("*", {"AWS": "*"})
            if not rcp_star:
                P.add(P.STRUCTURE, PRINCIPAL_IN_IDENTITY, f"{where}: {PRINCIPAL_IN_IDENTITY}")
        if kind in NEEDS_PRINCIPAL and not has_principal:
            P.add(P.STRUCTURE, MISSING_PRINCIPAL, f"{where}: {MISSING_PRINCIPAL}")
        if kind == "trust":
            if "NotPrincipal" in st:
                P.add(P.STRUCTURE, TRUST_NOT_PRINCIPAL, f"{where}: {TRUST_NOT_PRINCIPAL}")
            if "Resource" in st or "NotResource" in st:
                P.add(P.STRUCTURE, TRUST_RESOURCE, f"{where}: {TRUST_RESOURCE}")
        sid = st.get("Sid")
        if isinstance(sid, str) and sid:
            if sid in sids:
                P.add(P.SID, DUPLICATE_SID, f"{where}: duplicate Sid {sid!r}")
            sids.add(sid)
            if kind in IAM_KINDS and not _SID.fullmatch(sid):
                P.add(P.SID, SID_CHARACTERS, f"{where}: Sid {sid!r} is not alphanumeric")
        action_key = "Action" if "Action" in st else "NotAction" if "NotAction" in st else None
        actions = _strings(st[action_key]) if action_key else None
        if not actions:
            message = "Missing required field Action" if kind == "resource" else NO_ACTIONS
            P.add(P.ACTIONS, message, f"{where}: {message}")
        else:
            for action in actions:
                error = _action_error(action)
                if error:
                    P.add(P.VENDOR, error, f"{where}: {error} ({action!r})")
                elif kind == "trust" and not _trust_action(action):
                    P.add(P.PRINCIPAL, TRUST_ACTIONS, f"{where}: {TRUST_ACTIONS} ({action!r})")
        if kind not in ("trust", "scp", "rcp"):
            resource_key = "Resource" if "Resource" in st else "NotResource" if "NotResource" in st else None
            if resource_key is None or not _strings(st[resource_key]):
                message = "Missing required field Resource" if kind == "resource" else NO_RESOURCES
                rank = P.STRUCTURE if kind == "resource" else P.RESOURCES
                P.add(rank, message, f"{where}: {message}")
        if kind in NEEDS_PRINCIPAL:
            for element in ("Principal", "NotPrincipal"):
                if element in st:
                    for error in _principal_errors(st[element]):
                        P.add(P.PRINCIPAL, error, f"{where}: {error}")


def validate(document: dict[str, Any], kind: str, *, managed: bool = False) -> None:
    """Raise MalformedPolicy if IAM would refuse this document as a policy of this kind.

    managed: the document is a managed policy (CreatePolicy / CreatePolicyVersion), for which IAM
    requires Version 2012-10-17; inline, trust and resource policies may still omit Version or use 2008-10-17.
    """
    problems = _Problems()
    _check_syntax(document, problems)
    problems.raise_if_any()
    if managed and document.get("Version") != CURRENT_VERSION:
        raise MalformedPolicy(VERSION_REQUIRED)
    statements = statements_of(document)
    _check_legacy(statements, problems)
    _check_resources(statements, problems)
    _check_grammar(kind, statements, problems)
    problems.raise_if_any()


def _trust_action(action: str) -> bool:
    lowered = action.lower()
    if lowered == "*" or lowered in TRUST_POLICY_ACTIONS:
        return True
    if "*" in lowered or "?" in lowered:
        matches = compile_pattern(lowered)
        return any(matches(a) for a in TRUST_POLICY_ACTIONS)
    return False
