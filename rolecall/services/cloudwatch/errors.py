"""CloudWatch's errors (query-compatible: the code is the query protocol's, e.g. InvalidParameterValue)."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidParameterValue(AwsError):
    code = "InvalidParameterValue"


class InvalidParameterCombination(AwsError):
    code = "InvalidParameterCombination"


class MissingParameter(AwsError):
    code = "MissingParameter"


class ResourceNotFound(AwsError):
    code = "ResourceNotFound"
    status = 404


class InvalidNextToken(AwsError):
    code = "InvalidNextToken"


class LimitExceeded(AwsError):
    code = "LimitExceeded"


class InvalidFormat(AwsError):
    code = "InvalidFormat"
