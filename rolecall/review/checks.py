"""One question put to the engine for the audit ("may this principal do that?") and its answer explained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rolecall.policy import Decision, Policy, Request, evaluate
from rolecall.policy.evaluate import LAYER_NAMES

from .account import Account, Principal

# A stand-in for "whatever the other account's own policies allow": cross-account trust is judged on the
# role's side only, which is the side this account controls.
ALLOW_ALL = Policy.parse(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    kind="identity",
    name="(the other account's policies, assumed to allow)",
)


@dataclass
class Check:
    """A request the engine allowed (or refused) and the statements that decided it."""

    action: str
    resource: str
    principal: str
    decision: Decision
    context: dict[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    def because(self) -> list[str]:
        """The statements behind the decision, as short lines."""
        d = self.decision
        if d.allowed:
            lines = [
                f"allowed by {LAYER_NAMES[m.kind]} {m.policy} statement #{m.index}"
                + (f" (Sid {m.sid})" if m.sid else "")
                for m in d.matched
                if m.effect == "Allow"
                and m.kind in ("identity", "resource", "boundary")
                and m.policy != ALLOW_ALL.name
            ]
            return lines or ["allowed"]
        return [d.reason() or d.decision]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "resource": self.resource,
            "principal": self.principal,
            "decision": self.decision.decision,
            "because": self.because(),
        }
        if self.context:
            out["context"] = {k: v for k, v in self.context.items() if not k.startswith("aws:Principal")}
        return out


class Asker:
    """Puts requests of the account's principals to the engine, with their boundaries and the SCPs."""

    def __init__(self, account: Account, *, mfa: bool = False) -> None:
        self.account = account
        self.mfa = mfa
        self._contexts: dict[str, dict[str, Any]] = {}

    def context(self, p: Principal) -> dict[str, Any]:
        ctx = self._contexts.get(p.arn)
        if ctx is None:
            ctx = self._contexts[p.arn] = p.context(self.mfa)
        return ctx

    def ask(
        self,
        p: Principal,
        action: str,
        resource: str,
        *,
        extra: dict[str, Any] | None = None,
        resource_policy: Policy | None = None,
    ) -> Check:
        ctx = self.context(p)
        if extra:
            ctx = {**ctx, **extra}
        d = evaluate(
            Request(action, resource, p.request_principal, ctx),
            identity=p.policies,
            boundary=p.boundary,
            resource_policy=resource_policy,
            scps=() if p.scp_exempt else self.account.scps,
            resource_account=self.account.id if resource_policy is not None else None,
        )
        return Check(action, resource, p.request_principal, d, extra)

    def ask_as(
        self,
        principal: str,
        action: str,
        resource: str,
        resource_policy: Policy,
        context: dict[str, Any] | None = None,
    ) -> Check:
        """A request of someone outside the account's principals (a service, another account, anyone):
        only the resource-based policy (here, a trust policy) is this account's to judge."""
        d = evaluate(
            Request(action, resource, principal, context or {}),
            identity=(ALLOW_ALL,) if principal.startswith("arn:") else (),
            resource_policy=resource_policy,
            resource_account=self.account.id,
        )
        return Check(action, resource, principal, d, context)
