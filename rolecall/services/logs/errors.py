"""CloudWatch Logs' errors (json protocol: the code is the shape name)."""

from __future__ import annotations

from rolecall.errors import AwsError


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


class InvalidParameterException(AwsError):
    code = "InvalidParameterException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"
