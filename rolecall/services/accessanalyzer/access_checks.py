"""Custom policy checks -- CheckNoNewAccess, CheckAccessNotGranted, CheckNoPublicAccess -- decided by
rolecall's policy engine.

AWS decides these with automated reasoning over every possible request. rolecall asks its engine about
witness requests instead: for each Allow statement of the policy under check, every action it grants
(wildcards expanded with the Service Authorization Reference), each resource it names (wildcards
instantiated), each principal it names (resource policies), and a request context built to satisfy the
statement's own conditions. A witness the engine allows under one policy and refuses under the other is
new access; one it allows for a listed action is access granted; one it allows an outside principal is
public access. Conditions are honoured both ways: a condition that the reference policy also demands
removes the finding, one it does not demand keeps it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rolecall.authz.service_reference import ServiceReference
from rolecall.policy import Policy, Request, evaluate
from rolecall.policy.compile import Statement
from rolecall.policy.conditions import parse_date, parse_number

PROBE = "rolecall-probe"
PROBE_ACCOUNT = "999999999999"  # an account no policy under check is about
RESOURCE_SIDE = "resource-owner"  # the resource's account in resource-policy probes: nobody's own
OUTSIDE_USER = f"arn:aws:iam::{PROBE_ACCOUNT}:user/{PROBE}"
MAX_ACTIONS = 25_000
ALLOW_ALL = Policy.parse(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}', max_size=10_000
)
# CheckNoPublicAccess's resource types -> the service prefix their actions carry.
RESOURCE_TYPE_SERVICES = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::DynamoDB::Stream": "dynamodb",
    "AWS::EFS::FileSystem": "elasticfilesystem",
    "AWS::OpenSearchService::Domain": "es",
    "AWS::Kinesis::Stream": "kinesis",
    "AWS::Kinesis::StreamConsumer": "kinesis",
    "AWS::KMS::Key": "kms",
    "AWS::Lambda::Function": "lambda",
    "AWS::S3::Bucket": "s3",
    "AWS::S3::AccessPoint": "s3",
    "AWS::S3Express::DirectoryBucket": "s3express",
    "AWS::S3Express::AccessPoint": "s3express",
    "AWS::S3::Glacier": "glacier",
    "AWS::S3Outposts::Bucket": "s3-outposts",
    "AWS::S3Outposts::AccessPoint": "s3-outposts",
    "AWS::SecretsManager::Secret": "secretsmanager",
    "AWS::SNS::Topic": "sns",
    "AWS::SQS::Queue": "sqs",
    "AWS::IAM::AssumeRolePolicyDocument": "sts",
    "AWS::S3Tables::TableBucket": "s3tables",
    "AWS::S3Tables::Table": "s3tables",
    "AWS::ApiGateway::RestApi": "execute-api",
    "AWS::CodeArtifact::Domain": "codeartifact",
    "AWS::Backup::BackupVault": "backup",
    "AWS::CloudTrail::Dashboard": "cloudtrail",
    "AWS::CloudTrail::EventDataStore": "cloudtrail",
}


@dataclass
class CheckResult:
    passed: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def output(self, pass_message: str, fail_message: str) -> dict[str, Any]:
        if self.passed:
            return {"result": "PASS", "message": pass_message, "reasons": []}
        return {"result": "FAIL", "message": fail_message, "reasons": self.reasons}


def _reason(description: str, st: Statement) -> dict[str, Any]:
    reason: dict[str, Any] = {"description": description, "statementIndex": st.index}
    if st.sid:
        reason["statementId"] = st.sid
    return reason


# ---------------------------------------------------------------- witnesses


def _instantiate(pattern: str) -> str:
    """A value the IAM wildcard pattern matches (policy variables become the probe word too)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("${", i) and "}" in pattern[i:]:
            end = pattern.index("}", i)
            inner = pattern[i + 2 : end]
            out.append(inner if inner in ("*", "?", "$") else PROBE)
            i = end + 1
            continue
        ch = pattern[i]
        out.append(PROBE if ch == "*" else "x" if ch == "?" else ch)
        i += 1
    return "".join(out)


def _satisfying(family: str, value: str) -> str:
    """A value that the positive operator `family` holds for against the policy value `value`."""
    if family in ("StringLike", "ArnLike"):
        return _instantiate(value)
    if family.startswith("Numeric"):
        number = parse_number(value)
        if number is None:
            return value
        step = -1 if family == "NumericLessThan" else 1 if family == "NumericGreaterThan" else 0
        return str(number + step)
    if family.startswith("Date"):
        stamp = parse_date(value)
        if stamp is None:
            return value
        step = -1 if family == "DateLessThan" else 1 if family == "DateGreaterThan" else 0
        moment = datetime.fromtimestamp(stamp, UTC) + timedelta(seconds=step)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if family == "IpAddress":
        try:
            return str(ipaddress.ip_network(value, strict=False).network_address)
        except ValueError:
            return value
    return value


def witness_context(st: Statement, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request context under which the statement's conditions hold (as far as one can be built)."""
    context: dict[str, Any] = dict(base or {})
    for condition in st.conditions:
        op = condition.operator
        key = condition.key_name
        if op.family == "Null":
            wants_absent = any(v.lower() == "true" for v in condition.values)
            if wants_absent:
                context.pop(key, None)
            else:
                context.setdefault(key, PROBE)
            continue
        if op.negated:
            # Negated operators hold for an absent key -- except ForAnyValue, which needs a value.
            if op.set_op == "ForAnyValue":
                context[key] = [f"{PROBE}-value"]
            continue
        if not condition.values:
            continue
        value = _satisfying(op.family, condition.values[0])
        context[key] = [value] if op.set_op else value
    return context


def expand_actions(st: Statement, reference: ServiceReference, only_service: str | None = None) -> list[str]:
    """The actions a statement grants: its Action patterns expanded, or every action NotAction leaves."""
    raw = st.raw.get("NotAction" if st.not_action else "Action")
    patterns = [raw] if isinstance(raw, str) else [p for p in raw or [] if isinstance(p, str)]
    actions: dict[str, None] = {}
    if st.not_action:
        for action in reference.matching_actions("*"):
            if st.matches_action(action.full_name.lower()):
                actions[action.full_name] = None
    else:
        for pattern in patterns:
            matched = reference.matching_actions(pattern)
            if matched:
                actions.update((a.full_name, None) for a in matched)
            elif "*" not in pattern and "?" not in pattern and ":" in pattern:
                actions[pattern] = None  # not in the reference: still what the statement names
    found = list(actions)
    if only_service:
        found = [a for a in found if a.split(":", 1)[0].lower() == only_service]
    return found[:MAX_ACTIONS]


def resource_probes(st: Statement, default: str = "*") -> list[str]:
    if st.not_resource:
        candidate = f"arn:aws:{PROBE}:us-east-1:{PROBE_ACCOUNT}:{PROBE}/{PROBE}"
        return [candidate] if st.matches_resource(candidate, None) else []
    raw = st.raw.get("Resource")
    if raw is None:
        return [default]
    patterns = [raw] if isinstance(raw, str) else [p for p in raw if isinstance(p, str)]
    return list(dict.fromkeys(_instantiate(p) for p in patterns)) or [default]


def principal_probes(st: Statement) -> list[tuple[str | None, dict[str, Any]]]:
    """(principal, its own context keys) for each principal a resource-policy statement names."""
    raw = st.raw.get("Principal")
    if raw is None:
        return []
    if raw == "*":
        return [(OUTSIDE_USER, _principal_keys(OUTSIDE_USER))]
    probes: list[tuple[str | None, dict[str, Any]]] = []
    for kind, values in raw.items() if isinstance(raw, dict) else ():
        for value in [values] if isinstance(values, str) else values or []:
            if not isinstance(value, str):
                continue
            if kind == "AWS":
                if value == "*":
                    principal = OUTSIDE_USER
                elif value.isdigit():
                    principal = f"arn:aws:iam::{value}:root"
                else:
                    principal = _instantiate(value)
                probes.append((principal, _principal_keys(principal)))
            elif kind == "Service":
                probes.append(
                    (value, {"aws:PrincipalServiceName": value, "aws:PrincipalIsAWSService": "true"})
                )
            else:
                probes.append((value, {}))
    return probes


def _principal_keys(arn: str) -> dict[str, Any]:
    parts = arn.split(":")
    account = parts[4] if len(parts) > 4 else PROBE_ACCOUNT
    kind = "Account" if arn.endswith(":root") else "AssumedRole" if ":assumed-role/" in arn else "User"
    return {"aws:PrincipalArn": arn, "aws:PrincipalAccount": account, "aws:PrincipalType": kind}


def _witnesses(
    st: Statement, reference: ServiceReference, resource_policy: bool, only_service: str | None = None
) -> Iterator[Request]:
    principals = principal_probes(st) if resource_policy else [(None, {})]
    for principal, keys in principals:
        context = witness_context(st, keys)
        for resource in resource_probes(st):
            for action in expand_actions(st, reference, only_service):
                yield Request(action, resource, principal, context)


def allows(policy: Policy, request: Request) -> bool:
    """Whether the policy alone lets the request through (a resource policy: the principal's own side
    taken as allowing, so that only what the resource policy grants counts)."""
    if policy.kind in ("resource", "trust"):
        if request.principal is None:
            return False
        return evaluate(
            request, identity=[ALLOW_ALL], resource_policy=policy, resource_account=RESOURCE_SIDE
        ).allowed
    return evaluate(request, identity=[policy]).allowed


# ---------------------------------------------------------------- the three checks


def check_no_new_access(new: Policy, existing: Policy, reference: ServiceReference) -> CheckResult:
    result = CheckResult(passed=True)
    resource_policy = new.kind in ("resource", "trust")
    for st in new.statements:
        if st.is_deny:
            continue
        for request in _witnesses(st, reference, resource_policy):
            if allows(new, request) and not allows(existing, request):
                result.passed = False
                result.reasons.append(_reason(f"New access in the statement with index: {st.index}.", st))
                break
    return result


def check_access_not_granted(
    policy: Policy, access: list[dict[str, Any]], reference: ServiceReference
) -> CheckResult:
    result = CheckResult(passed=True)
    resource_policy = policy.kind in ("resource", "trust")
    for st in policy.statements:
        if st.is_deny:
            continue
        principals = principal_probes(st) if resource_policy else [(None, {})]
        if _grants_listed(policy, st, access, principals, reference):
            result.passed = False
            result.reasons.append(
                _reason(
                    f"One or more of the listed actions or resources in the statement with index: {st.index}.",
                    st,
                )
            )
    return result


def _grants_listed(
    policy: Policy,
    st: Statement,
    access: list[dict[str, Any]],
    principals: list[tuple[str | None, dict[str, Any]]],
    reference: ServiceReference,
) -> bool:
    for entry in access:
        listed_actions = entry.get("actions") or []
        listed_resources = entry.get("resources") or []
        actions = listed_actions or expand_actions(st, reference)
        resources = listed_resources or resource_probes(st)
        for principal, keys in principals:
            context = witness_context(st, keys)
            for action in actions:
                if not st.matches_action(action.lower()):
                    continue
                for resource in resources:
                    if not st.matches_resource(resource, Request(action, resource, principal, context)):
                        continue
                    if allows(policy, Request(action, resource, principal, context)):
                        return True
    return False


def check_no_public_access(policy: Policy, resource_type: str, reference: ServiceReference) -> CheckResult:
    result = CheckResult(passed=True)
    service = RESOURCE_TYPE_SERVICES.get(resource_type)
    outsiders = [(OUTSIDE_USER, _principal_keys(OUTSIDE_USER)), ("*", {})]
    for st in policy.statements:
        if st.is_deny or st.principal is None:
            continue
        public = False
        for principal, keys in outsiders:
            context = witness_context_for_public(st, keys)
            for resource in resource_probes(st):
                for action in expand_actions(st, reference, service):
                    if allows(policy, Request(action, resource, principal, context)):
                        public = True
                        break
                if public:
                    break
            if public:
                break
        if public:
            result.passed = False
            result.reasons.append(
                _reason(f"Public access granted in the following statement with index: {st.index}.", st)
            )
    return result


# Keys that, required to equal something specific, confine a grant to known principals or networks: an
# outsider cannot choose their value (IAM User Guide, "Determining whether access is public").
_CONFINING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOwner",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceIp",
        "aws:userid",
        "aws:username",
        "aws:PrincipalServiceName",
        "aws:ResourceAccount",
        "aws:VpceAccount",
        "aws:VpceOrgID",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
        "kms:CallerAccount",
        "lambda:FunctionUrlAuthType",
        "sns:Endpoint",
    )
)


def witness_context_for_public(st: Statement, keys: dict[str, Any]) -> dict[str, Any]:
    """An outsider's context: the statement's conditions satisfied, except those on confining keys,
    whose values an outsider does not control (they keep the outsider's own, or none)."""
    context = witness_context(st, keys)
    for condition in st.conditions:
        if condition.key in _CONFINING_KEYS and not condition.operator.negated:
            if condition.key_name in keys:
                context[condition.key_name] = keys[condition.key_name]
            else:
                context.pop(condition.key_name, None)
    return context
