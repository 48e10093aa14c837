"""AWS Security Token Service (query protocol): AssumeRole, the session credentials it hands out, and
the one step every AWS service uses to assume a role on behalf of a resource (service_sessions)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.sts.operations import STSOperations


class STS(Service):
    name = "sts"
    model = "sts"
    families = (STSOperations,)


__all__ = ["STS"]
