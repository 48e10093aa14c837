"""User and role principals of trust policies, kept as AWS keeps them: by unique id.

When a trust policy is saved, the users and roles it names must exist; their unique ids are kept with
the role. When one of them is deleted, the policies that named it show its unique id instead of the
ARN and match no one from then on, even a principal created later under the same name.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall.core.context import OpContext
from rolecall.errors import MalformedPolicyDocument
from rolecall.store import GLOBAL


def _aws_principals(document: dict[str, Any]) -> list[str]:
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    found: list[str] = []
    for statement in statements or []:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict):
            aws = principal.get("AWS")
            found.extend([aws] if isinstance(aws, str) else [a for a in aws or [] if isinstance(a, str)])
    return found


def bind_principals(ctx: OpContext, document: dict[str, Any]) -> dict[str, str]:
    """IAM resolves user and role principals when the policy is saved: naming one that does not exist
    in an account we hold is refused, as AWS refuses it. Returns {principal ARN as written: unique id}
    for those that exist, so that deleting one later can unbind it (forget_principal)."""
    bound: dict[str, str] = {}
    for value in _aws_principals(document):
        parts = value.split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "iam"] or "*" in value or "?" in value:
            continue
        account, resource = parts[4], parts[5]
        kind, _, rest = resource.partition("/")
        if kind not in ("user", "role") or not rest:
            continue
        if account != ctx.account and ctx.tx.get(GLOBAL, "account", account) is None:
            continue  # an account this store does not hold: nothing to check against
        doc = ctx.tx.get(account, kind, rest.rsplit("/", 1)[-1])
        if doc is None or doc["Arn"].lower() != value.lower():
            raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{value}"')
        bound[value] = doc["UserId" if kind == "user" else "RoleId"]
    return bound


def forget_principal(ctx: OpContext, unique_id: str) -> None:
    """A user or role was deleted. AWS keeps trust-policy principals by unique id, so every trust
    policy that named it now shows that id instead of the ARN, and matches no one: not even a new
    principal created later under the same name."""
    for account in ctx.tx.list(GLOBAL, "account"):
        for role in ctx.tx.list(account["AccountId"], "role"):
            bound = role.get("TrustPrincipalIds") or {}
            arns = {arn for arn, uid in bound.items() if uid == unique_id}
            if not arns:
                continue
            document = json.loads(role["AssumeRolePolicyDocument"])
            _replace_aws_principals(document, {arn: unique_id for arn in arns})
            role["AssumeRolePolicyDocument"] = json.dumps(document, indent=2)
            role["TrustPrincipalIds"] = {arn: uid for arn, uid in bound.items() if arn not in arns}
            ctx.tx.update(account["AccountId"], "role", role["RoleName"], role)


def _replace_aws_principals(document: dict[str, Any], replacements: dict[str, str]) -> None:
    statements = document.get("Statement")
    for statement in [statements] if isinstance(statements, dict) else statements or []:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict) and "AWS" in principal:
            aws = principal["AWS"]
            if isinstance(aws, str):
                principal["AWS"] = replacements.get(aws, aws)
            else:
                principal["AWS"] = [replacements.get(a, a) for a in aws]
