"""Amazon SNS's errors (query protocol: the code is the error's code, e.g. NotFound)."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidParameter(AwsError):
    code = "InvalidParameter"


class NotFound(AwsError):
    code = "NotFound"
    status = 404


class AuthorizationError(AwsError):
    code = "AuthorizationError"
    status = 403


class TopicLimitExceeded(AwsError):
    code = "TopicLimitExceeded"
    status = 403


class SubscriptionLimitExceeded(AwsError):
    code = "SubscriptionLimitExceeded"
    status = 403
