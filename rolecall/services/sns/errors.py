"""Amazon SNS's errors (query protocol: the code is the error's code, e.g. NotFound)."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidParameterException(AwsError):
    code = "InvalidParameter"


class NotFoundException(AwsError):
    code = "NotFound"
    status = 404


class AuthorizationErrorException(AwsError):
    code = "AuthorizationError"
    status = 403


class TopicLimitExceededException(AwsError):
    code = "TopicLimitExceeded"
    status = 403


class SubscriptionLimitExceededException(AwsError):
    code = "SubscriptionLimitExceeded"
    status = 403
