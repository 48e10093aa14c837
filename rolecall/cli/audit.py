"""`rolecall audit`: review an account offline -- escalation paths, administrators, risky trust policies,
wildcard PassRole, unused roles and least-privilege rewrites -- on rolecall's policy engine.

The account comes from a GetAccountAuthorizationDetails JSON file (`aws iam
get-account-authorization-details > account.json` against a real account: nothing is sent anywhere) or
from a running rolecall server, asked over the wire with the caller's credentials; from a server, the
Lambda functions and the trail come along too.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from rolecall.cli.client import add_server_arguments

DESCRIPTION = """\
Review an IAM account and report:
  - privilege-escalation paths to an administrator, each step decided and explained by the policy engine
    (sts:AssumeRole, CreateAccessKey / CreateLoginProfile / UpdateLoginProfile on another user,
    UpdateAssumeRolePolicy, Put/Attach user, group and role policies, CreatePolicyVersion /
    SetDefaultPolicyVersion, PassRole to EC2, Lambda, Auto Scaling and CloudFormation,
    UpdateFunctionCode), honouring conditions, permissions boundaries, trust policies and SCPs;
  - who is an administrator, and why;
  - roles any AWS principal can assume, roles other accounts can assume without an ExternalId, service
    roles trusted without aws:SourceArn / aws:SourceAccount, principals that may pass any role, roles
    unused for --unused-days;
  - with a trail (from a server, or --trail FILE): for principals granted wildcard actions, the policy of
    what they actually did.

The account is read from --file (the output of `aws iam get-account-authorization-details`, which the
AWS CLI prints with every page merged) or, without --file, from the rolecall server at --endpoint-url,
signed as the other client commands sign (see --profile).

Requests are judged as made without MFA (unless --mfa), from an unknown address, at an unknown time:
a statement whose condition needs such a key does not apply.
"""


def add_audit_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="review an account: escalation paths, admins, risky trust, unused roles",
        description=DESCRIPTION,
        epilog="exit status:\n  0  the report was written\n  2  the input could not be read, or the server "
        "refused or could not be reached",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--file", metavar="FILE", help="a GetAccountAuthorizationDetails JSON document (or a list of pages)"
    )
    p.add_argument(
        "--scp",
        metavar="FILE",
        action="append",
        default=[],
        help="service control policies of one organization level: a policy document, or a JSON list of them; "
        "repeat for each level (root, OUs, account): every level must allow",
    )
    p.add_argument(
        "--functions",
        metavar="FILE",
        help="the output of `aws lambda list-functions`, for UpdateFunctionCode edges (from a server: read from it)",
    )
    p.add_argument(
        "--trail",
        metavar="FILE",
        help="CloudTrail records (a JSON file with Records, or a list), for least-privilege rewrites "
        "(from a server: its trail over --trail-days)",
    )
    p.add_argument(
        "--trail-days", type=int, default=90, help="days of a server's trail to read (default %(default)s)"
    )
    p.add_argument("--no-trail", action="store_true", help="from a server: do not read its trail")
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="report format (default %(default)s)"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of standard output")
    p.add_argument(
        "--html", metavar="FILE", help="also write a self-contained HTML report with a graph of the paths"
    )
    p.add_argument(
        "--region", default="us-east-1", help="the region resources are named in (default %(default)s)"
    )
    p.add_argument("--mfa", action="store_true", help="judge requests as signed in with MFA")
    p.add_argument(
        "--unused-days",
        type=int,
        default=90,
        help="a role unused this long is reported (default %(default)s)",
    )
    p.add_argument("--now", help="the time to judge use against (ISO 8601; default: now)")
    p.add_argument("--verbose", "-v", action="store_true", help="list every edge in the text report")
    add_server_arguments(p)
    p.set_defaults(func=audit)


def _fail(message: str) -> int:
    print(f"rolecall audit: {message}", file=sys.stderr)
    return 2


def _read(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None


def _scp_level(data: Any, path: str) -> list[Any]:
    if isinstance(data, dict) and "Statement" in data:
        return [data]
    if isinstance(data, list) and all(isinstance(d, dict) and "Statement" in d for d in data):
        return data
    raise ValueError(f"{path}: expected a policy document or a list of them")


def _trail_records(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("Records"), list):
        return data["Records"]
    if isinstance(data, dict) and isinstance(data.get("Events"), list):  # aws cloudtrail lookup-events
        return [json.loads(e["CloudTrailEvent"]) for e in data["Events"] if "CloudTrailEvent" in e]
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    raise ValueError(
        'the trail must be CloudTrail records ({"Records": [...]}), lookup-events output or a list'
    )


def _from_server(args: argparse.Namespace) -> tuple[Any, list[Any], list[dict[str, Any]] | None]:
    from botocore.exceptions import ClientError

    from rolecall.cli.client import botocore_client

    iam = botocore_client(args, "iam")
    pages = list(iam.get_paginator("get_account_authorization_details").paginate())
    for page in pages:
        page.pop("ResponseMetadata", None)
    # The functions and the trail add to the review; a caller who may not read them still gets the rest.
    functions: list[Any] = []
    try:
        for page in botocore_client(args, "lambda").get_paginator("list_functions").paginate():
            functions += page.get("Functions") or []
    except ClientError as exc:
        _warn(f"Lambda functions not read ({_error(exc)}): UpdateFunctionCode edges are left out")
    records: list[dict[str, Any]] | None = None
    if not args.no_trail:
        records = []
        start = datetime.now(UTC) - timedelta(days=args.trail_days)
        trail = botocore_client(args, "cloudtrail")
        try:
            for page in trail.get_paginator("lookup_events").paginate(StartTime=start):
                records += [
                    json.loads(e["CloudTrailEvent"])
                    for e in page.get("Events") or []
                    if "CloudTrailEvent" in e
                ]
        except ClientError as exc:
            _warn(f"the trail not read ({_error(exc)}): no least-privilege rewrites")
            records = None
    return pages, functions, records


def _error(exc: Any) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code')}: {err.get('Message')}"


def _warn(message: str) -> None:
    print(f"rolecall audit: warning: {message}", file=sys.stderr)


def audit(args: argparse.Namespace) -> int:
    from rolecall.authz.managed import aws_managed_policy
    from rolecall.review import (
        AccountError,
        load_account,
        render_html,
        render_text,
        rewrites_from_trail,
        run_audit,
    )
    from rolecall.review.findings import parse_time

    now = datetime.now(UTC)
    if args.now:
        parsed = parse_time(args.now)
        if parsed is None:
            return _fail(f"--now {args.now!r} is not an ISO 8601 time")
        now = parsed
    try:
        scps = [_scp_level(_read(path), path) for path in args.scp]
        functions: list[Any] = []
        if args.functions:
            data = _read(args.functions)
            functions = data.get("Functions", []) if isinstance(data, dict) else data
        records = _trail_records(_read(args.trail)) if args.trail else None
        if args.file:
            details = _read(args.file)
        else:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                details, served_functions, served_records = _from_server(args)
            except ClientError as exc:
                return _fail(f"the server refused: {_error(exc)}")
            except BotoCoreError as exc:
                return _fail(f"cannot reach {args.endpoint_url}: {exc}")
            functions = functions or served_functions
            records = records if records is not None else served_records

        def managed_lookup(arn: str) -> str | None:
            found = aws_managed_policy(arn)
            return found["Document"] if found else None

        account = load_account(details, scps=scps, functions=functions, managed_lookup=managed_lookup)
    except (ValueError, AccountError, KeyError, TypeError) as exc:
        text = str(exc) if not isinstance(exc, KeyError) else f"missing member {exc}"
        return _fail(text)
    rewrites = rewrites_from_trail(account, records) if records is not None else []
    result = run_audit(
        account, region=args.region, mfa=args.mfa, now=now, unused_days=args.unused_days, rewrites=rewrites
    )
    if args.format == "json":
        text = json.dumps(result.to_json(), indent=2) + "\n"
    else:
        text = render_text(result, verbose=args.verbose)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if args.html:
        with open(args.html, "w", encoding="utf-8") as f:
            f.write(render_html(result))
    return 0
