"""`rolecall` command line: serve | account | policy | role | ec2 | oidc | saml | mfa | explain (trail explain) | audit."""

from __future__ import annotations

import argparse
import sys


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's, once installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rolecall")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rolecall",
        description="A local, faithful implementation of AWS IAM roles, served over AWS's own wire protocols.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from rolecall.cli.audit import add_audit_commands
    from rolecall.cli.ec2 import add_ec2_commands
    from rolecall.cli.explain import add_explain_commands
    from rolecall.cli.mfa import add_mfa_commands
    from rolecall.cli.oidc import add_oidc_commands
    from rolecall.cli.policy import add_policy_commands
    from rolecall.cli.role import add_role_commands
    from rolecall.cli.saml import add_saml_commands
    from rolecall.cli.serve import add_serve_commands

    add_serve_commands(sub)
    add_policy_commands(sub)
    add_role_commands(sub)
    add_ec2_commands(sub)
    add_oidc_commands(sub)
    add_saml_commands(sub)
    add_explain_commands(sub)
    add_mfa_commands(sub)
    add_audit_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
