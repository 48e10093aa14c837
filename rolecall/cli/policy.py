"""`rolecall policy validate | explain`: the policy engine from the command line.

Both commands only read files and call rolecall.policy; they never start a server or touch a store.
Exit codes are part of the interface (scripts and CI rely on them), so they are spelled out in --help.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

POLICY_KINDS = ("identity", "resource", "trust", "boundary", "session", "scp", "rcp")
STDIN_NAME = "-"

EXIT_OK = 0
EXIT_DENIED_OR_MALFORMED = 1
EXIT_USAGE = 2

VALIDATE_DESCRIPTION = """\
Check IAM policy documents the way IAM's MalformedPolicyDocument checks do.

For each FILE prints "FILE: OK", or one line per problem found, worded as AWS
words it (e.g. "FILE: Syntax errors in policy."). Use - to read one policy
from standard input.
"""

VALIDATE_EPILOG = """\
exit status:
  0  every policy is valid
  1  at least one policy is malformed
  2  a file could not be read (takes precedence over 1), or bad arguments

examples:
  rolecall policy validate role-policy.json
  rolecall policy validate --kind trust trust.json
  cat bucket-policy.json | rolecall policy validate --kind resource -
"""

EXPLAIN_DESCRIPTION = """\
Evaluate one request against a set of policies, as AWS's policy evaluation
logic does, and print the decision with its explanation: which layer allowed
or denied it, which statements (policy file, statement index, Sid) matched,
which conditions failed and which context keys the request lacked.
"""

EXPLAIN_EPILOG = """\
policies:
  Each option takes a file path, or - for standard input (once). Policies are
  named by their path in the explanation. --scp and --rcp may be repeated: each
  occurrence is one level of the organization (root, OU, ..., account) and
  every level must allow; give several policies of one level as a
  comma-separated list (--scp root-full-access.json,root-deny-regions.json).

context keys:
  --context KEY=VALUE sets a request context key such as aws:SourceIp or
  aws:PrincipalTag/team. VALUE is taken literally (commas included). Repeat a
  key to make it multi-valued:
    --context aws:TagKeys=env --context aws:TagKeys=team

exit status:
  0  the request is allowed
  1  the request is denied (explicitly or implicitly)
  2  bad arguments, a file could not be read, or a policy is malformed

example:
  rolecall policy explain --policy admin.json --boundary boundary.json \\
      --action iam:CreateRole --resource arn:aws:iam::123456789012:role/app \\
      --principal arn:aws:iam::123456789012:user/alice \\
      --context aws:RequestedRegion=us-east-1
"""


class CliError(Exception):
    """A problem reported as one message on stderr with exit status 2 (never a traceback)."""


def add_policy_commands(sub: argparse._SubParsersAction) -> None:
    policy = sub.add_parser(
        "policy",
        help="validate policies and explain decisions",
        description="Work with IAM policy documents offline: validate them, explain decisions.",
    )
    policy.set_defaults(func=lambda args: _usage(policy))
    commands = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    _add_validate(commands)
    _add_explain(commands)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _add_validate(commands: argparse._SubParsersAction) -> None:
    validate = commands.add_parser(
        "validate",
        help="check policy documents for MalformedPolicyDocument errors",
        description=VALIDATE_DESCRIPTION,
        epilog=VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="policy document(s); - reads stdin")
    validate.add_argument(
        "--kind",
        choices=POLICY_KINDS,
        default="identity",
        help="where the policy is used; decides which elements are allowed (default: identity)",
    )
    validate.add_argument(
        "--max-size",
        type=_positive_int,
        metavar="N",
        help="size limit in characters, whitespace not counted "
        "(default: IAM's for the kind, e.g. 6144 managed, 2048 trust)",
    )
    validate.set_defaults(func=run_validate)


def _add_explain(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain",
        help="evaluate a request against policies and explain the decision",
        description=EXPLAIN_DESCRIPTION,
        epilog=EXPLAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    policies = explain.add_argument_group("policies")
    policies.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="identity-based policy attached to the principal (repeatable)",
    )
    policies.add_argument("--boundary", metavar="FILE", help="permissions boundary of the principal")
    resource = policies.add_mutually_exclusive_group()
    resource.add_argument("--resource-policy", metavar="FILE", help="resource-based policy of the resource")
    resource.add_argument(
        "--trust-policy", metavar="FILE", help="role trust policy (the resource policy of sts:AssumeRole*)"
    )
    policies.add_argument(
        "--session-policy",
        action="append",
        default=[],
        metavar="FILE",
        help="session policy passed when the session was created (repeatable)",
    )
    policies.add_argument(
        "--scp",
        action="append",
        default=[],
        metavar="FILE[,FILE...]",
        help="service control policies of one organization level (repeatable, one per level)",
    )
    policies.add_argument(
        "--rcp",
        action="append",
        default=[],
        metavar="FILE[,FILE...]",
        help="resource control policies of one organization level (repeatable, one per level)",
    )
    policies.add_argument(
        "--max-size",
        type=_positive_int,
        metavar="N",
        help="size limit applied to every policy (default: IAM's limit for each kind)",
    )

    request = explain.add_argument_group("request")
    request.add_argument("--action", required=True, metavar="A", help="e.g. s3:GetObject")
    request.add_argument("--resource", required=True, metavar="R", help="resource ARN, or *")
    request.add_argument(
        "--principal",
        metavar="ARN",
        help="calling principal: user, role, assumed-role session or root ARN, or a service "
        "principal such as ec2.amazonaws.com",
    )
    request.add_argument(
        "--resource-account",
        metavar="ID",
        help="account that owns the resource (default: the principal's account)",
    )
    request.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="request context key (repeatable; repeat a key for several values)",
    )
    explain.add_argument("--json", action="store_true", help="print the decision as JSON instead of prose")
    explain.set_defaults(func=run_explain)


# --- reading files ------------------------------------------------------------------------------------


class _Inputs:
    """Reads policy files; standard input may be named once, since it can only be read once."""

    def __init__(self) -> None:
        self._stdin_used = False

    def read(self, name: str) -> bytes:
        if name == STDIN_NAME:
            if self._stdin_used:
                raise CliError("-: standard input can only be read once")
            self._stdin_used = True
            return sys.stdin.buffer.read()
        try:
            with open(name, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise CliError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _display_name(name: str) -> str:
    return "<stdin>" if name == STDIN_NAME else name


# --- validate -----------------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    from rolecall.policy import MalformedPolicy, Policy

    inputs = _Inputs()
    status = EXIT_OK
    for name in args.files:
        try:
            text = inputs.read(name)
        except CliError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_USAGE
            continue
        label = _display_name(name)
        try:
            Policy.parse(text, kind=args.kind, name=label, max_size=args.max_size)
        except MalformedPolicy as exc:
            for problem in _problems(exc):
                print(f"{label}: {problem}")
            if status == EXIT_OK:
                status = EXIT_DENIED_OR_MALFORMED
        else:
            print(f"{label}: OK")
    return status


def _problems(exc: Exception) -> list[str]:
    errors = [str(error) for error in getattr(exc, "errors", None) or []]
    return errors or [str(exc) or "MalformedPolicyDocument"]


# --- explain ------------------------------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> int:
    try:
        request, layers = _explain_inputs(args)
    except CliError as exc:
        print(f"rolecall policy explain: {exc}", file=sys.stderr)
        return EXIT_USAGE

    from rolecall.policy import evaluate

    decision = evaluate(request, **layers)
    if args.json:
        print(json.dumps(_decision_json(decision), indent=2))
    else:
        print(decision.explain())
    return EXIT_OK if decision.allowed else EXIT_DENIED_OR_MALFORMED


def _explain_inputs(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from rolecall.policy import Request

    inputs = _Inputs()
    max_size = args.max_size

    def load(name: str, kind: str) -> Any:
        return _parse_policy(inputs, name, kind, max_size)

    resource_policy = None
    if args.resource_policy:
        resource_policy = load(args.resource_policy, "resource")
    elif args.trust_policy:
        resource_policy = load(args.trust_policy, "trust")
    layers: dict[str, Any] = {
        "identity": [load(name, "identity") for name in args.policy],
        "resource_policy": resource_policy,
        "boundary": load(args.boundary, "boundary") if args.boundary else None,
        "session_policies": [load(name, "session") for name in args.session_policy],
        "scps": [_load_level(level, "scp", load) for level in args.scp],
        "rcps": [_load_level(level, "rcp", load) for level in args.rcp],
        "resource_account": args.resource_account,
    }
    request_fields: dict[str, Any] = {
        "action": args.action,
        "resource": args.resource,
        "context": parse_context(args.context),
    }
    if args.principal:
        request_fields["principal"] = args.principal
    return Request(**request_fields), layers


def _load_level(level: str, kind: str, load: Any) -> list[Any]:
    names = [name for name in level.split(",") if name]
    if not names:
        raise CliError(f"--{kind} needs at least one file")
    return [load(name, kind) for name in names]


def _parse_policy(inputs: _Inputs, name: str, kind: str, max_size: int | None) -> Any:
    from rolecall.policy import MalformedPolicy, Policy

    text = inputs.read(name)
    label = _display_name(name)
    try:
        return Policy.parse(text, kind=kind, name=label, max_size=max_size)
    except MalformedPolicy as exc:
        problems = "".join(f"\n  {label}: {problem}" for problem in _problems(exc))
        raise CliError(f"{label} is not a valid {kind} policy:{problems}") from None


def parse_context(pairs: Sequence[str]) -> dict[str, str | list[str]]:
    """KEY=VALUE pairs to a context dict; a key given more than once becomes a list, in order."""
    # Condition keys are case-insensitive in AWS, so aws:TagKeys and aws:tagkeys name one key;
    # the first spelling given is kept.
    spelling: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"--context expects KEY=VALUE, got {pair!r}")
        folded = key.lower()
        spelling.setdefault(folded, key)
        values.setdefault(folded, []).append(value)
    return {spelling[k]: found[0] if len(found) == 1 else found for k, found in values.items()}


def _decision_json(decision: Any) -> dict[str, Any]:
    return {
        "decision": decision.decision,
        "allowed": decision.allowed,
        "deniedBy": decision.denied_by,
        "reason": None if decision.allowed else decision.reason(),
        "matched": [
            {
                "policy": match.policy,
                "kind": match.kind,
                "index": match.index,
                "sid": match.sid,
                "effect": match.effect,
            }
            for match in decision.matched
        ],
        "missingContextKeys": list(decision.missing_context_keys),
    }
