"""Temporary credentials whose session token carries the whole session, sealed.

The token is the session itself (role, session name, times, session policies, tags, source identity,
the secret that signs requests) compressed and sealed with AES-GCM under the server's token key, so
any node validates it without reading the database. A token that was altered in any way fails to
open (InvalidClientTokenId); one past its expiry is ExpiredToken.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from rolecall import ids
from rolecall.clock import iso
from rolecall.credentials.secretbox import SecretBox

TOKEN_PREFIX = "IQoJcm9sZWNhbGw"  # a fixed, recognisable head; the rest is the sealed session


@dataclass
class Session:
    access_key_id: str
    secret_access_key: str
    account: str
    issued: float
    expires: float
    kind: str = "role"  # "role" (AssumeRole) | "user" (GetSessionToken) | "federated" (GetFederationToken)
    role_name: str | None = None
    role_id: str | None = None
    role_arn: str | None = None  # with its path
    session_name: str | None = None  # the role session's name; a federated user's Name
    user_name: str | None = None  # GetSessionToken's user
    user_id: str | None = None
    policy: str | None = None  # inline session policy text
    policy_arns: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # session tags (incl. inherited transitive ones)
    transitive: list[str] = field(default_factory=list)  # transitive tag keys (lower-cased)
    source_identity: str | None = None
    chained: bool = False  # obtained with role-session credentials
    context: dict[str, Any] = field(
        default_factory=dict
    )  # extra keys for every authorization (ec2:SourceInstanceARN)
    invoked_by: str | None = None  # the service principal that obtained it (ec2.amazonaws.com)
    mfa: bool = False  # authenticated with an MFA code (now, or by the session that obtained this one)
    mfa_time: float | None = None  # when that code was checked: aws:MultiFactorAuthAge counts from it

    @property
    def arn(self) -> str:
        if self.kind == "user":
            if self.user_name is None:
                return f"arn:aws:iam::{self.account}:root"
            return f"arn:aws:iam::{self.account}:user/{self.user_name}"
        if self.kind == "federated":
            return f"arn:aws:sts::{self.account}:federated-user/{self.session_name}"
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"

    @property
    def principal_id(self) -> str:
        if self.kind == "user":
            return self.user_id or self.account
        if self.kind == "federated":
            return f"{self.account}:{self.session_name}"
        return f"{self.role_id}:{self.session_name}"

    @property
    def issued_iso(self) -> str:
        return iso(self.issued)


def role_session(
    role: dict[str, Any], account: str, session_name: str, now: float, duration: int, **fields: Any
) -> Session:
    """A new session of `role` with fresh temporary keys (ASIA..., the account encoded in the id)."""

    return Session(
        access_key_id=ids.access_key_id(ids.TEMPORARY_KEY, account),
        secret_access_key=ids.secret_access_key(),
        account=account,
        issued=now,
        expires=now + duration,
        role_name=role["RoleName"],
        role_id=role["RoleId"],
        role_arn=role["Arn"],
        session_name=session_name,
        **fields,
    )


def seal(box: SecretBox, session: Session) -> str:
    raw = json.dumps(asdict(session), separators=(",", ":")).encode()
    return TOKEN_PREFIX + box.seal(zlib.compress(raw, 9)).rstrip("=")


def open_token(box: SecretBox, token: str) -> Session:
    """The session a token carries; ValueError for anything that is not an intact rolecall token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 16384:
        raise ValueError("not a rolecall session token")
    body = token[len(TOKEN_PREFIX) :]
    body += "=" * (-len(body) % 4)
    try:
        data = json.loads(zlib.decompress(box.open(body), bufsize=65536))
        return Session(**data)
    except (ValueError, TypeError, zlib.error) as exc:
        raise ValueError("not a rolecall session token") from exc


def packed_size(box_free_text: str) -> int:
    """AWS's PackedPolicySize: how much of the packed space the session policy and tags use, in percent."""
    packed = len(zlib.compress(box_free_text.encode(), 9))
    return max(1, -(-packed * 100 // PACKED_BUDGET))


PACKED_BUDGET = 1536  # bytes of packed policy and tags a session may carry
