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

from rolecall.cli.client import (
    Signer,
    add_server_arguments,
    botocore_client,
    other_root_credentials,
    signing_credentials,
)


def add_ec2_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ec2", help="run programs as an EC2 instance's role")
    esub = p.add_subparsers(dest="ec2_command", metavar="ACTION")
    esub.required = True
    e = esub.add_parser(
        "exec",
        help="run CMD with the credentials of INSTANCE_ID's role, from its metadata endpoint",
        description="Run CMD as if on the instance: the AWS SDKs' and CLI's default credential chains find "
        "the instance's metadata endpoint and nothing else (AWS_* credential variables, profiles and "
        "shared credential files are removed). Exits with CMD's status. The instance is looked up signed as "
        "--profile, ROLECALL_ROOT_*, the exported AWS_PROFILE or the data dir's profile rolecall says (in "
        "that order); without --profile, the other accounts whose root keys the data dir's credentials file "
        "holds are searched too. A stopped or terminated instance runs nothing: exit status 1.",
    )
    add_server_arguments(e)
    # INSTANCE_ID, options and CMD are split by hand: argparse cannot take options between two positionals.
    e.add_argument("rest", nargs=argparse.REMAINDER, metavar="INSTANCE_ID [OPTIONS] -- CMD [ARGS...]")
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


def _lookup(endpoint_url: str, signer: Signer, instance_id: str) -> tuple[int, dict[str, Any]]:
    """A signed GET /_rolecall/imds/ID: (status, JSON answer) -- the endpoint, or {"Error": ...}."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{endpoint_url.rstrip('/')}/_rolecall/imds/{instance_id}"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(signer.access_key_id, signer.secret_access_key), "ec2", "us-east-1").add_auth(
        request
    )
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(prepared.url, headers=dict(prepared.headers), method="GET"), timeout=15
        ) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())["Error"]
            answer = {"Error": {"Code": str(error["Code"]), "Message": str(error.get("Message", ""))}}
        except (ValueError, KeyError, TypeError, AttributeError):  # not rolecall's error shape
            answer = {"Error": {"Code": f"HTTP {exc.code}", "Message": str(exc.reason)}}
        return exc.code, answer
    except urllib.error.URLError as exc:
        raise SystemExit(f"rolecall: cannot reach rolecall at {endpoint_url}: {exc.reason}") from None


def _state(args: argparse.Namespace, signer: Signer, instance_id: str) -> str | None:
    """The instance's state name as ec2:DescribeInstances answers it to `signer`; None when it does not
    find the instance (or cannot say)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = botocore_client(args, "ec2", signer).describe_instances(InstanceIds=[instance_id])
    except (ClientError, BotoCoreError):
        return None
    states = [i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]]
    return states[0] if states else None


def _not_running(instance_id: str, state: str) -> SystemExit:
    """What to tell a user who wants to run something on an instance that is not running."""
    why = {
        "terminated": "a terminated instance has no metadata endpoint and runs nothing",
        "shutting-down": "it is being terminated, and runs nothing",
        "stopped": f"start it first: aws ec2 start-instances --instance-ids {instance_id}",
        "stopping": f"it is stopping; start it again once stopped: aws ec2 start-instances --instance-ids {instance_id}",
        "pending": f"wait until it runs: aws ec2 wait instance-running --instance-ids {instance_id}",
    }.get(state, "its metadata endpoint is open only while it runs")
    return SystemExit(f"rolecall: instance {instance_id} is {state}, not running: {why}")


def find_instance(args: argparse.Namespace, instance_id: str) -> dict[str, Any]:
    """Where the instance's metadata endpoint listens ({"InstanceId", "Endpoint", "Region"}).

    Asked as signing_credentials(args); when that account has no such instance and no --profile was
    given, as each other account whose root keys the data dir's credentials file holds, since an instance
    id names one instance in one account. Exits with a message (status 1) when the instance is not
    running, or is nowhere.
    """
    first = signing_credentials(args)
    candidates = [first] if args.profile else [first, *other_root_credentials(args, first)]
    for signer in candidates:
        status, answer = _lookup(args.endpoint_url, signer, instance_id)
        if status == 200:
            return answer
        code, message = answer["Error"]["Code"], answer["Error"].get("Message", "")
        if code in ("InvalidInstanceID.NotFound", "IncorrectInstanceState"):
            # Terminated instances stay visible to DescribeInstances, as on AWS: say which state it is in.
            state = _state(args, signer, instance_id)
            if state is not None and state != "running":
                raise _not_running(instance_id, state)
            if code == "IncorrectInstanceState":
                raise SystemExit(f"rolecall: {code}: {message}")
        elif signer is first:  # refused, or keys the server does not know: say so rather than look further
            raise SystemExit(f"rolecall: {code}: {message} (signed with {first.source})")
    accounts = ", ".join(dict.fromkeys(s.account or s.source for s in candidates))
    where = (
        f"looked in account {accounts}, as --profile {args.profile}"
        if args.profile
        else f"looked in account{'s' if len(candidates) > 1 else ''} {accounts}, whose root keys "
        "ROLECALL_ROOT_*, the exported AWS_PROFILE and DATA_DIR/credentials hold; --profile names another"
    )
    raise SystemExit(
        f"rolecall: InvalidInstanceID.NotFound: The instance ID '{instance_id}' does not exist ({where})"
    )


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
    again.add_argument("--profile", default=args.profile)
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
    found = find_instance(args, args.instance_id)
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
    print(find_instance(args, args.instance_id)["Endpoint"])
    return 0
