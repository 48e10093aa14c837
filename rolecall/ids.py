"""Identifiers in AWS's shapes: unique ids (AIDA..., AROA...), access key ids, secrets, request ids."""

from __future__ import annotations

import base64
import random
import secrets

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# Prefixes of IAM unique ids, as AWS documents them.
USER = "AIDA"
GROUP = "AGPA"
ROLE = "AROA"
MANAGED_POLICY = "ANPA"
INSTANCE_PROFILE = "AIPA"
LONG_TERM_KEY = "AKIA"
TEMPORARY_KEY = "ASIA"


def unique_id(prefix: str) -> str:
    """An IAM unique id: the prefix and 17 base32 characters (21 in all), e.g. AROAQ3EXAMPLE7BZ4XYZ1."""
    return prefix + "".join(secrets.choice(_BASE32) for _ in range(17))


def access_key_id(prefix: str = LONG_TERM_KEY, account: str | None = None) -> str:
    """A 20-character access key id: AKIA (long-term) or ASIA (temporary) and 16 base32 characters.

    As in AWS's own key ids, the account id is encoded in the first bits after the prefix, so
    sts:GetAccessKeyInfo can answer from the id alone (account_of_key reads it back).
    """
    acct = int(account) if account and account.isdigit() else 0
    head = (acct << 7) | secrets.randbits(7)  # 48 bits: account id shifted by 7, 7 random bits
    raw = head.to_bytes(6, "big") + secrets.token_bytes(4)
    return prefix + base64.b32encode(raw).decode()


def account_of_key(key_id: str) -> str | None:
    """The account encoded in an access key id made by access_key_id (or by AWS), if any."""
    try:
        raw = base64.b32decode(key_id[4:20])
    except (ValueError, TypeError):
        return None
    acct = (int.from_bytes(raw[:6], "big") & 0x7FFFFFFFFF80) >> 7
    return f"{acct:012d}" if acct else None


def secret_access_key() -> str:
    """A 40-character secret access key."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


_random = random.Random(secrets.randbits(64))


def request_id() -> str:
    """A version-4 UUID for request and event ids. They are identifiers, not secrets, so they come from a
    seeded PRNG rather than os.urandom, which costs a system call on every request. The version and variant
    bits are set as uuid.UUID(version=4) sets them, and the text is formatted directly (half the time)."""
    n = (_random.getrandbits(128) & _UUID4_KEEP) | _UUID4_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
