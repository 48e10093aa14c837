"""CloudWatch's errors (query-compatible: the code is the query protocol's, e.g. InvalidParameterValue)."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidParameterValueException(AwsError):
    code = "InvalidParameterValue"


class InvalidParameterCombinationException(AwsError):
    code = "InvalidParameterCombination"


class MissingRequiredParameterException(AwsError):
    code = "MissingParameter"


class ResourceNotFound(AwsError):
    code = "ResourceNotFound"
    status = 404


class InvalidNextToken(AwsError):
    code = "InvalidNextToken"


class LimitExceededFault(AwsError):
    code = "LimitExceeded"
