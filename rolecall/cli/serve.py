"""`rolecall serve` and `rolecall account create`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from rolecall.app import SERVE_ARGS_ENV, build_app, build_config, open_configured_store

DEFAULT_DATA_DIR = os.environ.get("ROLECALL_DATA_DIR", str(Path.home() / ".rolecall"))


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        help="where SQLite data, the credentials file and the master key live (default: %(default)s)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("ROLECALL_DATABASE_URL"),
        help="postgresql://... to keep state in PostgreSQL instead of SQLite (env ROLECALL_DATABASE_URL)",
    )


def add_serve_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve IAM, STS and CloudTrail over AWS's wire protocols",
        description="Serve every rolecall API on one endpoint. Point AWS_ENDPOINT_URL at it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=4577, help="port to listen on (default: %(default)s)")
    _store_args(p)
    p.add_argument(
        "--auth",
        choices=["enforce", "soft", "off"],
        default="enforce",
        help="enforce: authenticate and authorize every call (default); soft: compute and record "
        "decisions but let denials through; off: accept any key as the default account's root, "
        "like moto_server, and allow POST /moto-api/reset",
    )
    p.add_argument("--region", default="us-east-1", help="the region rolecall reports (default: %(default)s)")
    p.add_argument("--threads", type=int, default=8, help="request worker threads (default: %(default)s)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port and the store (default: %(default)s); each is a full "
        "node, as several servers on one database are",
    )
    p.add_argument(
        "--instance-credential-ttl",
        type=int,
        default=6 * 3600,
        help="lifetime in seconds of credentials served to instances (default: %(default)s)",
    )
    p.add_argument(
        "--lambda-isolation",
        choices=["sandbox", "none"],
        default=os.environ.get("ROLECALL_LAMBDA_ISOLATION", "sandbox"),
        help="sandbox: run each Lambda function in a bubblewrap sandbox of its own, holding nothing but its "
        "role's credentials (default; Invoke fails where the machine cannot sandbox); none: run functions "
        "as plain processes of the server's user, which can read its data and keys "
        "(env ROLECALL_LAMBDA_ISOLATION)",
    )
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=serve)

    a = sub.add_parser("account", help="manage accounts")
    asub = a.add_subparsers(dest="account_command", metavar="ACTION")
    asub.required = True
    c = asub.add_parser(
        "create",
        help="create an account and print its root credentials as JSON",
        description="Create another account. A server already running on the same store serves it at once.",
    )
    c.add_argument("--account-id", help="12-digit id (default: random)")
    _store_args(c)
    c.set_defaults(func=account_create)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from rolecall.authz.managed import ManagedPolicyDataMissing, check_data
    from rolecall.credentials.accounts import ensure_default_account, write_credentials_file

    try:
        check_data()  # a broken install stops here, not at the first request naming an AWS policy
    except ManagedPolicyDataMissing as exc:
        print(f"rolecall: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    store = open_configured_store(args)
    config, generated = build_config(store, args)
    out = sys.stdout
    if generated and not os.environ.get("ROLECALL_MASTER_KEY"):
        print(
            "warning: no ROLECALL_MASTER_KEY set; using a master key generated and kept with the store. "
            "A shared deployment should set ROLECALL_MASTER_KEY.",
            file=sys.stderr,
        )
    created = ensure_default_account(store, config.secret_box, config.default_account)
    creds_file = Path(args.data_dir) / "credentials"
    if created is not None:
        write_credentials_file(args.data_dir, created)
        print(
            f"Root credentials of account {created.account_id} (shown once; also in {creds_file}):", file=out
        )
        print(f"  aws_access_key_id     = {created.access_key_id}", file=out)
        print(f"  aws_secret_access_key = {created.secret_access_key}", file=out)
    endpoint = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{args.port}"
    print(f"rolecall listening on http://{args.host}:{args.port} (auth: {args.auth})", file=out)
    print(f"data: {store.location}", file=out)
    print("point the AWS CLI and SDKs at it with:", file=out)
    print(f"  export AWS_ENDPOINT_URL={endpoint}", file=out)
    if os.environ.get("ROLECALL_ROOT_ACCESS_KEY_ID"):
        print(
            "  (root credentials from ROLECALL_ROOT_ACCESS_KEY_ID / ROLECALL_ROOT_SECRET_ACCESS_KEY)",
            file=out,
        )
    else:
        print(f"  export AWS_SHARED_CREDENTIALS_FILE={creds_file.resolve()} AWS_PROFILE=rolecall", file=out)
    print(f"  export AWS_REGION={args.region} AWS_DEFAULT_REGION={args.region}", file=out)
    out.flush()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    options: dict[str, Any] = dict(
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        loop=loop,
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    if args.workers > 1:
        # Each worker process opens the store and builds its own pipeline (rolecall.server.app_from_env);
        # the store's generation keeps their caches coherent, as across nodes.
        store.close()
        os.environ[SERVE_ARGS_ENV] = json.dumps(vars(args), default=str)
        uvicorn.run("rolecall.app:app_from_env", factory=True, workers=args.workers, **options)
        return 0
    uvicorn.run(build_app(store, args), **options)
    store.close()
    return 0


def account_create(args: argparse.Namespace) -> int:
    from rolecall.credentials.accounts import create_account
    from rolecall.store import Conflict

    store = open_configured_store(args)
    try:
        config, _ = build_config(store, args)
        try:
            creds = create_account(store, config.secret_box, args.account_id)
        except Conflict:
            print(f"rolecall: account {args.account_id} already exists", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"rolecall: {exc}", file=sys.stderr)
            return 2
        print(
            json.dumps(
                {
                    "AccountId": creds.account_id,
                    "AccessKeyId": creds.access_key_id,
                    "SecretAccessKey": creds.secret_access_key,
                }
            )
        )
        return 0
    finally:
        store.close()
