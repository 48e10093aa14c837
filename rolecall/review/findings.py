"""Findings about trust policies, PassRole and role use, each decided by the engine where it is a question
of access:

- open-trust: a role that anyone (any AWS account's principal) can assume; with conditions that a
  stranger's request without context keys fails, it is reported as open only to what the conditions admit;
- cross-account-no-external-id: a role another account can assume with no sts:ExternalId in the request;
- service-trust-no-source: a role a service can assume for a request that carries neither aws:SourceArn
  nor aws:SourceAccount (the confused-deputy guard AWS recommends);
- wildcard-passrole: a principal that may pass any role to any service (checked on a role that does not
  exist, with no iam:PassedToService); administrators are not repeated here;
- unused-role: a role not used within the tracking period (RoleLastUsed), or never used.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .account import Account, Principal
from .checks import Asker, Check

STRANGER_ACCOUNT = "999999999999"
SEVERITY = {
    "open-trust": "high",
    "cross-account-no-external-id": "medium",
    "service-trust-no-source": "low",
    "wildcard-passrole": "medium",
    "unused-role": "low",
}


@dataclass
class Finding:
    kind: str
    principal: str
    message: str
    checks: list[Check] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.kind, "low")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "principal": self.principal,
            "message": self.message,
            "steps": [c.to_json() for c in self.checks],
            **({"detail": self.detail} if self.detail else {}),
        }


def _foreign_principals(role: Principal, own: str) -> list[str]:
    """The principals of other accounts the trust policy names, as request principals."""
    out: list[str] = []
    if role.trust is None:
        return out
    for st in role.trust.candidates("sts:assumerole").allows:
        spec = st.principal
        if spec is None or st.not_principal or spec.wildcard:
            continue
        out += [f"arn:aws:iam::{a}:root" for a in sorted(spec.accounts) if a != own]
        for arn in sorted(spec.arns):
            parts = arn.split(":")
            if len(parts) == 6 and parts[4] and parts[4] != own:
                if parts[5].startswith("role/"):
                    name = parts[5].rsplit("/", 1)[-1]
                    out.append(f"arn:aws:sts::{parts[4]}:assumed-role/{name}/rolecall-audit")
                else:
                    out.append(arn)
    return list(dict.fromkeys(out))


def _services(role: Principal) -> list[str]:
    if role.trust is None:
        return []
    found: set[str] = set()
    for st in role.trust.statements:
        if st.principal is not None and not st.is_deny:
            found |= st.principal.services
    return sorted(found)


def trust_findings(account: Account, asker: Asker) -> list[Finding]:
    out: list[Finding] = []
    for role in account.principals:
        if role.kind != "role" or role.trust is None or role.service_linked:
            continue
        stranger = f"arn:aws:iam::{STRANGER_ACCOUNT}:user/anyone"
        c = asker.ask_as(stranger, "sts:AssumeRole", role.arn, role.trust)
        if c.allowed:
            out.append(
                Finding(
                    "open-trust",
                    role.arn,
                    'any AWS principal can assume this role (its trust policy allows Principal "*" with no '
                    "condition a stranger's request fails)",
                    [c],
                )
            )
        for principal in _foreign_principals(role, account.id):
            c = asker.ask_as(
                principal, "sts:AssumeRole", role.arn, role.trust, {"aws:PrincipalArn": principal}
            )
            if c.allowed:
                out.append(
                    Finding(
                        "cross-account-no-external-id",
                        role.arn,
                        f"{principal} (another account) can assume this role without an sts:ExternalId",
                        [c],
                        {"external_principal": principal},
                    )
                )
        for service in _services(role):
            c = asker.ask_as(service, "sts:AssumeRole", role.arn, role.trust)
            if c.allowed:
                out.append(
                    Finding(
                        "service-trust-no-source",
                        role.arn,
                        f"{service} can assume this role on behalf of any account or resource: the trust "
                        "policy does not require aws:SourceArn or aws:SourceAccount",
                        [c],
                        {"service": service},
                    )
                )
    return out


def passrole_findings(account: Account, asker: Asker, admins: Collection[str] = ()) -> list[Finding]:
    """Administrators are left out: they may do everything, and are reported as administrators."""
    probe = f"arn:aws:iam::{account.id}:role/rolecall-audit-any-role"
    out = []
    for p in account.principals:
        if p.service_linked or p.arn in admins:
            continue
        c = asker.ask(p, "iam:PassRole", probe)
        if c.allowed:
            out.append(
                Finding(
                    "wildcard-passrole",
                    p.arn,
                    "may pass any role of the account to any service (iam:PassRole on every role, with no "
                    "iam:PassedToService condition)",
                    [c],
                )
            )
    return out


def parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unused_findings(account: Account, now: datetime, days: int) -> list[Finding]:
    cutoff = now - timedelta(days=days)
    out = []
    for role in account.principals:
        if role.kind != "role" or role.service_linked:
            continue
        last = parse_time(role.last_used) if role.last_used else None
        created = parse_time(role.created) if role.created else None
        if last is not None and last >= cutoff:
            continue
        if last is None and created is not None and created >= cutoff:
            continue  # too new to judge
        when = f"last used {last:%Y-%m-%d}" if last else "never used"
        out.append(
            Finding(
                "unused-role",
                role.arn,
                f"{when}: no use in the last {days} days",
                detail={"last_used": role.last_used, "created": role.created, "days": days},
            )
        )
    return out
