"""Privilege escalation: who can become whom, who can rewrite whose permissions, and who reaches admin.

Edges are PMapper's, decided by rolecall's engine (conditions, permissions boundaries, SCPs and trust
policies all apply):

- act-as edges (S can act with T's permissions): sts:AssumeRole (identity side and trust side);
  iam:CreateAccessKey / CreateLoginProfile / UpdateLoginProfile on another user; iam:UpdateAssumeRolePolicy
  (then AssumeRole under a trust policy that names S); iam:PassRole of T to EC2 (RunInstances or
  AssociateIamInstanceProfile, with an instance profile or the rights to make one), Lambda (CreateFunction
  and InvokeFunction or CreateEventSourceMapping), Auto Scaling (CreateAutoScalingGroup with a launch
  configuration or template) or CloudFormation (CreateStack); lambda:UpdateFunctionCode of a function whose
  role is T (when the functions are known).
- grant edges (S can give T any permission): Put/Attach{User,Group,Role}Policy on T or T's group,
  CreatePolicyVersion / SetDefaultPolicyVersion of a customer managed policy T has. When T has a
  permissions boundary the grant raises T only within it, so the edge also needs the right to delete or
  replace the boundary.

The work is kept linear in the size of the answer: each principal's policies are first screened for the
actions above (one pass over their statements), and a principal that may do one is matched only against the
targets its statements' Resource patterns can name (exact ARNs by set lookup, prefixes by bisection in a
sorted index), each candidate then decided by the engine.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rolecall.policy import Policy
from rolecall.policy.conditions import conditions_hold
from rolecall.policy.request import normalize_context
from rolecall.policy.variables import parse_template

from .account import Account, Principal
from .checks import Asker, Check

ADMIN = "admin"
# Allowed all of these on every resource: an administrator (AdministratorAccess, "*" on "*", ...).
ADMIN_PROBES = (
    "iam:AttachRolePolicy",
    "iam:CreateUser",
    "sts:AssumeRole",
    "s3:GetObject",
    "ec2:RunInstances",
    "kms:Decrypt",
    "lambda:InvokeFunction",
    "secretsmanager:GetSecretValue",
    "dynamodb:Scan",
    "organizations:DescribeOrganization",
)

ACT_KINDS = {
    "assume-role": "can assume the role (sts:AssumeRole)",
    "create-access-key": "can create an access key for the user (iam:CreateAccessKey)",
    "create-login-profile": "can set a console password for the user (iam:CreateLoginProfile)",
    "update-login-profile": "can change the user's console password (iam:UpdateLoginProfile)",
    "update-assume-role-policy": "can rewrite the role's trust policy to trust itself, then assume it",
    "passrole-ec2": "can launch an EC2 instance with the role and read its credentials",
    "passrole-lambda": "can create a Lambda function with the role and run it",
    "passrole-autoscaling": "can make an Auto Scaling group launch instances with the role",
    "passrole-cloudformation": "can create a CloudFormation stack that acts with the role",
    "lambda-update-code": "can replace the code of a Lambda function that runs with the role",
}
GRANT_KINDS = {
    "put-user-policy": "can put an inline policy on the user",
    "attach-user-policy": "can attach a managed policy to the user",
    "put-group-policy": "can put an inline policy on a group of the user",
    "attach-group-policy": "can attach a managed policy to a group of the user",
    "put-role-policy": "can put an inline policy on the role",
    "attach-role-policy": "can attach a managed policy to the role",
    "create-policy-version": "can write a new default version of a managed policy it has",
    "set-default-policy-version": "can switch a managed policy it has to another version",
}

# The actions that can make an edge, lower-cased, and their services (for the first screening).
EDGE_ACTIONS = (
    "sts:assumerole",
    "iam:createaccesskey",
    "iam:createloginprofile",
    "iam:updateloginprofile",
    "iam:updateassumerolepolicy",
    "iam:passrole",
    "lambda:updatefunctioncode",
    "iam:putuserpolicy",
    "iam:attachuserpolicy",
    "iam:putgrouppolicy",
    "iam:attachgrouppolicy",
    "iam:putrolepolicy",
    "iam:attachrolepolicy",
    "iam:createpolicyversion",
    "iam:setdefaultpolicyversion",
)
_SCREEN_SERVICES = frozenset({"iam", "sts", "lambda"})
_RESOURCE_TAG_KEYS = ("aws:resourcetag/", "iam:resourcetag/")
SERVICES = {
    "ec2": "ec2.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
    "cloudformation": "cloudformation.amazonaws.com",
}


@dataclass
class Edge:
    source: str
    target: str
    kind: str
    checks: list[Check]
    via: str | None = None  # the group, managed policy or function the edge goes through

    @property
    def grant(self) -> bool:
        return self.kind in GRANT_KINDS

    def describe(self) -> str:
        text = GRANT_KINDS.get(self.kind) or ACT_KINDS[self.kind]
        return text + (f" ({self.via})" if self.via else "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "description": self.describe(),
            "steps": [c.to_json() for c in self.checks],
        }
        if self.via:
            out["via"] = self.via
        return out


@dataclass
class AdminReason:
    """Why a principal is an administrator: allowed everything, or it can grant itself anything."""

    principal: str
    direct: bool
    checks: list[Check] = field(default_factory=list)
    grant: Edge | None = None  # the grant edge (onto itself or a principal it can become)
    reach: list[Edge] = field(default_factory=list)  # from the principal to the grant's target


class ArnIndex:
    """ARNs of one kind of target, for "which of these can this Resource pattern name?"."""

    def __init__(self, arns: Iterable[str]) -> None:
        self.sorted = sorted(set(arns))
        self.exact = frozenset(self.sorted)

    def matching(self, pattern: str) -> Iterable[str]:
        cut = len(pattern)
        for ch in "*?$":
            pos = pattern.find(ch)
            if pos != -1:
                cut = min(cut, pos)
        if cut == len(pattern):
            return (pattern,) if pattern in self.exact else ()
        prefix = pattern[:cut]
        if not prefix:
            return self.sorted
        lo = bisect.bisect_left(self.sorted, prefix)
        hi = bisect.bisect_left(self.sorted, prefix + "\U0010ffff")
        return self.sorted[lo:hi]


def _raw_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _may_matter(policy: Policy) -> bool:
    """Could any Allow statement of this policy grant an edge action? (A cheap screen on the raw text.)"""
    for st in policy.statements:
        if st.is_deny:
            continue
        if st.not_action:
            return True
        for a in _raw_list(st.raw.get("Action")):
            service = a.lower().split(":", 1)[0]
            if service in _SCREEN_SERVICES or "*" in service or "?" in service:
                return True
    return False


class Escalation:
    """Builds the edge lists and the admin set for an account."""

    def __init__(self, account: Account, asker: Asker, region: str = "us-east-1") -> None:
        self.account = account
        self.asker = asker
        self.region = region
        self.by_arn = account.by_arn()
        users = [p for p in account.principals if p.kind == "user"]
        roles = [p for p in account.principals if p.kind == "role"]
        self.users = ArnIndex(p.arn for p in users)
        self.roles = ArnIndex(p.arn for p in roles)
        self.groups = ArnIndex(g.arn for g in account.groups.values())
        self.group_by_arn = {g.arn: g for g in account.groups.values()}
        customer = [m for m in account.managed.values() if not m.arn.startswith("arn:aws:iam::aws:")]
        self.policies = ArnIndex(m.arn for m in customer)
        self.holders: dict[str, list[str]] = {}
        for p in account.principals:
            for arn in p.managed:
                self.holders.setdefault(arn, []).append(p.arn)
        self.functions = ArnIndex(f.arn for f in account.functions)
        self.function_role = {f.arn: f.role for f in account.functions}
        self._screen: dict[int, bool] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._contexts: dict[tuple[str, bool], list[dict[str, tuple[str, ...]]]] = {}
        self._trust_direct: dict[str, set[str]] = {}
        self._trust_open: set[str] = set()
        for r in roles:
            self._index_trust(r)
        self.edges: list[Edge] = []
        self.admins: dict[str, AdminReason] = {}

    # -- candidates -----------------------------------------------------------------------------------------

    def _index_trust(self, role: Principal) -> None:
        """Principals a role's trust policy names outright: they need no identity-based allow to assume it."""
        if role.trust is None:
            return
        for st in role.trust.candidates("sts:assumerole").allows:
            spec = st.principal
            if spec is None:
                continue
            if st.not_principal or spec.wildcard:
                self._trust_open.add(role.arn)
                continue
            for arn in spec.arns:
                self._trust_direct.setdefault(arn, set()).add(role.arn)
            for account, name in spec.roles:
                self._trust_direct.setdefault(f"role:{account}:{name}", set()).add(role.arn)

    def tags(self, arn: str) -> dict[str, str]:
        """A user's or role's tags as the resource-tag keys of a request on it (for ABAC conditions)."""
        found = self._tags.get(arn)
        if found is None:
            t = self.by_arn.get(arn)
            found = {}
            for key, value in (t.tags if t is not None else {}).items():
                found[f"aws:ResourceTag/{key}"] = value
                found[f"iam:ResourceTag/{key}"] = value
            self._tags[arn] = found
        return found

    def screened(self, p: Principal) -> bool:
        for policy in p.policies:
            key = id(policy)
            found = self._screen.get(key)
            if found is None:
                found = self._screen[key] = _may_matter(policy)
            if found:
                return True
        return False

    def contexts(self, p: Principal, action: str) -> list[dict[str, tuple[str, ...]]]:
        """The normalized request contexts p's requests for `action` carry here (PassRole: one per service)."""
        key = (p.arn, action == "iam:passrole")
        found = self._contexts.get(key)
        if found is None:
            base = self.asker.context(p)
            if key[1]:
                found = [normalize_context({**base, "iam:PassedToService": s}) for s in SERVICES.values()]
            else:
                found = [normalize_context(base)]
            self._contexts[key] = found
        return found

    def candidates(self, p: Principal, action: str, index: ArnIndex) -> Iterable[str]:
        """Targets of `index` that some Allow statement of p's for `action` could name (a superset).

        Besides the target's tags, the audit's requests carry no resource-specific context key, so a
        statement whose conditions fail on p's context (and do not look at tags) fails for every target and is
        passed over; policy variables are filled in from it."""
        found: set[str] = set()
        contexts = self.contexts(p, action)
        for policy in p.policies:
            for st in policy.candidates(action).allows:
                if (
                    st.conditions
                    and not any(c.key.startswith(_RESOURCE_TAG_KEYS) for c in st.conditions)
                    and not any(conditions_hold(st.conditions, ctx) for ctx in contexts)
                ):
                    continue  # (a condition on the target's tags is left to the engine, target by target)
                if st.not_resource or st.resources.any:
                    return index.sorted
                for pattern in _raw_list(st.raw.get("Resource")):
                    if "${" in pattern and policy.variables:
                        template = parse_template(pattern)
                        if template is not None:
                            for ctx in contexts:
                                text = template.resolve_text(ctx)
                                if text is not None:
                                    found.update(index.matching(text))
                            continue
                    found.update(index.matching(pattern))
        return sorted(found)

    # -- edges ------------------------------------------------------------------------------------------------

    def run(self) -> None:
        for p in self.account.principals:
            self.admin_check(p)
        for p in self.account.principals:
            if p.arn not in self.admins:  # an administrator's edges add nothing: it can do it all already
                self.edges.extend(self.edges_from(p))
        self._grant_admins()

    def admin_check(self, p: Principal) -> None:
        checks = []
        for action in ADMIN_PROBES:
            c = self.asker.ask(p, action, "*")
            if not c.allowed:
                return
            checks.append(c)
        self.admins[p.arn] = AdminReason(p.arn, True, checks[:1])

    def edges_from(self, s: Principal) -> Iterator[Edge]:
        if s.service_linked:
            return  # AWS's own roles: only their service acts with them
        trusted = set(self._trust_direct.get(s.arn, ()))
        if s.kind == "role":
            trusted |= self._trust_direct.get(f"role:{s.account}:{s.name}", set())
        trusted |= self._trust_open
        if not self.screened(s):
            # No edge action in its policies: only a trust policy naming it outright can lead anywhere.
            yield from self._assume(s, sorted(trusted))
            return
        yield from self._assume(s, sorted(trusted.union(self.candidates(s, "sts:assumerole", self.roles))))
        yield from self._credentials(s)
        yield from self._trust_rewrite(s)
        yield from self._pass_role(s)
        yield from self._function_code(s)
        yield from self._grants(s)

    def _assume(self, s: Principal, roles: Iterable[str]) -> Iterator[Edge]:
        for arn in roles:
            t = self.by_arn.get(arn)
            if t is None or t.arn == s.arn or t.trust is None or t.service_linked:
                continue
            c = self.asker.ask(s, "sts:AssumeRole", t.arn, extra=self.tags(t.arn), resource_policy=t.trust)
            if c.allowed:
                yield Edge(s.arn, t.arn, "assume-role", [c])

    def _credentials(self, s: Principal) -> Iterator[Edge]:
        for action, kind in (
            ("iam:CreateAccessKey", "create-access-key"),
            ("iam:CreateLoginProfile", "create-login-profile"),
            ("iam:UpdateLoginProfile", "update-login-profile"),
        ):
            for arn in self.candidates(s, action.lower(), self.users):
                if arn == s.arn:
                    continue
                c = self.asker.ask(s, action, arn, extra=self.tags(arn))
                if c.allowed:
                    yield Edge(s.arn, arn, kind, [c])

    def _trust_rewrite(self, s: Principal) -> Iterator[Edge]:
        targets = self.candidates(s, "iam:updateassumerolepolicy", self.roles)
        if not targets:
            return
        for arn in targets:
            t = self.by_arn[arn]
            if t.arn == s.arn or t.service_linked:
                continue
            c = self.asker.ask(s, "iam:UpdateAssumeRolePolicy", arn, extra=self.tags(arn))
            if not c.allowed:
                continue
            rewritten = Policy.parse(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": s.arn}, "Action": "sts:AssumeRole"}
                    ],
                },
                kind="trust",
                name=f"trust policy of role/{t.name} as rewritten by {s.arn}",
            )
            then = self.asker.ask(s, "sts:AssumeRole", arn, extra=self.tags(arn), resource_policy=rewritten)
            if then.allowed:
                yield Edge(s.arn, arn, "update-assume-role-policy", [c, then])

    def _service_trusts(self, t: Principal, service: str) -> Check | None:
        if t.trust is None:
            return None
        c = self.asker.ask_as(
            service, "sts:AssumeRole", t.arn, t.trust, {"aws:SourceAccount": self.account.id}
        )
        return c if c.allowed else None

    def _first(self, s: Principal, *options: tuple[str, str]) -> Check | None:
        for action, resource in options:
            c = self.asker.ask(s, action, resource)
            if c.allowed:
                return c
        return None

    def _pass_role(self, s: Principal) -> Iterator[Edge]:
        targets = self.candidates(s, "iam:passrole", self.roles)
        if not targets:
            return
        region, acct = self.region, self.account.id
        instance = f"arn:aws:ec2:{region}:{acct}:instance/*"
        launch: dict[str, list[Check] | None] = {}

        def service_steps(kind: str) -> list[Check] | None:
            if kind in launch:
                return launch[kind]
            steps: list[Check] | None = None
            if kind == "ec2":
                c = self._first(
                    s, ("ec2:RunInstances", instance), ("ec2:AssociateIamInstanceProfile", instance)
                )
                steps = [c] if c else None
            elif kind == "lambda":
                fn = f"arn:aws:lambda:{region}:{acct}:function:*"
                create = self._first(s, ("lambda:CreateFunction", fn))
                run = self._first(s, ("lambda:InvokeFunction", fn), ("lambda:CreateEventSourceMapping", "*"))
                steps = [create, run] if create and run else None
            elif kind == "autoscaling":
                group = f"arn:aws:autoscaling:{region}:{acct}:autoScalingGroup:*:autoScalingGroupName/*"
                config = (
                    f"arn:aws:autoscaling:{region}:{acct}:launchConfiguration:*:launchConfigurationName/*"
                )
                template = f"arn:aws:ec2:{region}:{acct}:launch-template/*"
                make = self._first(
                    s,
                    ("autoscaling:CreateLaunchConfiguration", config),
                    ("ec2:CreateLaunchTemplate", template),
                )
                asg = self._first(s, ("autoscaling:CreateAutoScalingGroup", group))
                steps = [make, asg] if make and asg else None
            elif kind == "cloudformation":
                c = self._first(
                    s, ("cloudformation:CreateStack", f"arn:aws:cloudformation:{region}:{acct}:stack/*/*")
                )
                steps = [c] if c else None
            launch[kind] = steps
            return steps

        for arn in targets:
            t = self.by_arn[arn]
            if t.arn == s.arn or t.service_linked:
                continue
            for kind, service in (
                ("ec2", "ec2"),
                ("autoscaling", "ec2"),
                ("lambda", "lambda"),
                ("cloudformation", "cloudformation"),
            ):
                principal = SERVICES[service]
                steps = service_steps(kind)
                if steps is None:
                    continue
                trusts = self._service_trusts(t, principal)
                if trusts is None:
                    continue
                passed = self.asker.ask(
                    s, "iam:PassRole", arn, extra={**self.tags(arn), "iam:PassedToService": principal}
                )
                if not passed.allowed:
                    continue
                profile: list[Check] = []
                if service == "ec2" and not t.instance_profiles:
                    # Without an instance profile the role cannot go on an instance unless S can make one.
                    ip = f"arn:aws:iam::{acct}:instance-profile/*"
                    make = self.asker.ask(s, "iam:CreateInstanceProfile", ip)
                    add = self.asker.ask(s, "iam:AddRoleToInstanceProfile", ip)
                    if not (make.allowed and add.allowed):
                        continue
                    profile = [make, add]
                yield Edge(s.arn, arn, f"passrole-{kind}", [passed, *profile, *steps, trusts])

    def _function_code(self, s: Principal) -> Iterator[Edge]:
        if not self.function_role:
            return
        for arn in self.candidates(s, "lambda:updatefunctioncode", self.functions):
            role = self.function_role[arn]
            if role == s.arn or role not in self.by_arn:
                continue
            c = self.asker.ask(s, "lambda:UpdateFunctionCode", arn)
            if c.allowed:
                yield Edge(s.arn, role, "lambda-update-code", [c], via=arn)

    def _boundary_release(self, s: Principal, t: Principal) -> list[Check] | None:
        """With a boundary on t, a grant only counts if s can also delete or replace the boundary."""
        if t.boundary is None:
            return []
        noun = "User" if t.kind == "user" else "Role"
        for action in (f"iam:Delete{noun}PermissionsBoundary", f"iam:Put{noun}PermissionsBoundary"):
            c = self.asker.ask(s, action, t.arn, extra=self.tags(t.arn))
            if c.allowed:
                return [c]
        return None

    def _grants(self, s: Principal) -> Iterator[Edge]:
        for action, kind, index in (
            ("iam:PutUserPolicy", "put-user-policy", self.users),
            ("iam:AttachUserPolicy", "attach-user-policy", self.users),
            ("iam:PutRolePolicy", "put-role-policy", self.roles),
            ("iam:AttachRolePolicy", "attach-role-policy", self.roles),
        ):
            for arn in self.candidates(s, action.lower(), index):
                t = self.by_arn[arn]
                if t.service_linked:
                    continue
                c = self.asker.ask(s, action, arn, extra=self.tags(arn))
                if c.allowed:
                    release = self._boundary_release(s, t)
                    if release is not None:
                        yield Edge(s.arn, arn, kind, [c, *release])
        for action, kind in (
            ("iam:PutGroupPolicy", "put-group-policy"),
            ("iam:AttachGroupPolicy", "attach-group-policy"),
        ):
            for garn in self.candidates(s, action.lower(), self.groups):
                c = self.asker.ask(s, action, garn)
                if not c.allowed:
                    continue
                group = self.group_by_arn[garn]
                for member in group.members:
                    release = self._boundary_release(s, self.by_arn[member])
                    if release is not None:
                        yield Edge(s.arn, member, kind, [c, *release], via=f"group/{group.name}")
        for action, kind in (
            ("iam:CreatePolicyVersion", "create-policy-version"),
            ("iam:SetDefaultPolicyVersion", "set-default-policy-version"),
        ):
            for parn in self.candidates(s, action.lower(), self.policies):
                mp = self.account.managed.get(parn)
                if mp is None or (kind == "set-default-policy-version" and mp.version_count < 2):
                    continue
                holders = self.holders.get(parn)
                if not holders:
                    continue
                c = self.asker.ask(s, action, parn)
                if not c.allowed:
                    continue
                for holder in holders:
                    t = self.by_arn[holder]
                    if t.service_linked:
                        continue
                    release = self._boundary_release(s, t)
                    if release is not None:
                        yield Edge(s.arn, holder, kind, [c, *release], via=mp.name)

    # -- the graph ---------------------------------------------------------------------------------------------

    def act_edges(self) -> dict[str, list[Edge]]:
        out: dict[str, list[Edge]] = {}
        for e in self.edges:
            if not e.grant:
                out.setdefault(e.source, []).append(e)
        return out

    def _path(self, adjacency: dict[str, list[Edge]], start: str, goal: str) -> list[Edge] | None:
        if start == goal:
            return []
        back: dict[str, Edge] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            node = queue.popleft()
            for e in adjacency.get(node, ()):
                if e.target in seen:
                    continue
                seen.add(e.target)
                back[e.target] = e
                if e.target == goal:
                    path, node = [], goal
                    while node != start:
                        step = back[node]
                        path.append(step)
                        node = step.source
                    return path[::-1]
                queue.append(e.target)
        return None

    def _grant_admins(self) -> None:
        """A principal that can grant itself (or a principal it can become) anything is an admin."""
        adjacency = self.act_edges()
        for e in self.edges:
            if not e.grant or e.source in self.admins:
                continue
            reach = self._path(adjacency, e.source, e.target)
            if reach is not None:
                self.admins[e.source] = AdminReason(e.source, False, grant=e, reach=reach)

    def paths_to_admin(self) -> dict[str, list[Edge]]:
        """For each principal that is not an admin but can become one: a shortest chain of act-as edges
        to an admin (one breadth-first search backwards from every admin at once)."""
        reverse: dict[str, list[Edge]] = {}
        for e in self.edges:
            if not e.grant:
                reverse.setdefault(e.target, []).append(e)
        nxt: dict[str, Edge] = {}
        queue = deque(sorted(self.admins))
        seen = set(self.admins)
        while queue:
            node = queue.popleft()
            for e in reverse.get(node, ()):
                if e.source not in seen:
                    seen.add(e.source)
                    nxt[e.source] = e
                    queue.append(e.source)
        paths: dict[str, list[Edge]] = {}
        for source in sorted(nxt):
            chain, node = [], source
            while node not in self.admins:
                e = nxt[node]
                chain.append(e)
                node = e.target
            paths[source] = chain
        return paths
