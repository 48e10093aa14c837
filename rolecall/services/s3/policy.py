"""Bucket policies: S3's checks before it accepts one (MalformedPolicy, in S3's own words), and its denials.

A bucket policy is a resource-based policy: it must be valid IAM policy grammar with a Principal in every
statement (rolecall.policy, kind "resource"), and S3 adds its own rules on top:
  - every Resource names this bucket (arn:aws:s3:::BUCKET) or objects in it (arn:aws:s3:::BUCKET/...):
    "Policy has invalid resource";
  - every action is an S3 action: "Policy has invalid action";
  - each statement's object actions need an object resource and its bucket actions a bucket resource:
    "Action does not apply to any resource(s) in statement";
  - IAM users and roles named as principals exist: "Invalid principal in policy".

Denials: for a caller in the bucket owner's account, S3 says who, what, on which resource and why
("User: arn:... is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no
identity-based policy allows the s3:GetObject action"); a caller from another account gets a bare
"Access Denied" (S3's enhanced messages stop at the account -- or organization -- boundary).
"""

from __future__ import annotations

import json
from typing import Any

from rolecall.errors import AccessDenied
from rolecall.policy import Decision, MalformedPolicy, Policy
from rolecall.services.s3 import errors as s3_errors
from rolecall.store import Tx

MAX_POLICY_BYTES = 20 * 1024
S3_ARN_PREFIX = "arn:aws:s3:::"

INVALID_RESOURCE = "Policy has invalid resource"
INVALID_ACTION = "Policy has invalid action"
INVALID_PRINCIPAL = "Invalid principal in policy"
NOT_APPLICABLE = "Action does not apply to any resource(s) in statement"

# Object-level actions whose names do not say "Object"; and actions on no bucket at all.
_OBJECT_ACTIONS = frozenset({"abortmultipartupload", "listmultipartuploadparts", "bypassgovernanceretention"})
_ACCOUNT_ACTIONS = frozenset(
    {
        "listallmybuckets",
        "getaccountpublicaccessblock",
        "putaccountpublicaccessblock",
        "listaccesspoints",
        "createjob",
        "listjobs",
    }
)


def malformed(message: str) -> s3_errors.MalformedPolicy:
    """S3's MalformedPolicy (not the policy engine's exception of the same name)."""
    return s3_errors.MalformedPolicy(message)


def validate_bucket_policy(text: str, bucket: str, tx: Tx) -> Policy:
    """The compiled policy, or MalformedPolicy with S3's message."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise malformed("Policies must be less than 20 KB")
    if not text.lstrip().startswith("{"):
        raise malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        document = json.loads(text)
    except ValueError:
        raise malformed("This policy contains invalid Json") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise malformed("Missing required field Statement")
    if document["Statement"] in ([], {}, None):
        raise malformed("Could not parse the policy: Statement is empty!")
    try:
        policy = Policy.parse(
            text, kind="resource", name=f"bucket policy of {bucket}", max_size=MAX_POLICY_BYTES
        )
    except MalformedPolicy as exc:
        raise malformed(_s3_wording(exc.message)) from None
    statements = document["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        _check_statement(statement, bucket, tx)
    return policy


def _s3_wording(message: str) -> str:
    """IAM's grammar messages as S3 words the same problems."""
    if message.startswith("Invalid principal"):
        return INVALID_PRINCIPAL
    if message.startswith(("Actions/Condition", "Vendor ")):
        return INVALID_ACTION
    if message.startswith(("Resource ", "Partition ", "The policy failed legacy parsing")):
        return INVALID_RESOURCE
    if message.startswith("Syntax errors"):
        return "This policy contains invalid Json"
    return message


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _check_statement(statement: dict[str, Any], bucket: str, tx: Tx) -> None:
    for element in ("Principal", "NotPrincipal"):
        principal = statement.get(element)
        if isinstance(principal, dict):
            for arn in _strings(principal.get("AWS", [])):
                if not _principal_exists(tx, arn):
                    raise malformed(INVALID_PRINCIPAL)
    actions = _strings(statement.get("Action", statement.get("NotAction", [])))
    for action in actions:
        if action != "*" and not action.lower().startswith("s3:"):
            raise malformed(INVALID_ACTION)
    resources = _strings(statement.get("Resource", statement.get("NotResource", [])))
    has_bucket = has_object = False
    for resource in resources:
        if not resource.startswith(S3_ARN_PREFIX):
            raise malformed(INVALID_RESOURCE)
        name, slash, _ = resource[len(S3_ARN_PREFIX) :].partition("/")
        if name != bucket:
            raise malformed(INVALID_RESOURCE)
        has_object = has_object or bool(slash)
        has_bucket = has_bucket or not slash
    if "NotAction" in statement:
        return  # NotAction names what it leaves out: any resource may fit what remains
    for action in actions:
        name = action.split(":", 1)[-1].lower()
        if "*" in name or "?" in name:
            continue
        if name in _ACCOUNT_ACTIONS:
            raise malformed(NOT_APPLICABLE)
        is_object = name in _OBJECT_ACTIONS or ("object" in name and "bucket" not in name)
        if (is_object and not has_object) or (not is_object and not has_bucket):
            raise malformed(NOT_APPLICABLE)


def _principal_exists(tx: Tx, arn: str) -> bool:
    """An IAM user or role named by ARN must exist (with that path); accounts and sessions are taken as given."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return True
    kind, _, rest = parts[5].partition("/")
    if kind not in ("user", "role"):
        return True
    doc = tx.get(parts[4], kind, rest.rsplit("/", 1)[-1])
    return doc is not None and doc.get("Arn") == arn


def denial_message(
    caller_arn: str, caller_account: str, owner: str | None, action: str, resource: str, decision: Decision
) -> AccessDenied:
    """S3's AccessDenied for a refused (action, resource)."""
    if owner is not None and owner != caller_account:
        return AccessDenied("Access Denied")
    where = "" if resource == "*" else f' on resource: "{resource}"'
    return AccessDenied(
        f"User: {caller_arn} is not authorized to perform: {action}{where} {decision.reason()}"
    )
