"""`rolecall role revoke-sessions ROLE`: the console's "Revoke active sessions" button."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from rolecall.cli.client import add_server_arguments, botocore_client

REVOKE_POLICY_NAME = "AWSRevokeOlderSessions"


def revoke_policy(now: datetime) -> str:
    """Deny everything to sessions issued before `now`, exactly as the IAM console writes it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {
                        "DateLessThan": {"aws:TokenIssueTime": now.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
                    },
                }
            ],
        }
    )


def add_role_commands(sub: argparse._SubParsersAction) -> None:

    p = sub.add_parser("role", help="role actions the IAM console offers")
    rsub = p.add_subparsers(dest="role_command", metavar="ACTION")
    rsub.required = True
    r = rsub.add_parser(
        "revoke-sessions",
        help="revoke every session of ROLE issued until now",
        description="Add AWS's AWSRevokeOlderSessions inline policy to ROLE: every session issued before now is "
        "denied everything; sessions issued afterwards work. Talks to a running server, signed as "
        "--profile, ROLECALL_ROOT_*, the exported AWS_PROFILE or the data dir's profile rolecall says (in "
        "that order); the role is the signer's account's.",
    )
    r.add_argument("role", metavar="ROLE", help="role name")
    add_server_arguments(r)
    r.set_defaults(func=revoke_sessions)


def revoke_sessions(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    iam = botocore_client(args, "iam")
    now = datetime.now(UTC)
    try:
        iam.put_role_policy(
            RoleName=args.role, PolicyName=REVOKE_POLICY_NAME, PolicyDocument=revoke_policy(now)
        )
    except ClientError as exc:
        err = exc.response["Error"]
        print(f"rolecall: {err.get('Code')}: {err.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"rolecall: {exc}", file=sys.stderr)
        return 1
    print(f"Revoked sessions of role {args.role} issued before {now.strftime('%Y-%m-%dT%H:%M:%SZ')}.")
    return 0
