"""`rolecall explain REQUEST_ID` (also `rolecall trail explain REQUEST_ID`): why a request was refused.

It reads the trail from the store itself (--data-dir / $ROLECALL_DATA_DIR / ~/.rolecall, or
--database-url), as `rolecall account create` does, rather than asking a server's LookupEvents: CloudTrail's
LookupEvents cannot look up a request id (its attributes are EventId, EventName, ReadOnly, Username,
ResourceType, ResourceName, EventSource, AccessKeyId), so a client would have to page through an account's
whole history, and would see only the account whose keys it holds. The store keeps request ids indexed
across accounts and answers with the server stopped too. Records hold no secret, so reading them needs
no key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from rolecall.audit.describe import describe

EXIT_FOUND = 0
EXIT_NOT_FOUND = 1

DESCRIPTION = """\
Print what the trail knows of one request: who made it, what it asked, when, how it ended, and for a
denial rolecall's explanation -- the policy layer that refused it, the statement that denied it or the
grant that was missing, the conditions that failed and the context keys the request lacked.

REQUEST_ID is the id AWS clients report (boto3: err.response["ResponseMetadata"]["RequestId"]; the AWS CLI
with --debug), the requestID of the request's trail record (aws cloudtrail lookup-events), and the one in
the server's log lines at --log-level info.
"""

EPILOG = """\
exit status:
  0  the request is in the trail
  1  no record of that request id
"""


def add_explain_commands(sub: argparse._SubParsersAction) -> None:
    from rolecall.cli.serve import _store_args

    def arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("request_id", metavar="REQUEST_ID", help="the request's id")
        _store_args(p)
        p.add_argument("--json", action="store_true", help="print the trail record(s) as JSON instead")
        p.set_defaults(func=explain)

    p = sub.add_parser(
        "explain",
        help="explain a request from the trail: who, what, and why it was refused",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    arguments(p)
    t = sub.add_parser("trail", help="read the trail (CloudTrail records) from the store")
    tsub = t.add_subparsers(dest="trail_command", metavar="ACTION")
    tsub.required = True
    arguments(
        tsub.add_parser(
            "explain",
            help="the same as `rolecall explain`",
            description=DESCRIPTION,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )


def explain(args: argparse.Namespace) -> int:
    from rolecall.app import open_configured_store

    if not args.database_url and not os.path.exists(os.path.join(args.data_dir, "rolecall.db")):
        print(
            f"rolecall: no rolecall data in {args.data_dir} (use --data-dir or --database-url)",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND
    store = open_configured_store(args)
    try:
        found = store.events_by_request_id(args.request_id)
        if not found:  # records of reads and refusals reach the store in batches, within milliseconds
            time.sleep(0.3)
            found = store.events_by_request_id(args.request_id)
        location = store.location
    finally:
        store.close()
    if not found:
        print(f"rolecall: no request {args.request_id} in the trail ({location})", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.json:
        print(json.dumps([rec for _, rec in found], indent=2))
        return EXIT_FOUND
    print(describe(found))
    return EXIT_FOUND
