"""The request being authorized: action, resource, principal and context keys.

Built once per authorization, so construction is cheap: the context is normalized (keys lower-cased,
values turned into tuples of strings) and the principal parsed only when a statement needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .principals import Who

ContextValues = tuple[str, ...]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _values(value: Any) -> ContextValues | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_scalar(v) for v in value if v is not None)
    return (_scalar(value),)


def normalize_context(context: Mapping[str, Any] | None) -> dict[str, ContextValues]:
    """Context keys are case-insensitive (tag keys in aws:RequestTag/x etc. included)."""
    normalized: dict[str, ContextValues] = {}
    if not context:
        return normalized
    for key, value in context.items():
        values = _values(value)
        if values is not None:
            normalized[str(key).lower()] = values
    return normalized


class Request:
    """What is being asked: action (e.g. "s3:GetObject"), resource ARN (or "*"), the principal's ARN or
    service name (optional), and request context keys (values: str, list of str, bool, int)."""

    __slots__ = ("action", "resource", "principal", "context", "action_lower", "_ctx", "_who")

    def __init__(
        self,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.action = action
        self.resource = resource
        self.principal = principal
        self.context = context
        self.action_lower = action.lower()
        self._ctx: dict[str, ContextValues] | None = None
        self._who: Who | None = None

    @property
    def ctx(self) -> dict[str, ContextValues]:
        """The normalized context (lower-cased keys -> tuple of string values)."""
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = normalize_context(self.context)
        return ctx

    @property
    def who(self) -> Who:
        who = self._who
        if who is None:
            who = self._who = Who(self.principal, self.ctx)
        return who

    def __repr__(self) -> str:
        parts = [f"action={self.action!r}", f"resource={self.resource!r}"]
        if self.principal:
            parts.append(f"principal={self.principal!r}")
        if self.context:
            parts.append(f"context={dict(self.context)!r}")
        return f"Request({', '.join(parts)})"
