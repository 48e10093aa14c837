"""`rolecall mfa code SERIAL`: the code a virtual MFA device made on this rolecall shows now, as an
authenticator app holding its seed would show it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_mfa_commands(sub: argparse._SubParsersAction) -> None:
    from rolecall.cli.serve import _store_args

    p = sub.add_parser("mfa", help="virtual MFA devices of this rolecall")
    msub = p.add_subparsers(dest="mfa_command", metavar="ACTION")
    msub.required = True
    c = msub.add_parser(
        "code",
        help="print the current six-digit code of a virtual MFA device",
        description="Print the code the virtual MFA device SERIAL (arn:aws:iam::ACCOUNT:mfa/NAME, as "
        "CreateVirtualMFADevice returned it) shows now, read from the server's store: what an authenticator "
        "app with the device's seed would show, so scripts and tests can pass it as TokenCode or "
        "AuthenticationCode1. With --pair, print two consecutive codes (the previous and the current one), "
        "as EnableMFADevice and ResyncMFADevice take them. Needs the server's --data-dir / --database-url "
        "and its ROLECALL_MASTER_KEY, if it has one.",
    )
    c.add_argument("serial", metavar="SERIAL", help="the device's serial number (its ARN)")
    c.add_argument("--pair", action="store_true", help="print the previous and the current code, one a line")
    _store_args(c)
    c.set_defaults(func=mfa_code)


def mfa_code(args: argparse.Namespace) -> int:
    from rolecall.app import build_config, open_configured_store
    from rolecall.credentials import totp
    from rolecall.credentials.mfa_devices import find_device, seed_of

    if not args.database_url and not (Path(args.data_dir) / "rolecall.db").exists():
        print(
            f"rolecall: no rolecall data in {args.data_dir}: pass the server's --data-dir / --database-url",
            file=sys.stderr,
        )
        return 1
    store = open_configured_store(args)
    try:
        config, _ = build_config(store, args)
        with store.read_transaction() as tx:
            found = find_device(tx, args.serial)
        if found is None:
            print(f"rolecall: no virtual MFA device {args.serial}", file=sys.stderr)
            return 1
        try:
            seed = seed_of(config.secret_box, found[1])
        except ValueError:
            print(
                "rolecall: cannot open the device's seed: run with the server's ROLECALL_MASTER_KEY",
                file=sys.stderr,
            )
            return 1
    finally:
        store.close()
    step = totp.step_of(time.time()) + int(found[1].get("Drift") or 0)
    if args.pair:
        print(totp.code_at(seed, step - 1))
    print(totp.code_at(seed, step))
    return 0
