"""Identifiers in AWS's shapes: unique ids (AIDA..., AROA...), access key ids, secrets, request ids."""

from __future__ import annotations

import base64
import secrets
import uuid

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


def access_key_id(prefix: str = LONG_TERM_KEY) -> str:
    """A 20-character access key id: AKIA (long-term) or ASIA (temporary) and 16 base32 characters."""
    return prefix + "".join(secrets.choice(_BASE32) for _ in range(16))


def secret_access_key() -> str:
    """A 40-character secret access key."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


def request_id() -> str:
    return str(uuid.uuid4())
