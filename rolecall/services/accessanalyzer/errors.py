"""IAM Access Analyzer's errors (rest-json: the code is the shape name, the status the model's)."""

from __future__ import annotations

from rolecall.errors import AwsError


class ValidationException(AwsError):
    code = "ValidationException"


class InvalidParameterException(AwsError):
    code = "InvalidParameterException"


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"
    status = 404


class ConflictException(AwsError):
    code = "ConflictException"
    status = 409


class ServiceQuotaExceededException(AwsError):
    code = "ServiceQuotaExceededException"
    status = 402
