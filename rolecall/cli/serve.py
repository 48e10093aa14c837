"""`rolecall serve`, `rolecall account create` and `rolecall account list`."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any, TextIO

from rolecall.cli.client import default_data_dir
from rolecall.core.config import ServerConfig

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 4577


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="where SQLite data (S3 objects and function code included), the credentials file, the master key "
        "and the node's cache of unpacked function code live; with --database-url, only the credentials file "
        "and that cache "
        "(default: $ROLECALL_DATA_DIR, else ~/.rolecall; now %(default)s)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("ROLECALL_DATABASE_URL"),
        help="postgresql://... to keep state, S3 objects and function code in PostgreSQL instead of SQLite "
        "(default: $ROLECALL_DATABASE_URL)",
    )


def served_services() -> str:
    """The services the registry holds, as prose: "iam, sts, ... and s3"."""
    from rolecall.services import SERVICES

    names = list(SERVICES)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def add_serve_commands(sub: argparse._SubParsersAction) -> None:
    services = served_services()
    p = sub.add_parser(
        "serve",
        help=f"serve {services} over AWS's wire protocols",
        description=f"Serve {services} on one endpoint, over AWS's own wire protocols (the service is "
        "chosen from each request's SigV4 credential scope). Prints, once the port is bound, the export "
        "lines that point the AWS CLI, the SDKs and rolecall's other commands at it. GET /_rolecall/health "
        'answers {"status": "running", "store": "sqlite"|"postgresql"} without authentication. A web '
        "console is served at /console/ (sign in with the account's root access key pair or an IAM user's "
        "console password).",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    _store_args(p)
    p.add_argument(
        "--auth",
        choices=["enforce", "soft", "off"],
        default="enforce",
        help="enforce: authenticate and authorize every call (default); soft: compute and record "
        "decisions but let denials through; off: check no signature or policy (like moto_server): a known "
        "access key or session token is still its user or role session, any other key the default account's "
        "root; and allow POST /moto-api/reset",
    )
    p.add_argument("--region", default="us-east-1", help="the region rolecall reports (default: %(default)s)")
    p.add_argument("--threads", type=int, default=8, help="request worker threads (default: %(default)s)")
    p.add_argument(
        "--ec2-vcpu-limit",
        type=int,
        default=None,
        metavar="N",
        help="On-Demand vCPUs each account may run per region and instance bucket, as EC2's quota "
        f"(default: {ServerConfig.ec2_vcpu_limit})",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help="comma-separated addresses of proxies whose X-Forwarded-For/-Proto headers are believed "
        "(default: none; the connection's own address is the caller's aws:SourceIp)",
    )
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
    p.add_argument(
        "--trail-delivery-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often a logging CloudTrail trail delivers its log files to S3 and CloudWatch Logs "
        f"(default: {ServerConfig.trail_delivery_interval:g}, as AWS's about five minutes)",
    )
    p.add_argument(
        "--alarm-evaluation-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often CloudWatch alarms are evaluated "
        f"(default: {ServerConfig.alarm_evaluation_interval:g}, as AWS's every minute)",
    )
    p.add_argument(
        "--trail-writer",
        choices=["process", "thread"],
        default="process",
        help="process: each server process hands the records of reads, denials and failures to a writer "
        "process of its own, off the server's GIL (default); thread: a thread of the server writes them "
        "(one process fewer, about 40%% more CPU per request under load). Changes commit their record with "
        "the change either way",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="what the server logs to stderr (default: %(default)s)",
    )
    p.set_defaults(func=serve)

    a = sub.add_parser("account", help="create and list accounts")
    asub = a.add_subparsers(dest="account_command", metavar="ACTION")
    asub.required = True
    c = asub.add_parser(
        "create",
        help="create an account; print its root credentials as JSON and save them as a profile",
        description="Create another account, with one root access key. Prints {AccountId, AccessKeyId, "
        "SecretAccessKey} as JSON (the secret is shown this once), saves the keys as profile "
        "rolecall-ACCOUNTID in DATA_DIR/credentials, and says how to use it. A server already running on "
        "the same store serves the account at once.",
    )
    c.add_argument("--account-id", help="12-digit id (default: random)")
    c.add_argument("--profile", help="the profile to save the root keys as (default: rolecall-ACCOUNTID)")
    _store_args(c)
    c.set_defaults(func=account_create)
    ls = asub.add_parser(
        "list",
        help="list accounts: ids, creation dates, and the profiles holding their root keys",
        description="List the store's accounts with their creation dates, the ids of their active root "
        "access keys, and the profiles of DATA_DIR/credentials that hold those keys. Never prints a secret.",
    )
    ls.add_argument("--output", choices=["table", "json"], default="table", help="(default: %(default)s)")
    _store_args(ls)
    ls.set_defaults(func=account_list)


# -- serve ----------------------------------------------------------------------------------------------


class CannotListen(Exception):
    pass


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed, so that the banner never claims a port that
    another process holds. Bound as uvicorn binds (SO_REUSEADDR, which on Linux still refuses a port with
    a listener), and inheritable, for --workers' processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        sock.close()
        why = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {host}:{port}: {why}") from None
    except OverflowError:  # a port out of range
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: the port must be 0-65535") from None
    sock.set_inheritable(True)
    return sock


def serve(args: argparse.Namespace) -> int:
    from rolecall.app import build_app, build_config, open_configured_store
    from rolecall.authz.managed import ManagedPolicyDataMissing, check_data
    from rolecall.credentials.accounts import ensure_default_account, write_credentials_file

    try:
        check_data()  # a broken install stops here, not at the first request naming an AWS policy
        sock = bind(args.host, args.port)
    except (ManagedPolicyDataMissing, CannotListen) as exc:
        print(f"rolecall: {exc}", file=sys.stderr)
        return 1
    args.port = sock.getsockname()[1]  # the port --port 0 picked
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    store = open_configured_store(args)
    config, generated = build_config(store, args)
    if generated and store.kind == "postgresql":
        # With SQLite the key is a 0600 file in the user's own data dir, beside the database it protects;
        # in a database that several nodes and people reach, whoever reads the database reads the key.
        print(
            "warning: no ROLECALL_MASTER_KEY set; the master key that seals secret keys and session tokens "
            "is kept in the database itself, so whoever can read the database can unseal them. Set "
            "ROLECALL_MASTER_KEY (the same on every node) for a shared deployment.",
            file=sys.stderr,
        )
    created = ensure_default_account(store, config.secret_box, config.default_account)
    creds_file = Path(args.data_dir) / "credentials"
    out = sys.stdout
    if created is not None:
        creds_file = write_credentials_file(args.data_dir, created)
        if out.isatty():
            print(
                f"Root credentials of account {created.account_id} (shown once; also in {creds_file}):",
                file=out,
            )
            print(f"  aws_access_key_id     = {created.access_key_id}", file=out)
            print(f"  aws_secret_access_key = {created.secret_access_key}", file=out)
        else:  # a log file or CI output keeps what it is given: the secret stays in the 0600 file alone
            print(
                f"Root credentials of account {created.account_id} were written to {creds_file} "
                "(not shown: standard output is not a terminal).",
                file=out,
            )
    app = None if args.workers > 1 else build_app(store, args)  # metadata endpoints open before the banner
    print_banner(args, store.location, out)
    try:
        return run_uvicorn(args, sock, app, store)
    finally:
        sock.close()


def print_banner(args: argparse.Namespace, location: str, out: TextIO) -> None:
    """Where the server listens, and the export lines that point every client at it: the AWS CLI and SDKs
    (endpoint, credentials profile, region) and rolecall's own commands (data dir, database)."""
    from rolecall.credentials.accounts import DEFAULT_PROFILE, credentials_path

    host = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
    endpoint = f"http://{f'[{host}]' if ':' in host else host}:{args.port}"
    data_dir = Path(args.data_dir).expanduser().resolve()
    print(f"rolecall listening on http://{args.host}:{args.port} (auth: {args.auth})", file=out)
    print(f"data: {location}", file=out)
    print(
        f"console: {endpoint}/console/ (sign in with the account's root access key pair, or an IAM user's "
        "console password)",
        file=out,
    )
    print("point the AWS CLI, the SDKs and rolecall's commands at it with:", file=out)
    print(f"  export AWS_ENDPOINT_URL={endpoint}", file=out)
    if os.environ.get("ROLECALL_ROOT_ACCESS_KEY_ID"):
        print(
            "  (root credentials from ROLECALL_ROOT_ACCESS_KEY_ID / ROLECALL_ROOT_SECRET_ACCESS_KEY)",
            file=out,
        )
    else:
        creds = shlex.quote(str(credentials_path(data_dir)))
        print(f"  export AWS_SHARED_CREDENTIALS_FILE={creds} AWS_PROFILE={DEFAULT_PROFILE}", file=out)
    print(f"  export AWS_REGION={args.region} AWS_DEFAULT_REGION={args.region}", file=out)
    rolecall_vars = f"ROLECALL_DATA_DIR={shlex.quote(str(data_dir))}"
    password_note = ""
    if args.database_url:
        from rolecall.store.postgres import without_password

        shown = without_password(args.database_url)
        rolecall_vars += f" ROLECALL_DATABASE_URL={shlex.quote(shown)}"
        if shown != args.database_url:
            password_note = "  (the database password is not shown: give it with PGPASSWORD or ~/.pgpass)"
    print(f"  export {rolecall_vars}", file=out)
    if password_note:
        print(password_note, file=out)
    out.flush()


def run_uvicorn(args: argparse.Namespace, sock: socket.socket, app: Any, store: Any) -> int:
    """Serve on the bound socket: in this process, or in --workers processes that share it."""
    import uvicorn

    from rolecall.app import SERVE_ARGS_ENV

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
        http="rolecall.server:HttpProtocol",  # httptools, each response in one write
        lifespan="on",
        timeout_graceful_shutdown=10,
        # X-Forwarded-For would set aws:SourceIp and the trail's sourceIPAddress: believed only from the
        # proxies named with --forwarded-allow-ips (uvicorn otherwise trusts it from 127.0.0.1).
        proxy_headers=bool(args.forwarded_allow_ips),
        forwarded_allow_ips=args.forwarded_allow_ips or "",
        timeout_keep_alive=5,  # an idle kept-alive connection is closed after 5 s
    )
    if app is None:
        # Each worker process opens the store and builds its own pipeline (rolecall.app.app_from_env);
        # the store's generation keeps their caches coherent, as across nodes.
        store.close()
        os.environ[SERVE_ARGS_ENV] = json.dumps(vars(args), default=str)
        config = uvicorn.Config("rolecall.app:app_from_env", factory=True, workers=args.workers, **options)
        _multiprocess(config, sock)
        return 0
    server = uvicorn.Server(uvicorn.Config(app, **options))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0 if server.started else 1


def _multiprocess(config: Any, sock: socket.socket) -> None:
    """uvicorn's supervisor of worker processes on one socket (its signature changed in uvicorn 0.36)."""
    import inspect

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    supervisor: Any = Multiprocess  # typed for one uvicorn version; called as the installed one wants
    try:
        if "target" in inspect.signature(Multiprocess.__init__).parameters:
            supervisor(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
        else:
            supervisor(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass


# -- accounts -------------------------------------------------------------------------------------------


def account_create(args: argparse.Namespace) -> int:
    from rolecall.app import build_config, open_configured_store
    from rolecall.credentials.accounts import (
        MasterKeyMismatch,
        account_profile,
        create_account,
        write_credentials_file,
    )
    from rolecall.store import Conflict

    store = open_configured_store(args)
    try:
        config, _ = build_config(store, args)
        try:
            creds = create_account(store, config.secret_box, args.account_id)
        except Conflict:
            print(f"rolecall: account {args.account_id} already exists", file=sys.stderr)
            return 1
        except MasterKeyMismatch as exc:
            print(f"rolecall: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"rolecall: {exc}", file=sys.stderr)
            return 2
    finally:
        store.close()
    profile = args.profile or account_profile(creds.account_id)
    path = write_credentials_file(args.data_dir, creds, profile)
    print(
        json.dumps(
            {
                "AccountId": creds.account_id,
                "AccessKeyId": creds.access_key_id,
                "SecretAccessKey": creds.secret_access_key,
            }
        )
    )
    # How to use it goes to stderr, so that stdout stays one JSON document for scripts.
    where = shlex.quote(str(path.resolve()))
    print(
        f"Saved as profile {profile} in {path.resolve()}. Act as the account's root user with:\n"
        f"  export AWS_SHARED_CREDENTIALS_FILE={where} AWS_PROFILE={profile}\n"
        f"or pass --profile {profile} to the AWS CLI (with that AWS_SHARED_CREDENTIALS_FILE) and to "
        "rolecall's ec2 and role commands.",
        file=sys.stderr,
    )
    return 0


def account_list(args: argparse.Namespace) -> int:
    from rolecall.app import open_configured_store
    from rolecall.credentials.accounts import (
        CredentialsFileError,
        credentials_path,
        list_accounts,
        read_profiles,
    )

    if not args.database_url and not (Path(args.data_dir) / "rolecall.db").exists():
        print(
            f"rolecall: no rolecall data in {args.data_dir}: start `rolecall serve --data-dir DIR` first, or "
            "pass the server's --data-dir / --database-url (or export ROLECALL_DATA_DIR as its banner says)",
            file=sys.stderr,
        )
        return 1
    store = open_configured_store(args)
    try:
        accounts = list_accounts(store)
    finally:
        store.close()
    path = credentials_path(args.data_dir)
    try:
        profiles = read_profiles(path)
    except CredentialsFileError as exc:
        print(f"rolecall: warning: {exc}", file=sys.stderr)
        profiles = {}
    by_key: dict[str, list[str]] = {}
    for name, (key, _secret) in profiles.items():
        by_key.setdefault(key, []).append(name)
    env_key = os.environ.get("ROLECALL_ROOT_ACCESS_KEY_ID")
    rows: list[dict[str, Any]] = [
        {
            "AccountId": a.account_id,
            "CreateDate": a.create_date,
            "RootAccessKeyIds": a.root_access_key_ids,
            "Profiles": [p for key in a.root_access_key_ids for p in by_key.get(key, [])],
            "RootKeyInEnvironment": env_key in a.root_access_key_ids,
        }
        for a in accounts
    ]
    if args.output == "json":
        print(json.dumps({"Accounts": rows, "CredentialsFile": str(path.resolve())}, indent=2))
        return 0
    table: list[tuple[str, str, str, str]] = [("ACCOUNT", "CREATED", "ROOT KEYS", "PROFILE")]
    for row in rows:
        holders = [
            *row["Profiles"],
            *(["$ROLECALL_ROOT_ACCESS_KEY_ID"] if row["RootKeyInEnvironment"] else []),
        ]
        table.append(
            (
                row["AccountId"],
                row["CreateDate"],
                ",".join(row["RootAccessKeyIds"]) or "-",
                ",".join(holders) or "-",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    where = shlex.quote(str(path.resolve()))
    print(f"use a profile with: export AWS_SHARED_CREDENTIALS_FILE={where} AWS_PROFILE=PROFILE")
    return 0
