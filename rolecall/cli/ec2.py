"""`rolecall ec2 exec INSTANCE_ID -- CMD ...` and `rolecall ec2 imds-endpoint INSTANCE_ID`.

`exec` runs CMD "on" the instance: in an environment where the SDKs' default credential chains find
nothing but the instance's metadata endpoint (AWS_EC2_METADATA_SERVICE_ENDPOINT), with rolecall's API
endpoint and the instance's region set. Static AWS_* credentials, profiles and shared credential files
are taken away, so CMD authenticates only as the instance's role. CMD replaces this process, so its exit
status is the command's and signals reach it directly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from rolecall.cli.client import add_server_arguments, root_credentials


def add_ec2_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ec2", help="run programs as an EC2 instance's role")
    esub = p.add_subparsers(dest="ec2_command", metavar="ACTION")
    esub.required = True
    e = esub.add_parser(
        "exec",
        help="run CMD with the credentials of INSTANCE_ID's role, from its metadata endpoint",
        description="Run CMD as if on the instance: the AWS SDKs' and CLI's default credential chains find "
        "the instance's metadata endpoint and nothing else (AWS_* credential variables, profiles and "
        "shared credential files are removed). Exits with CMD's status.",
    )
    add_server_arguments(e)
    # INSTANCE_ID, options and CMD are split by hand: argparse cannot take options between two positionals.
    e.add_argument(
        "rest", nargs=argparse.REMAINDER, metavar="INSTANCE_ID [--endpoint-url URL] -- CMD [ARGS...]"
    )
    e.set_defaults(func=exec_on_instance)
    i = esub.add_parser(
        "imds-endpoint",
        help="print the URL of INSTANCE_ID's metadata endpoint",
        description="Print the URL of the running instance's metadata endpoint, for "
        "AWS_EC2_METADATA_SERVICE_ENDPOINT.",
    )
    i.add_argument("instance_id", metavar="INSTANCE_ID")
    add_server_arguments(i)
    i.set_defaults(func=print_endpoint)


def instance_endpoint(endpoint_url: str, data_dir: str, instance_id: str) -> dict[str, Any]:
    """Ask the server (a signed GET /_rolecall/imds/ID) where the instance's metadata endpoint listens."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = root_credentials(data_dir)
    url = f"{endpoint_url.rstrip('/')}/_rolecall/imds/{instance_id}"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key, secret), "ec2", "us-east-1").add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(prepared.url, headers=dict(prepared.headers), method="GET"), timeout=15
        ) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())["Error"]
            message = f"{err['Code']}: {err['Message']}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code}"
        raise SystemExit(f"rolecall: {message}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(f"rolecall: cannot reach rolecall at {endpoint_url}: {exc.reason}") from None


def instance_environment(
    base: Mapping[str, str], metadata_endpoint: str, api_endpoint: str, region: str
) -> dict[str, str]:
    """`base` without any AWS credential source but the instance's metadata endpoint."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "ROLECALL_"))}
    env.update(
        AWS_EC2_METADATA_SERVICE_ENDPOINT=metadata_endpoint,
        AWS_ENDPOINT_URL=api_endpoint,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        # No profiles, no shared credentials: both files read as empty.
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
    )
    for name in ("NO_PROXY", "no_proxy"):  # the endpoints are local; never send them through a proxy
        present = [h for h in env.get(name, "").split(",") if h]
        env[name] = ",".join(dict.fromkeys([*present, "127.0.0.1", "localhost"]))
    return env


def split_exec_arguments(args: argparse.Namespace) -> list[str]:
    """Fill args.instance_id (and options given after it) from args.rest; return CMD [ARGS...]."""
    rest = list(args.rest)
    cut = rest.index("--") if "--" in rest else min(len(rest), 1)
    head, command = rest[:cut], rest[cut + 1 :] if "--" in rest else rest[cut:]
    again = argparse.ArgumentParser(prog="rolecall ec2 exec", add_help=False)
    again.add_argument("instance_id", metavar="INSTANCE_ID")
    again.add_argument("--endpoint-url", default=args.endpoint_url)
    again.add_argument("--data-dir", default=args.data_dir)
    again.parse_args(head, namespace=args)
    return command


def exec_on_instance(args: argparse.Namespace) -> int:
    command = split_exec_arguments(args)
    if not command:
        print(
            "rolecall: ec2 exec needs a command: rolecall ec2 exec INSTANCE_ID -- CMD [ARGS...]",
            file=sys.stderr,
        )
        return 2
    found = instance_endpoint(args.endpoint_url, args.data_dir, args.instance_id)
    env = instance_environment(os.environ, found["Endpoint"], args.endpoint_url, found["Region"])
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        print(f"rolecall: {command[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"rolecall: {command[0]}: permission denied", file=sys.stderr)
        return 126
    return 0  # not reached: exec replaced this process


def print_endpoint(args: argparse.Namespace) -> int:
    print(instance_endpoint(args.endpoint_url, args.data_dir, args.instance_id)["Endpoint"])
    return 0
