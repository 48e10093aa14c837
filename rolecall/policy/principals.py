"""Who is asking (parsed from the request's principal string) and whom a statement's Principal names.

A resource-based policy grant comes in three strengths, and evaluation treats them differently:
- DIRECT: the statement names this very principal (user ARN, role-session ARN, federated-user ARN,
  service, web-identity provider) or "*". In the same account such a grant is final.
- ROLE: the statement names the role whose session is asking. Same account: still capped by the
  permissions boundary and session policies, but no identity-based allow is needed.
- ACCOUNT: the statement names the principal's account (`123456789012` or `arn:aws:iam::...:root`).
  This delegates to the account: its identity-based policies must allow too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

NONE, ACCOUNT, ROLE, DIRECT = 0, 1, 2, 3
GRANT_NAMES = {NONE: "none", ACCOUNT: "account", ROLE: "role", DIRECT: "direct"}

_ACCOUNT_ID = re.compile(r"\d{12}")


class Who:
    """The requesting principal, parsed once per request (lazily)."""

    __slots__ = ("kind", "arn", "account", "partition", "role_arn", "role_name", "value")

    def __init__(self, principal: str | None, context: Mapping[str, tuple[str, ...]]) -> None:
        self.value = principal or ""
        self.arn = ""
        self.account: str | None = None
        self.partition = "aws"
        self.role_arn = ""
        self.role_name = ""
        p = self.value
        if not p:
            self.kind = "unspecified"  # identity policies apply; only a "*" grant names it
        elif p == "*":
            self.kind = "anonymous"
        elif p.startswith("arn:"):
            self.arn = p
            parts = p.split(":", 5)
            if len(parts) == 6:
                self.partition, service, self.account, resource = (
                    parts[1],
                    parts[2],
                    parts[4] or None,
                    parts[5],
                )
            else:
                service, resource = "", ""
            self.kind = "other"
            if service == "iam":
                if resource == "root":
                    self.kind = "root"
                elif resource.startswith("user/"):
                    self.kind = "user"
                elif resource.startswith("role/"):
                    self.kind = "role"
                    self.role_arn = p
                    self.role_name = resource.rsplit("/", 1)[-1]
            elif service == "sts":
                if resource.startswith("assumed-role/"):
                    self.kind = "session"
                    pieces = resource.split("/")
                    self.role_name = pieces[1] if len(pieces) > 1 else ""
                    # The role's ARN (with its path) comes from aws:PrincipalArn when the caller knows it.
                    known = context.get("aws:principalarn")
                    if known and len(known) == 1 and ":role/" in known[0]:
                        self.role_arn = known[0]
                    else:
                        self.role_arn = f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"
                elif resource.startswith("federated-user/"):
                    self.kind = "federated-user"
        elif _ACCOUNT_ID.fullmatch(p):
            self.kind = "root"
            self.account = p
            self.arn = f"arn:aws:iam::{p}:root"
        elif p.endswith((".amazonaws.com", ".amazonaws.com.cn", ".amazon.com")) and "/" not in p:
            self.kind = "service"
        else:
            self.kind = "other"  # a web-identity / SAML provider, a canonical user id, ...

    @property
    def has_identity(self) -> bool:
        """Can identity-based policies apply to this principal at all?"""
        return self.kind in ("root", "user", "role", "session", "federated-user", "unspecified")

    def __repr__(self) -> str:
        return f"Who({self.kind}, {self.value!r})"


def _role_key(arn: str) -> tuple[str, str] | None:
    """(account, role name) for a role ARN; the path does not change which role it is."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        return parts[4], parts[5].rsplit("/", 1)[-1]
    return None


class PrincipalSpec:
    """A statement's Principal or NotPrincipal, compiled into lookup sets."""

    __slots__ = ("wildcard", "accounts", "arns", "roles", "services", "others")

    def __init__(self, element: object) -> None:
        self.wildcard = False
        accounts: set[str] = set()
        arns: set[str] = set()
        roles: set[tuple[str, str]] = set()
        services: set[str] = set()
        others: set[str] = set()
        if element == "*":
            self.wildcard = True
        elif isinstance(element, dict):
            for kind, values in element.items():
                for value in _strings(values):
                    if kind == "AWS":
                        if value == "*":
                            self.wildcard = True
                        elif _ACCOUNT_ID.fullmatch(value):
                            accounts.add(value)
                        elif value.startswith("arn:") and value.endswith(":root") and value.count(":") == 5:
                            accounts.add(value.split(":")[4])
                        else:
                            arns.add(value)
                            role = _role_key(value)
                            if role is not None:
                                roles.add(role)
                    elif kind == "Service":
                        if value == "*":
                            self.wildcard = True
                        services.add(value.lower())
                    else:  # Federated, CanonicalUser: compared as given
                        others.add(value)
        self.accounts = frozenset(accounts)
        self.arns = frozenset(arns)
        self.roles = frozenset(roles)
        self.services = frozenset(services)
        self.others = frozenset(others)

    def grant(self, who: Who) -> int:
        """How strongly this Principal names who: NONE, ACCOUNT, ROLE or DIRECT."""
        if self.wildcard:
            return DIRECT
        kind = who.kind
        if kind in ("user", "federated-user") and who.arn in self.arns:
            return DIRECT
        if kind == "session":
            if who.arn in self.arns:
                return DIRECT
            if who.role_arn in self.arns or (who.account, who.role_name) in self.roles:
                return ROLE
        elif kind == "role" and (who.arn in self.arns or (who.account, who.role_name) in self.roles):
            return ROLE
        elif kind in ("service", "other"):
            # cognito-identity.amazonaws.com is a service name when it calls, a Federated provider when
            # a web identity from it assumes a role: either listing names it.
            value = who.value
            return (
                DIRECT
                if value.lower() in self.services or value in self.others or value in self.arns
                else NONE
            )
        elif kind == "anonymous":
            return NONE
        if who.account is not None and who.account in self.accounts:
            return ACCOUNT
        return NONE

    def excludes(self, who: Who) -> bool:
        """NotPrincipal: is who exempt? Only when every link of who's chain is listed -- the account,
        the role (for a session) and the principal itself -- as the IAM User Guide requires."""
        if self.wildcard:
            return True
        kind = who.kind
        if kind in ("service", "other", "anonymous"):
            value = who.value
            return value.lower() in self.services or value in self.others or value in self.arns
        if who.account not in self.accounts:
            return False
        if kind == "root":
            return True
        if kind == "session":
            role_listed = who.role_arn in self.arns or (who.account, who.role_name) in self.roles
            return role_listed and who.arn in self.arns
        if kind == "role":
            return who.arn in self.arns or (who.account, who.role_name) in self.roles
        return who.arn in self.arns

    def describe(self) -> str:
        if self.wildcard:
            return "*"
        names = sorted(self.accounts) + sorted(self.arns) + sorted(self.services) + sorted(self.others)
        return ", ".join(names)


def _strings(values: object) -> Iterable[str]:
    if isinstance(values, str):
        return (values,)
    if isinstance(values, list):
        return (v for v in values if isinstance(v, str))
    return ()
