"""DynamoDB's errors (json protocol 1.0: the code is the shape name; ValidationException is common to all
operations, so it is not in the model's error shapes)."""

from __future__ import annotations

from rolecall.errors import AwsError


class ValidationException(AwsError):
    code = "ValidationException"


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class ResourceInUseException(AwsError):
    code = "ResourceInUseException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class ConditionalCheckFailedException(AwsError):
    """A condition expression that did not hold."""

    code = "ConditionalCheckFailedException"

    def __init__(self) -> None:
        super().__init__("The conditional request failed")


def invalid(message: str) -> ValidationException:
    """One or more parameter values were invalid: ... -- DynamoDB's prefix for a bad value."""
    return ValidationException(f"One or more parameter values were invalid: {message}")
