"""`rolecall policy validate | explain` (filled in with the policy engine)."""

from __future__ import annotations

import argparse


def add_policy_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="validate policies and explain decisions")
    p.set_defaults(func=lambda args: p.print_help())
