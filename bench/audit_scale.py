"""`rolecall audit` at scale: a synthetic account of 10,000 principals and 50,000 policies with planted
escalation paths, audited from its GetAccountAuthorizationDetails export; every planted path must be found
and no other edge. With PMapper and Cloudsplaining installed (pip install principalmapper cloudsplaining;
--peers-python to run them from another environment), they analyse the same export in the same run.

    python bench/audit_scale.py                           # 10,000 principals, 50,000 policies
    python bench/audit_scale.py --principals 1000 --policies 5000 --chains 40
    python bench/audit_scale.py --peers-python /path/to/venv/bin/python --peer-timeout 600
    python bench/audit_scale.py --keep account.json       # keep the export

Exit status 1 when a planted path is missed or an edge that was not planted is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

ACCOUNT = "210987654321"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# The last step of each planted chain, in turn: every edge kind that ends at another principal or at itself.
FINAL_KINDS = (
    "assume-role",
    "passrole-ec2",
    "passrole-lambda",
    "passrole-cloudformation",
    "passrole-autoscaling",
    "update-assume-role-policy",
    "create-login-profile",
    "update-login-profile",
    "put-role-policy",
    "attach-role-policy",
    "create-policy-version",
)


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def service_trust(service: str, guarded: bool) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if guarded:
        st["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    return doc(st)


class Builder:
    def __init__(self, seed: int, noise_roles: int) -> None:
        self.rng = random.Random(seed)
        self.users: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        self.managed: list[dict[str, Any]] = []
        self.noise_roles = noise_roles
        self.expected: set[tuple[str, str, str]] = set()
        self.chains: list[tuple[str, list[str]]] = []  # source, expected path targets

    # -- noise that must make no edge --------------------------------------------------------------------

    def noise_statement(self) -> dict[str, Any]:
        r, k = self.rng.random(), self.rng.randrange(self.noise_roles)
        if r < 0.25:
            return allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::bucket-{k}/*")
        if r < 0.40:
            return allow(["dynamodb:GetItem", "dynamodb:Query"], f"arn:aws:dynamodb:*:{ACCOUNT}:table/t-{k}")
        if r < 0.50:
            return allow(["ec2:Describe*", "logs:*", "cloudwatch:PutMetricData"])
        if r < 0.58:
            return allow(["iam:Get*", "iam:List*"])
        if r < 0.66:  # noise roles trust services only: an identity allow alone is no edge
            return allow("sts:AssumeRole", role_arn(f"noise-{k}"))
        if r < 0.74:  # passing to Lambda without a way to run the function
            return allow(
                ["iam:PassRole", "lambda:CreateFunction"],
                [role_arn(f"noise-{k}"), f"arn:aws:lambda:*:{ACCOUNT}:function:*"],
                {"StringEqualsIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}},
            )
        if r < 0.80:  # keys for oneself only
            return allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")
        if r < 0.86:  # with MFA only; the audit judges requests without it
            return allow("iam:CreateAccessKey", "*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        if r < 0.92:  # for principals tagged breakglass, which none is
            return allow(
                ["iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy"],
                "*",
                {"StringEquals": {"aws:PrincipalTag/breakglass": "yes"}},
            )
        return {"Effect": "Deny", "Action": ["iam:Delete*", "s3:DeleteBucket"], "Resource": "*"}

    def noise_doc(self) -> dict[str, Any]:
        return doc(*(self.noise_statement() for _ in range(self.rng.randint(1, 4))))

    def build(self, principals: int, policies: int, chains: int) -> dict[str, Any]:
        rng = self.rng
        chain_principals = chains * 4
        n = principals - chain_principals
        n_roles = min(self.noise_roles, n // 3)
        self.noise_roles = n_roles
        n_users = n - n_roles
        n_groups = 200
        n_managed = policies // 5
        planted_policies = chains * 4  # roughly; the noise fills the rest
        inline_total = policies - n_managed - n_groups - planted_policies
        for k in range(n_managed):
            arn = f"arn:aws:iam::{ACCOUNT}:policy/noise-{k}"
            self.managed.append(self.managed_entry(arn, f"noise-{k}", self.noise_doc()))
        for g in range(n_groups):
            self.groups.append(
                {
                    "Path": "/",
                    "GroupName": f"group-{g}",
                    "GroupId": f"AGPA{g:017d}",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:group/group-{g}",
                    "CreateDate": "2024-01-01T00:00:00Z",
                    "GroupPolicyList": [{"PolicyName": "inline", "PolicyDocument": self.noise_doc()}],
                    "AttachedManagedPolicies": self.attach(1, n_managed),
                }
            )
        per = [inline_total // n + (1 if i < inline_total % n else 0) for i in range(n)]
        for i in range(n_users):
            self.users.append(
                self.user_entry(
                    f"user-{i}",
                    [self.noise_doc() for _ in range(per[i])],
                    self.attach(2, n_managed),
                    [f"group-{rng.randrange(n_groups)}"] if rng.random() < 0.6 else [],
                )
            )
        services = ("lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com")
        for i in range(n_roles):
            trust = service_trust(services[i % 3], guarded=rng.random() < 0.7)
            if i % 10 == 9:  # account-wide trust behind a tag nobody has
                trust = doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/breakglass": "yes"}},
                    }
                )
            self.roles.append(
                self.role_entry(
                    f"noise-{i}",
                    trust,
                    [self.noise_doc() for _ in range(per[n_users + i])],
                    self.attach(2, n_managed),
                    profile=i % 3 == 1,
                )
            )
        for c in range(chains):
            self.plant(c, FINAL_KINDS[c % len(FINAL_KINDS)])
        return {
            "UserDetailList": self.users,
            "GroupDetailList": self.groups,
            "RoleDetailList": self.roles,
            "Policies": self.managed,
        }

    def attach(self, count: int, n_managed: int) -> list[dict[str, str]]:
        picks = {self.rng.randrange(n_managed) for _ in range(count)}
        return [
            {"PolicyName": f"noise-{k}", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/noise-{k}"}
            for k in sorted(picks)
        ]

    @staticmethod
    def managed_entry(arn: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "PolicyName": name,
            "PolicyId": "ANPA" + name.upper().replace("-", ""),
            "Arn": arn,
            "Path": "/",
            "DefaultVersionId": "v1",
            "AttachmentCount": 1,
            "IsAttachable": True,
            "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True}],
        }

    @staticmethod
    def user_entry(
        name: str, inline: list[dict[str, Any]], attached: list[dict[str, str]], groups: list[str]
    ) -> dict[str, Any]:
        return {
            "Path": "/",
            "UserName": name,
            "UserId": "AIDA" + name.upper().replace("-", ""),
            "Arn": user_arn(name),
            "CreateDate": "2024-01-01T00:00:00Z",
            "UserPolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
            "GroupList": groups,
            "AttachedManagedPolicies": attached,
            "Tags": [],
        }

    @staticmethod
    def role_entry(
        name: str,
        trust: dict[str, Any],
        inline: list[dict[str, Any]],
        attached: list[dict[str, str]],
        profile: bool = False,
    ) -> dict[str, Any]:
        return {
            "Path": "/",
            "RoleName": name,
            "RoleId": "AROA" + name.upper().replace("-", ""),
            "Arn": role_arn(name),
            "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": trust,
            "InstanceProfileList": [
                {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}", "InstanceProfileName": name}
            ]
            if profile
            else [],
            "RolePolicyList": [{"PolicyName": f"p{i}", "PolicyDocument": d} for i, d in enumerate(inline)],
            "AttachedManagedPolicies": attached,
            "Tags": [],
            "RoleLastUsed": {"LastUsedDate": "2026-11-01T00:00:00Z"},
        }

    # -- planted chains: src -[create-access-key]-> mid -[assume-role]-> hop -[kind]-> admin ----------------

    def plant(self, c: int, kind: str) -> None:
        src, mid, hop, adm = f"chain{c}-src", f"chain{c}-mid", f"chain{c}-hop", f"chain{c}-admin"
        hop_arn = role_arn(hop)
        self.users.append(self.user_entry(src, [doc(allow("iam:CreateAccessKey", user_arn(mid)))], [], []))
        self.users.append(self.user_entry(mid, [doc(allow("sts:AssumeRole", hop_arn))], [], []))
        self.expected |= {
            (user_arn(src), user_arn(mid), "create-access-key"),
            (user_arn(mid), hop_arn, "assume-role"),
        }
        root_trust = doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        )
        region_fn = f"arn:aws:lambda:*:{ACCOUNT}:function:*"
        hop_doc: dict[str, Any]
        admin_trust = service_trust("ec2.amazonaws.com", guarded=True)
        admin_is_user = kind in ("create-login-profile", "update-login-profile")
        target = user_arn(adm) if admin_is_user else role_arn(adm)
        hop_managed: list[dict[str, str]] = []
        if kind == "assume-role":
            admin_trust = doc({"Effect": "Allow", "Principal": {"AWS": hop_arn}, "Action": "sts:AssumeRole"})
            hop_doc = doc(allow("sts:AssumeRole", target))
        elif kind == "passrole-ec2":
            hop_doc = doc(allow("iam:PassRole", target), allow("ec2:RunInstances"))
        elif kind == "passrole-autoscaling":
            hop_doc = doc(
                allow("iam:PassRole", target),
                allow(["autoscaling:CreateAutoScalingGroup", "ec2:CreateLaunchTemplate"]),
            )
        elif kind == "passrole-lambda":
            admin_trust = service_trust("lambda.amazonaws.com", guarded=True)
            hop_doc = doc(
                allow("iam:PassRole", target),
                allow(["lambda:CreateFunction", "lambda:InvokeFunction"], region_fn),
            )
        elif kind == "passrole-cloudformation":
            admin_trust = service_trust("cloudformation.amazonaws.com", guarded=True)
            hop_doc = doc(allow("iam:PassRole", target), allow("cloudformation:CreateStack"))
        elif kind == "update-assume-role-policy":
            hop_doc = doc(allow("iam:UpdateAssumeRolePolicy", target))
        elif kind == "create-login-profile":
            hop_doc = doc(allow("iam:CreateLoginProfile", target))
        elif kind == "update-login-profile":
            hop_doc = doc(allow("iam:UpdateLoginProfile", target))
        elif kind in ("put-role-policy", "attach-role-policy"):
            action = "iam:PutRolePolicy" if kind == "put-role-policy" else "iam:AttachRolePolicy"
            hop_doc = doc(allow(action, hop_arn))
        else:  # create-policy-version on a managed policy the hop role has
            parn = f"arn:aws:iam::{ACCOUNT}:policy/{hop}-own"
            self.managed.append(self.managed_entry(parn, f"{hop}-own", doc(allow("s3:ListAllMyBuckets"))))
            hop_managed = [{"PolicyName": f"{hop}-own", "PolicyArn": parn}]
            hop_doc = doc(allow("iam:CreatePolicyVersion", parn))
        self.roles.append(self.role_entry(hop, root_trust, [hop_doc], hop_managed))
        if kind in ("put-role-policy", "attach-role-policy", "create-policy-version"):
            # The hop role can grant itself anything: it is the administrator the chain reaches.
            self.expected.add((hop_arn, hop_arn, kind))
            self.users.append(
                self.user_entry(adm, [doc(allow("s3:GetObject", "arn:aws:s3:::nothing/*"))], [], [])
            )
            self.chains.append((user_arn(src), [user_arn(mid), hop_arn]))
            return
        self.expected.add((hop_arn, target, kind))
        if admin_is_user:
            self.users.append(self.user_entry(adm, [ADMIN], [], []))
        else:
            self.roles.append(
                self.role_entry(
                    adm,
                    admin_trust,
                    [ADMIN],
                    [],
                    profile=kind == "passrole-ec2" or kind == "passrole-autoscaling",
                )
            )
        self.chains.append((user_arn(src), [user_arn(mid), hop_arn, target]))


def count_policies(details: dict[str, Any]) -> int:
    inline = sum(len(u["UserPolicyList"]) for u in details["UserDetailList"])
    inline += sum(len(r["RolePolicyList"]) for r in details["RoleDetailList"])
    inline += sum(len(g["GroupPolicyList"]) for g in details["GroupDetailList"])
    return inline + len(details["Policies"])


PMAPPER_SCRIPT = r"""
import collections, collections.abc, json, sys, time
# PMapper 1.1.5 imports collections.Mapping, gone since Python 3.10.
collections.Mapping, collections.MutableMapping = collections.abc.Mapping, collections.abc.MutableMapping
from principalmapper.graphing import gathering
from principalmapper.graphing.edge_identification import obtain_edges
data = json.load(open(sys.argv[1]))
class Paginator:
    def __init__(self, name):
        self.name = name
    def paginate(self, **kw):
        yield data if self.name == "get_account_authorization_details" else {"VirtualMFADevices": []}
class Client:
    # IAM as the export shows it: the account's details; no access keys, console passwords or MFA devices
    # (the export does not say, and rolecall does not assume them either).
    def get_paginator(self, name):
        return Paginator(name)
    def list_access_keys(self, **kw):
        return {"AccessKeyMetadata": []}
    def get_login_profile(self, **kw):
        raise RuntimeError("NoSuchEntity")
    def list_mfa_devices(self, **kw):
        return {"MFADevices": []}
t0 = time.process_time()
found = gathering.get_nodes_groups_and_policies(Client())
nodes = found["nodes"]
gathering.update_admin_status(nodes)
t1 = time.process_time()
edges = obtain_edges(None, sys.argv[2].split(","), nodes)
t2 = time.process_time()
print(json.dumps({"load": t1 - t0, "analyse": t2 - t1, "admins": [n.arn for n in nodes if n.is_admin],
                  "edges": [[e.source.arn, e.destination.arn, e.reason] for e in edges]}))
"""


def run_peer(cmd: list[str], timeout: float) -> tuple[str, float, str]:
    started = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started, ""
    except OSError as exc:
        return f"cannot run: {exc}", 0.0, ""
    status = (
        "ok" if out.returncode == 0 else f"failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}"
    )
    return status, time.perf_counter() - started, out.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--principals", type=int, default=10_000)
    ap.add_argument("--policies", type=int, default=50_000)
    ap.add_argument("--chains", type=int, default=110, help="planted escalation chains (4 principals each)")
    ap.add_argument("--noise-roles", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--keep", metavar="FILE", help="write the export here and keep it")
    ap.add_argument(
        "--peers-python", default=sys.executable, help="the Python that has principalmapper/cloudsplaining"
    )
    ap.add_argument("--peer-timeout", type=float, default=900.0, help="seconds each peer may take (wall)")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()

    from rolecall.review import load_account, run_audit

    b = Builder(args.seed, args.noise_roles)
    details = b.build(args.principals, args.policies, args.chains)
    principals = len(details["UserDetailList"]) + len(details["RoleDetailList"])
    print(
        f"account: {principals:,} principals ({len(details['UserDetailList']):,} users, {len(details['RoleDetailList']):,} roles), "
        f"{count_policies(details):,} policies ({len(details['Policies']):,} managed), {len(details['GroupDetailList'])} groups, "
        f"{len(b.chains)} planted chains, {len(b.expected)} planted edges"
    )
    path = args.keep or tempfile.mktemp(suffix=".json", prefix="rolecall-audit-")
    with open(path, "w") as f:
        json.dump(details, f)
    print(f"export: {os.path.getsize(path) / 1e6:.1f} MB at {path}")

    w0 = time.perf_counter()
    t0 = time.process_time()
    with open(path) as f:
        data = json.load(f)
    t1 = time.process_time()
    account = load_account(data)
    t2 = time.process_time()
    audit = run_audit(account)
    t3 = time.process_time()
    wall = time.perf_counter() - w0
    print(
        f"rolecall: read JSON {t1 - t0:.2f} s, parse+compile {t2 - t1:.2f} s, analyse {t3 - t2:.2f} s, "
        f"total {t3 - t0:.2f} s CPU (one core), {wall:.2f} s wall"
    )
    found = {(e.source, e.target, e.kind) for e in audit.edges}
    missing = b.expected - found
    extra = found - b.expected
    path_misses = []
    for source, targets in b.chains:
        got = [e.target for e in audit.paths.get(source, [])]
        if got != targets:
            path_misses.append((source, targets, got))
    print(
        f"rolecall: {len(found)} edges, {len(audit.admins)} admins, {len(audit.paths)} principals with a path to admin; "
        f"planted edges found {len(b.expected) - len(missing)}/{len(b.expected)}, edges not planted {len(extra)}, "
        f"planted paths found {len(b.chains) - len(path_misses)}/{len(b.chains)}"
    )
    for item in sorted(missing)[:10]:
        print("  MISSING", item)
    for item in sorted(extra)[:10]:
        print("  NOT PLANTED", item)
    for item in path_misses[:10]:
        print("  PATH", item)
    if account.problems:
        print(f"  {len(account.problems)} problems, e.g. {account.problems[:3]}")

    if not args.no_peers:
        code = "import principalmapper"
        if subprocess.run([args.peers_python, "-c", code], capture_output=True).returncode == 0:
            checkers = "iam,sts,ec2"
            status, secs, out = run_peer(
                [args.peers_python, "-c", PMAPPER_SCRIPT, path, checkers], args.peer_timeout
            )
            if status == "ok":
                result = json.loads(out.strip().splitlines()[-1])
                admins = set(result["admins"])
                # An administrator's own edges are no escalation (rolecall does not list them): left out.
                pm_edges = {(x, y) for x, y, _ in result["edges"] if x not in admins}
                with_mfa = {(x, y) for x, y, why in result["edges"] if x not in admins and "MFA" in why}
                planted = {(x, y) for x, y, _ in b.expected if x != y}
                print(
                    f"PMapper 1.1.5 ({checkers} edge checkers): {secs:.1f} s wall, load {result['load']:.1f} s + "
                    f"edges {result['analyse']:.1f} s CPU; {len(pm_edges)} edges, {len(admins)} admins; "
                    f"planted principal-to-principal edges found {len(planted & pm_edges)}/{len(planted)}, "
                    f"edges not planted {len(pm_edges - planted)} (from non-admins; "
                    f"{len(with_mfa - planted)} of them usable only with MFA, which the bench's requests lack)"
                )
            else:
                print(f"PMapper 1.1.5: {status} after {secs:.1f} s wall")
        else:
            print("PMapper: not installed (pip install principalmapper)")
        if (
            subprocess.run([args.peers_python, "-c", "import cloudsplaining"], capture_output=True).returncode
            == 0
        ):
            with tempfile.TemporaryDirectory() as out_dir:
                cli = [args.peers_python, "-c", "from cloudsplaining.bin.cli import main; main()"]
                status, secs, _ = run_peer(
                    [*cli, "scan", "--input-file", path, "--output", out_dir, "--skip-open-report"],
                    args.peer_timeout,
                )
            print(f"Cloudsplaining (scan): {status}, {secs:.1f} s wall")
        else:
            print("Cloudsplaining: not installed (pip install cloudsplaining)")
    if not args.keep:
        os.unlink(path)
    return 1 if missing or extra or path_misses else 0


if __name__ == "__main__":
    sys.exit(main())
