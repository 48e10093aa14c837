"""Amazon EC2 Auto Scaling (query protocol): groups of instances launched from an EC2 launch template by
the service itself, through its service-linked role (groups)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.autoscaling.groups import GroupOperations


class AutoScaling(Service):
    name = "autoscaling"
    model = "autoscaling"
    families = (GroupOperations,)


__all__ = ["AutoScaling"]
