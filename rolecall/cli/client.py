"""What the commands that talk to a running server share: where it is, and the credentials to sign with.

Every client command (`ec2 exec`, `ec2 imds-endpoint`, `role revoke-sessions`, the examples) resolves
them the same way, the first that applies winning:

- endpoint: --endpoint-url > $AWS_ENDPOINT_URL > http://127.0.0.1:4577
- data dir: --data-dir > $ROLECALL_DATA_DIR > ~/.rolecall
- credentials:
  1. --profile NAME: that profile of $AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/credentials) or of
     DATA_DIR/credentials; an error when neither has it;
  2. $ROLECALL_ROOT_ACCESS_KEY_ID / $ROLECALL_ROOT_SECRET_ACCESS_KEY, the default account's root keys;
  3. the exported AWS profile: $AWS_PROFILE of $AWS_SHARED_CREDENTIALS_FILE, when both are set and the
     file has the profile (the pair `rolecall serve` prints; an AWS_PROFILE meant for AWS itself, in
     ~/.aws/credentials, is not sent to rolecall);
  4. profile `rolecall` of DATA_DIR/credentials, the default account's root keys, written at first start.

`rolecall serve` prints export lines for AWS_ENDPOINT_URL, the AWS profile and ROLECALL_DATA_DIR, so a
shell that pasted them needs none of the options.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ENDPOINT = "http://127.0.0.1:4577"


def default_data_dir() -> str:
    return os.environ.get("ROLECALL_DATA_DIR") or str(Path.home() / ".rolecall")


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT,
        help="the rolecall server (default: $AWS_ENDPOINT_URL, else http://127.0.0.1:4577; now %(default)s)",
    )
    p.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="the server's data dir, whose credentials file holds the root keys (default: "
        "$ROLECALL_DATA_DIR, else ~/.rolecall; now %(default)s)",
    )
    p.add_argument(
        "--profile",
        help="sign with this profile of $AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/credentials) or of "
        "DATA_DIR/credentials, e.g. "
        "rolecall-ACCOUNTID for an account made by `rolecall account create` (default: "
        "$ROLECALL_ROOT_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, else the exported $AWS_PROFILE of "
        "$AWS_SHARED_CREDENTIALS_FILE, else profile rolecall of DATA_DIR/credentials)",
    )


@dataclass(frozen=True)
class Signer:
    """Keys to sign requests with, and where they came from (for messages; never the secret)."""

    access_key_id: str
    secret_access_key: str
    source: str

    @property
    def account(self) -> str | None:
        """The account encoded in the key id, as sts:GetAccessKeyInfo reads it."""
        from rolecall.ids import account_of_key

        return account_of_key(self.access_key_id)


def _profiles(path: Path) -> dict[str, tuple[str, str]]:
    from rolecall.credentials.accounts import CredentialsFileError, read_profiles

    try:
        return read_profiles(path)
    except CredentialsFileError as exc:
        raise SystemExit(f"rolecall: {exc}") from None


def _data_dir_file(data_dir: str) -> Path:
    from rolecall.credentials.accounts import credentials_path

    return credentials_path(data_dir)


def signing_credentials(args: argparse.Namespace) -> Signer:
    """The credentials a client command signs with, by the precedence in this module's docstring."""
    from rolecall.credentials.accounts import DEFAULT_PROFILE

    own = _data_dir_file(args.data_dir)
    profile = getattr(args, "profile", None)
    if profile:
        shared = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()
        for path in dict.fromkeys([shared, own]):
            found = _profiles(path).get(profile)
            if found:
                return Signer(*found, f"profile {profile} of {path}")
        raise SystemExit(f"rolecall: no profile {profile} with keys in {shared} or {own}")
    key = os.environ.get("ROLECALL_ROOT_ACCESS_KEY_ID")
    secret = os.environ.get("ROLECALL_ROOT_SECRET_ACCESS_KEY")
    if key and secret:
        return Signer(key, secret, "ROLECALL_ROOT_ACCESS_KEY_ID")
    exported, shared_file = os.environ.get("AWS_PROFILE"), os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
    if exported and shared_file:
        path = Path(shared_file).expanduser()
        found = _profiles(path).get(exported)
        if found:
            return Signer(*found, f"profile {exported} of {path}")
    found = _profiles(own).get(DEFAULT_PROFILE)
    if found is None:
        missing = f"no profile {DEFAULT_PROFILE} in {own}" if own.exists() else f"no {own}"
        raise SystemExit(
            f"rolecall: no credentials to sign with ({missing}): paste the export lines `rolecall serve` "
            "printed, or pass the server's --data-dir, or --profile, or set "
            "ROLECALL_ROOT_ACCESS_KEY_ID/ROLECALL_ROOT_SECRET_ACCESS_KEY"
        )
    return Signer(*found, f"profile {DEFAULT_PROFILE} of {own}")


def other_root_credentials(args: argparse.Namespace, used: Signer) -> list[Signer]:
    """The other profiles of DATA_DIR/credentials (rolecall's own file: the default account's root and each
    created account's), to find the account that owns something. Only that file: a user's AWS profiles
    are never tried against a server they were not meant for."""
    own = _data_dir_file(args.data_dir)
    return [
        Signer(key, secret, f"profile {name} of {own}")
        for name, (key, secret) in _profiles(own).items()
        if key != used.access_key_id
    ]


def root_credentials(data_dir: str) -> tuple[str, str]:
    """The keys a client with only a data dir signs with (by the precedence above, without --profile)."""
    found = signing_credentials(argparse.Namespace(data_dir=data_dir, profile=None))
    return found.access_key_id, found.secret_access_key


def client_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def botocore_client(args: argparse.Namespace, service: str, signer: Signer | None = None):
    """A botocore client of the server, signed with `signer` (default: signing_credentials(args))."""
    import botocore.config
    import botocore.session

    signer = signer or signing_credentials(args)
    # No profile: the keys are given, and an AWS_PROFILE the config file lacks must not stop the client.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return session.create_client(
        service,
        region_name=client_region(),
        endpoint_url=args.endpoint_url,
        aws_access_key_id=signer.access_key_id,
        aws_secret_access_key=signer.secret_access_key,
        config=botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"}),
    )
