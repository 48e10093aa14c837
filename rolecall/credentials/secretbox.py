"""Secrets at rest: AES-256-GCM under the store's master key.

Secret access keys are kept sealed in the store and opened only to verify a signature.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SecretBox:
    def __init__(self, key: bytes, purpose: bytes = b"rolecall-secret-v1"):
        self._aead = AESGCM(key)
        self._aad = purpose

    def seal(self, plaintext: bytes | str) -> str:
        if isinstance(plaintext, str):
            plaintext = plaintext.encode()
        nonce = os.urandom(12)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext, self._aad)).decode()

    def open(self, sealed: str) -> bytes:
        """The plaintext; ValueError when the text was not sealed by this key (tampered or foreign)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            return self._aead.decrypt(raw[:12], raw[12:], self._aad)
        except (InvalidTag, ValueError, TypeError) as exc:
            raise ValueError("cannot open sealed value") from exc
