"""The account password policy as the store keeps it, and the check every password that is set goes through
(CreateLoginProfile, UpdateLoginProfile, ChangePassword)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rolecall.services.iam.errors import PasswordPolicyViolation

if TYPE_CHECKING:
    from rolecall.store import Tx

KIND = "account_setting"
NAME = "password_policy"
# The characters IAM counts as symbols (IAM User Guide, "Set an account password policy for IAM users").
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")


def get_policy(tx: Tx, account: str) -> dict[str, Any] | None:
    return tx.get(account, KIND, NAME)


def check_password(
    tx: Tx,
    account: str,
    password: str,
    history: Sequence[str] = (),
    matches: Callable[[str, str], bool] | None = None,
) -> None:
    """PasswordPolicyViolation, with IAM's message for the first rule broken, when `password` breaks the
    account's policy (none set: any password). `history` holds the hashes of the user's earlier passwords
    (newest last) and `matches(hash, password)` compares, for PasswordReusePrevention."""
    policy = get_policy(tx, account)
    if policy is None:
        return
    broken = None
    if len(password) < policy["MinimumPasswordLength"]:
        broken = f"Password should have a minimum length of {policy['MinimumPasswordLength']}"
    elif policy["RequireSymbols"] and not any(c in SYMBOLS for c in password):
        broken = "Password should have at least one symbol"
    elif policy["RequireNumbers"] and not any(c.isdigit() for c in password):
        broken = "Password should have at least one number"
    elif policy["RequireUppercaseCharacters"] and not any("A" <= c <= "Z" for c in password):
        broken = "Password should have at least one uppercase letter"
    elif policy["RequireLowercaseCharacters"] and not any("a" <= c <= "z" for c in password):
        broken = "Password should have at least one lowercase letter"
    elif policy.get("PasswordReusePrevention") and matches is not None:
        recent = history[-policy["PasswordReusePrevention"] :]
        if any(matches(old, password) for old in recent):
            broken = "Password should not be one of the previous passwords"
    if broken:
        raise PasswordPolicyViolation(broken)
