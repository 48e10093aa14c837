"""Auto Scaling's errors (query protocol: the code is the model's error code; ValidationError is common)."""

from __future__ import annotations

from rolecall.errors import AwsError


class AlreadyExists(AwsError):
    code = "AlreadyExists"


class ResourceInUse(AwsError):
    code = "ResourceInUse"


class ServiceLinkedRoleFailure(AwsError):
    code = "ServiceLinkedRoleFailure"
    status = 500
