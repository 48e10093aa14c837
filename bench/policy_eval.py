"""Policy evaluation throughput: rolecall's engine against moto's IAM evaluator, in the same run.

    python bench/policy_eval.py [--requests N] [--seed S] [--repeat K]

Builds (deterministically, from --seed) one principal holding 10 identity policies of 10 statements
each, and N (action, resource) requests drawn from a mix of S3, EC2, IAM, DynamoDB, Lambda, KMS, SQS,
Logs and SNS calls. Both engines decide every request; the script checks they agree on every
decision and prints both rates and their ratio. Exits 1 listing the requests where they disagree.

moto's evaluator models only part of IAM, so the workload stays inside what both model alike
(see bench/README.md): no NotResource, `?` only next to the literal action it stands for,
no regex metacharacters in patterns, action names in their canonical case, and conditions that hold
for every request (moto's identity path never consults request context).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run from a checkout without installing: `python bench/policy_eval.py`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: E402

from rolecall.policy import Policy, Request, evaluate  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
POLICY_COUNT = 10
STATEMENTS_PER_POLICY = 10
TARGET_RATIO = 50

MOTO_DECISIONS = {
    PermissionResult.PERMITTED: "allowed",
    PermissionResult.DENIED: "explicitDeny",
    PermissionResult.NEUTRAL: "implicitDeny",
}

# --- the request mix ----------------------------------------------------------------------------------

# service -> (weight, [(action, resource kind)]); weights give a plausible spread of traffic.
SERVICES: dict[str, tuple[int, list[tuple[str, str]]]] = {
    "s3": (
        30,
        [
            ("GetObject", "object"),
            ("GetObject", "object"),
            ("PutObject", "object"),
            ("DeleteObject", "object"),
            ("GetObjectTagging", "object"),
            ("ListBucket", "bucket"),
            ("GetBucketPolicy", "bucket"),
            ("PutBucketPolicy", "bucket"),
        ],
    ),
    "ec2": (
        15,
        [
            ("DescribeInstances", "any"),
            ("DescribeVolumes", "any"),
            ("DescribeSecurityGroups", "any"),
            ("RunInstances", "instance"),
            ("StartInstances", "instance"),
            ("StopInstances", "instance"),
            ("TerminateInstances", "instance"),
        ],
    ),
    "iam": (
        15,
        [
            ("GetRole", "role"),
            ("PassRole", "role"),
            ("CreateRole", "role"),
            ("DeleteRole", "role"),
            ("AttachRolePolicy", "role"),
            ("ListRoles", "any"),
            ("GetUser", "user"),
            ("CreateAccessKey", "user"),
        ],
    ),
    "dynamodb": (
        12,
        [
            ("GetItem", "table"),
            ("GetItem", "table"),
            ("PutItem", "table"),
            ("Query", "table"),
            ("Scan", "table"),
            ("DeleteItem", "table"),
            ("DeleteTable", "table"),
        ],
    ),
    "lambda": (
        8,
        [("InvokeFunction", "function"), ("GetFunction", "function"), ("DeleteFunction", "function")],
    ),
    "kms": (
        8,
        [("Decrypt", "key"), ("Encrypt", "key"), ("GenerateDataKey", "key"), ("ScheduleKeyDeletion", "key")],
    ),
    "sqs": (6, [("SendMessage", "queue"), ("ReceiveMessage", "queue"), ("DeleteQueue", "queue")]),
    "logs": (4, [("PutLogEvents", "log-group"), ("CreateLogStream", "log-group")]),
    "sns": (2, [("Publish", "topic")]),
}

ROLE_PREFIXES = ("app-", "app-", "admin-", "ci-", "svc-")
KEY_IDS = [f"{n:08x}-1b2c-4d3e-8f90-{n * 7919:012x}" for n in range(6)]


def random_resource(rng: random.Random, kind: str) -> str:
    match kind:
        case "object":
            folder = rng.choice(("public", "private", "logs", "data"))
            return f"arn:aws:s3:::bucket-{rng.randrange(10)}/{folder}/obj-{rng.randrange(1000)}"
        case "bucket":
            return f"arn:aws:s3:::bucket-{rng.randrange(10)}"
        case "instance":
            region = rng.choice((REGION, REGION, "eu-west-1"))
            return f"arn:aws:ec2:{region}:{ACCOUNT}:instance/i-{rng.getrandbits(64):016x}"
        case "role":
            return f"arn:aws:iam::{ACCOUNT}:role/{rng.choice(ROLE_PREFIXES)}{rng.randrange(50)}"
        case "user":
            return f"arn:aws:iam::{ACCOUNT}:user/user-{rng.randrange(50)}"
        case "table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/table-{rng.randrange(30)}"
        case "function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-{rng.randrange(20)}"
        case "key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{rng.choice(KEY_IDS)}"
        case "queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue-{rng.randrange(10)}"
        case "log-group":
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:app-{rng.randrange(5)}"
        case "topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:topic-{rng.randrange(5)}"
    return "*"


@dataclass(frozen=True)
class BenchRequest:
    action: str
    resource: str
    context: dict[str, str]


def random_context(rng: random.Random) -> dict[str, str]:
    # Every request satisfies every condition in the policies (see CONDITIONS): moto's identity
    # path evaluates conditions without request context, so they always hold there.
    return {
        "aws:RequestedRegion": rng.choice(("us-east-1", "eu-west-1")),
        "aws:SecureTransport": "true",
        "aws:SourceIp": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "aws:PrincipalTag/team": "platform",
        "aws:MultiFactorAuthPresent": "true",
    }


def build_requests(rng: random.Random, count: int) -> list[BenchRequest]:
    services = list(SERVICES)
    weights = [SERVICES[name][0] for name in services]
    requests = []
    for _ in range(count):
        service = rng.choices(services, weights)[0]
        action, kind = rng.choice(SERVICES[service][1])
        requests.append(BenchRequest(f"{service}:{action}", random_resource(rng, kind), random_context(rng)))
    return requests


# --- the policies -------------------------------------------------------------------------------------

# (actions, resources) that may be granted; `?` appears only beside the literal action it stands for.
ALLOW_GRANTS: list[tuple[list[str], list[str]]] = [
    (["s3:Get*"], ["arn:aws:s3:::bucket-3/*"]),
    (["s3:Get*", "s3:List*"], ["arn:aws:s3:::bucket-*/public/*", "arn:aws:s3:::bucket-1"]),
    (["s3:PutObject"], ["arn:aws:s3:::bucket-2/data/*", "arn:aws:s3:::bucket-5/*"]),
    (["s3:*"], ["arn:aws:s3:::bucket-7", "arn:aws:s3:::bucket-7/*"]),
    (["ec2:Describe*"], ["*"]),
    (["ec2:*Instances"], [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"]),
    (["ec2:StartInstances", "ec2:StopInstances"], ["*"]),
    (["iam:*"], [f"arn:aws:iam::{ACCOUNT}:role/app-*"]),
    (["iam:Get*", "iam:List*"], ["*"]),
    (["iam:PassRole"], [f"arn:aws:iam::{ACCOUNT}:role/svc-*"]),
    (
        ["dynamodb:?etItem", "dynamodb:GetItem", "dynamodb:Query"],
        [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*"],
    ),
    (["dynamodb:*"], [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/table-1*"]),
    (["lambda:InvokeFunction", "lambda:GetFunction"], [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-*"]),
    (["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], [f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"]),
    (["sqs:*"], [f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue-*"]),
    (["logs:*"], [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:app-*"]),
    (["*"], ["arn:aws:s3:::bucket-9/*"]),
    (["*"], [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/table-2*"]),
]

DENY_GRANTS: list[tuple[list[str], list[str]]] = [
    (["s3:DeleteObject", "s3:PutBucketPolicy"], ["*"]),
    (["s3:*"], ["arn:aws:s3:::bucket-*/private/*"]),
    (["ec2:TerminateInstances"], ["*"]),
    (["iam:*"], [f"arn:aws:iam::{ACCOUNT}:role/admin-*"]),
    (["iam:CreateAccessKey", "iam:DeleteRole"], ["*"]),
    (["dynamodb:DeleteTable"], ["*"]),
    (["kms:ScheduleKeyDeletion"], ["*"]),
    (["lambda:DeleteFunction"], ["*"]),
]

# Conditions both engines treat as satisfied for every request: moto checks only StringEquals and only
# against context it is given (none on the identity path); rolecall checks all of them for real.
CONDITIONS: list[dict[str, dict[str, Any]]] = [
    {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
    {"StringEquals": {"aws:PrincipalTag/team": "platform"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"StringLike": {"aws:PrincipalTag/team": "plat*"}},
]

# Deny everything outside the services this principal may use (sns:* falls here): a NotAction statement.
OUTSIDE_SERVICES_DENY = {
    "Effect": "Deny",
    "NotAction": ["s3:*", "ec2:*", "iam:*", "dynamodb:*", "lambda:*", "kms:*", "sqs:*", "logs:*"],
    "Resource": "*",
}


def build_policies(rng: random.Random) -> list[dict[str, Any]]:
    documents = []
    for policy_index in range(POLICY_COUNT):
        statements: list[dict[str, Any]] = []
        for index in range(STATEMENTS_PER_POLICY):
            sid = f"P{policy_index}S{index}"
            if policy_index == 0 and index == 0:
                statements.append({"Sid": sid, **OUTSIDE_SERVICES_DENY})
                continue
            deny = rng.random() < 0.2
            actions, resources = rng.choice(DENY_GRANTS if deny else ALLOW_GRANTS)
            statement: dict[str, Any] = {
                "Sid": sid,
                "Effect": "Deny" if deny else "Allow",
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": resources if len(resources) > 1 else resources[0],
            }
            if rng.random() < 0.3:
                statement["Condition"] = rng.choice(CONDITIONS)
            statements.append(statement)
        documents.append({"Version": "2012-10-17", "Statement": statements})
    return documents


# --- the engines --------------------------------------------------------------------------------------


def run_rolecall(policies: Sequence[Policy], requests: Sequence[BenchRequest]) -> list[str]:
    decisions = []
    append = decisions.append
    for item in requests:
        append(
            evaluate(
                Request(action=item.action, resource=item.resource, context=item.context), identity=policies
            ).decision
        )
    return decisions


def moto_decision(policies: Sequence[IAMPolicy], action: str, resource: str) -> PermissionResult:
    # Mirrors moto.iam.access_control.IAMRequestBase.check_action_permitted: the first DENIED policy
    # decides; otherwise any PERMITTED allows; otherwise implicit deny. No context is passed, as there.
    permitted = False
    for policy in policies:
        result = policy.is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return PermissionResult.DENIED
        if result == PermissionResult.PERMITTED:
            permitted = True
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def run_moto(policies: Sequence[IAMPolicy], requests: Sequence[BenchRequest]) -> list[str]:
    decisions = []
    append = decisions.append
    for item in requests:
        append(MOTO_DECISIONS[moto_decision(policies, item.action, item.resource)])
    return decisions


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def measure(
    runs: dict[str, Callable[[], list[str]]], repeat: int, clock: Callable[[], float]
) -> dict[str, tuple[float, list[str]]]:
    """Best time of each engine over `repeat` rounds. The engines take turns within a round, so a
    burst of load on a shared machine does not land on one of them only."""
    best = dict.fromkeys(runs, float("inf"))
    decisions: dict[str, list[str]] = {}
    for _ in range(repeat):
        for name, run in runs.items():
            start = clock()
            decisions[name] = run()
            best[name] = min(best[name], clock() - start)
    return {name: (best[name], decisions[name]) for name in runs}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Policy evaluation rate: rolecall vs moto, same workload.")
    parser.add_argument("--requests", type=int, default=20000, help="requests to evaluate (default 20000)")
    parser.add_argument("--seed", type=int, default=20240917, help="seed for policies and requests")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed rounds; each engine's best is kept (default 3)"
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: this process's CPU time, which other processes' load does not inflate (default); "
        "wall: elapsed time",
    )
    parser.add_argument("--show-mismatches", type=int, default=20, help="mismatches to list (default 20)")
    parser.add_argument("--dump-policies", action="store_true", help="print the generated policies and exit")
    args = parser.parse_args(argv)
    if args.requests <= 0 or args.repeat <= 0:
        parser.error("--requests and --repeat must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    documents = build_policies(rng)
    if args.dump_policies:
        print(json.dumps(documents, indent=2))
        return 0
    requests = build_requests(rng, args.requests)
    texts = [json.dumps(document) for document in documents]

    # Parsing is setup, not part of the measured loop, for both engines.
    rolecall_policies = [
        Policy.parse(text, kind="identity", name=f"policy-{i}") for i, text in enumerate(texts)
    ]
    moto_policies = [IAMPolicy(text) for text in texts]

    warmup = requests[: min(500, len(requests))]
    run_rolecall(rolecall_policies, warmup)
    run_moto(moto_policies, warmup)

    results = measure(
        {
            "rolecall": lambda: run_rolecall(rolecall_policies, requests),
            "moto": lambda: run_moto(moto_policies, requests),
        },
        args.repeat,
        CLOCKS[args.clock],
    )
    rolecall_time, rolecall_decisions = results["rolecall"]
    moto_time, moto_decisions = results["moto"]

    mix = Counter(rolecall_decisions)
    print(
        f"{len(texts)} policies x {STATEMENTS_PER_POLICY} statements, {len(requests):,} requests "
        f"(seed {args.seed}): "
        + ", ".join(f"{name} {mix[name]:,}" for name in ("allowed", "explicitDeny", "implicitDeny"))
    )

    mismatches = [
        (item, ours, theirs)
        for item, ours, theirs in zip(requests, rolecall_decisions, moto_decisions, strict=True)
        if ours != theirs
    ]
    rolecall_rate = len(requests) / rolecall_time
    moto_rate = len(requests) / moto_time
    ratio = rolecall_rate / moto_rate
    print(
        f"rolecall: {rolecall_rate:,.0f} decisions/s  moto: {moto_rate:,.0f} decisions/s  ratio: {ratio:.0f}x"
    )

    if mismatches:
        print(f"{len(mismatches)} decisions differ (rolecall vs moto):", file=sys.stderr)
        for item, ours, theirs in mismatches[: args.show_mismatches]:
            print(f"  {item.action} {item.resource}: rolecall {ours}, moto {theirs}", file=sys.stderr)
        return 1
    if ratio < TARGET_RATIO:
        print(f"warning: ratio {ratio:.1f}x is below the {TARGET_RATIO}x target", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
