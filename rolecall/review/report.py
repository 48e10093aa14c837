"""The audit as a whole: run every analysis over an account and shape the result for people and programs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .account import Account
from .checks import Asker
from .escalation import ACT_KINDS, GRANT_KINDS, AdminReason, Edge, Escalation
from .findings import Finding, passrole_findings, trust_findings, unused_findings
from .least_privilege import Rewrite


@dataclass
class Audit:
    account: Account
    admins: dict[str, AdminReason]
    paths: dict[str, list[Edge]]
    edges: list[Edge]
    findings: list[Finding]
    rewrites: list[Rewrite] = field(default_factory=list)
    seconds: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account.id,
            "summary": self.summary(),
            "options": self.options,
            "admins": [_admin_json(a) for a in sorted(self.admins.values(), key=lambda a: a.principal)],
            "escalation_paths": [
                {"principal": s, "reaches_admin": path[-1].target, "steps": [e.to_json() for e in path]}
                for s, path in sorted(self.paths.items())
            ],
            "edges": [e.to_json() for e in self.edges],
            "findings": [f.to_json() for f in self.findings],
            "least_privilege": [r.to_json() for r in self.rewrites],
            "problems": list(self.account.problems),
        }

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for f in self.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        edge_kinds: dict[str, int] = {}
        for e in self.edges:
            edge_kinds[e.kind] = edge_kinds.get(e.kind, 0) + 1
        return {
            "principals": len(self.account.principals),
            "users": sum(1 for p in self.account.principals if p.kind == "user"),
            "roles": sum(1 for p in self.account.principals if p.kind == "role"),
            "groups": len(self.account.groups),
            "managed_policies": len(self.account.managed),
            "admins": len(self.admins),
            "can_become_admin": len(self.paths),
            "edges": len(self.edges),
            "edge_kinds": dict(sorted(edge_kinds.items())),
            "findings": dict(sorted(kinds.items())),
            "least_privilege_rewrites": len(self.rewrites),
            "seconds": round(self.seconds, 3),
        }


def _admin_json(a: AdminReason) -> dict[str, Any]:
    out: dict[str, Any] = {"principal": a.principal, "direct": a.direct}
    if a.direct:
        out["because"] = "allowed every action on every resource" + (
            f" ({'; '.join(a.checks[0].because())})" if a.checks else ""
        )
    elif a.grant is not None:
        out["because"] = f"{a.grant.describe()}: {a.grant.target}"
        out["steps"] = [e.to_json() for e in [*a.reach, a.grant]]
    return out


def run_audit(
    account: Account,
    *,
    region: str = "us-east-1",
    mfa: bool = False,
    now: datetime | None = None,
    unused_days: int = 90,
    rewrites: list[Rewrite] | None = None,
) -> Audit:
    started = time.process_time()
    asker = Asker(account, mfa=mfa)
    esc = Escalation(account, asker, region)
    esc.run()
    findings = trust_findings(account, asker) + passrole_findings(account, asker, esc.admins)
    findings += unused_findings(account, now or datetime.now(UTC), unused_days)
    audit = Audit(account, esc.admins, esc.paths_to_admin(), esc.edges, findings, rewrites or [])
    audit.seconds = time.process_time() - started
    audit.options = {
        "region": region,
        "mfa": mfa,
        "unused_days": unused_days,
        "scp_levels": len(account.scps),
    }
    return audit


def _short(arn: str) -> str:
    """user/alice, role/app (the account is the same for all)."""
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def render_text(audit: Audit, *, verbose: bool = False) -> str:
    s = audit.summary()
    lines = [
        f"rolecall audit of account {audit.account.id}: {s['users']} users, {s['roles']} roles, "
        f"{s['groups']} groups, {s['managed_policies']} managed policies (analysed in {s['seconds']:.2f} s CPU)",
        "",
    ]
    lines.append(f"Administrators ({len(audit.admins)}):")
    for a in sorted(audit.admins.values(), key=lambda a: a.principal):
        j = _admin_json(a)
        lines.append(f"  {_short(a.principal)}: {j.get('because', '')}")
    if not audit.admins:
        lines.append("  none")
    lines += ["", f"Privilege escalation paths to an administrator ({len(audit.paths)}):"]
    for source, path in sorted(audit.paths.items()):
        chain = " -> ".join([_short(source)] + [_short(e.target) for e in path])
        lines.append(f"  {chain}")
        for e in path:
            lines.append(f"    {_short(e.source)} {e.describe()}: {_short(e.target)}")
            for c in e.checks:
                lines.append(f"      {c.action} on {c.resource}: " + "; ".join(c.because()))
    if not audit.paths:
        lines.append("  none")
    grants = [e for e in audit.edges if e.grant]
    other = [e for e in audit.edges if not e.grant]
    lines += [
        "",
        f"Edges: {len(other)} act-as, {len(grants)} grant ({', '.join(f'{k} {v}' for k, v in s['edge_kinds'].items()) or 'none'})",
    ]
    if verbose:
        for e in audit.edges:
            lines.append(f"  {_short(e.source)} {e.describe()}: {_short(e.target)}")
    lines += ["", f"Findings ({len(audit.findings)}):"]
    for f in sorted(
        audit.findings, key=lambda f: (["high", "medium", "low"].index(f.severity), f.kind, f.principal)
    ):
        lines.append(f"  [{f.severity}] {f.kind} {_short(f.principal)}: {f.message}")
        for c in f.checks:
            lines.append(
                f"      {c.action} on {_short(c.resource)} by {c.principal}: " + "; ".join(c.because())
            )
    if not audit.findings:
        lines.append("  none")
    if audit.rewrites:
        lines += ["", f"Least-privilege rewrites from the trail ({len(audit.rewrites)}):"]
        for r in audit.rewrites:
            lines.extend("  " + line for line in r.render().splitlines())
    if audit.account.problems:
        lines += ["", f"Not analysed ({len(audit.account.problems)}):"]
        lines.extend(f"  {p}" for p in audit.account.problems)
    return "\n".join(lines) + "\n"


__all__ = ["ACT_KINDS", "GRANT_KINDS", "Audit", "render_text", "run_audit"]
