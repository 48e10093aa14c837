"""Time-based one-time passwords (RFC 6238) as AWS's virtual MFA devices use them: HMAC-SHA1 over a
20-byte seed, 30-second steps, six digits. The seed travels as base32 (AWS's Base32StringSeed).

Pure functions of (seed, time): the device record keeps the seed (sealed) and the drift a resync found;
whoever checks a code passes the time.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct

STEP = 30
DIGITS = 6
SEED_BYTES = 20  # 160 bits, what RFC 4226 recommends and AWS's seeds decode to
WINDOW = 1  # steps either side of the device's time a single code may come from (clock skew)
SYNC_WINDOW = 40  # steps either side searched for two consecutive codes (Enable/Resync): 20 minutes


def new_seed() -> str:
    """A fresh seed, base32 without padding (the form authenticator apps take)."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii").rstrip("=")


def _key(seed: str) -> bytes:
    text = seed.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def step_of(now: float) -> int:
    return int(now // STEP)


def code_at(seed: str, step: int) -> str:
    """The code a device shows during time step `step` (RFC 4226's HOTP with counter = step)."""
    digest = hmac.new(_key(seed), struct.pack(">Q", step), "sha1").digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def code(seed: str, now: float) -> str:
    """The code a device with this seed shows at `now` (seconds since the epoch)."""
    return code_at(seed, step_of(now))


def match(seed: str, candidate: str, now: float, drift: int = 0, window: int = WINDOW) -> int | None:
    """The time step `candidate` belongs to, looked for within `window` steps of the device's time (now,
    moved by `drift` steps), or None when it is no code of this device around then."""
    centre = step_of(now) + drift
    for delta in sorted(range(-window, window + 1), key=abs):
        if hmac.compare_digest(code_at(seed, centre + delta), candidate):
            return centre + delta
    return None


def match_consecutive(
    seed: str, first: str, second: str, now: float, window: int = SYNC_WINDOW
) -> int | None:
    """The step of `first` when `first` and `second` are the device's codes of two consecutive steps
    within `window` steps of now; None otherwise. Enabling and resyncing a device take such a pair."""
    centre = step_of(now)
    for delta in sorted(range(-window, window + 1), key=abs):
        step = centre + delta
        if hmac.compare_digest(code_at(seed, step), first) and hmac.compare_digest(
            code_at(seed, step + 1), second
        ):
            return step
    return None
