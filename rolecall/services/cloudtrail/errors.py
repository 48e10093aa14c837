"""CloudTrail's errors (json protocol: the code is the shape name)."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidLookupAttributesException(AwsError):
    code = "InvalidLookupAttributesException"


class InvalidTimeRangeException(AwsError):
    code = "InvalidTimeRangeException"


class InvalidNextTokenException(AwsError):
    code = "InvalidNextTokenException"


class InvalidMaxResultsException(AwsError):
    code = "InvalidMaxResultsException"
