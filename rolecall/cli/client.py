"""What the commands that talk to a running server share: where it is, and the root credentials to sign with."""

from __future__ import annotations

import argparse
import os


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    from rolecall.cli.serve import DEFAULT_DATA_DIR

    p.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4577"),
        help="the rolecall server (default: $AWS_ENDPOINT_URL or %(default)s)",
    )
    p.add_argument(
        "--data-dir", default=DEFAULT_DATA_DIR, help="where to find root credentials (default: %(default)s)"
    )


def root_credentials(data_dir: str) -> tuple[str, str]:
    """The default account's root keys: ROLECALL_ROOT_* when set, else the server's credentials file."""
    from rolecall.credentials.accounts import read_credentials_file

    key = os.environ.get("ROLECALL_ROOT_ACCESS_KEY_ID")
    secret = os.environ.get("ROLECALL_ROOT_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret
    found = read_credentials_file(data_dir)
    if found is None:
        raise SystemExit(
            "rolecall: no root credentials: set ROLECALL_ROOT_ACCESS_KEY_ID/ROLECALL_ROOT_SECRET_ACCESS_KEY "
            f"or point --data-dir at the server's data dir (no {data_dir}/credentials)"
        )
    return found
