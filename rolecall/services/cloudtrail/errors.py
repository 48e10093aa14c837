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


class TrailNotFoundException(AwsError):
    code = "TrailNotFoundException"


class TrailAlreadyExistsException(AwsError):
    code = "TrailAlreadyExistsException"


class InvalidTrailNameException(AwsError):
    code = "InvalidTrailNameException"


class CloudTrailARNInvalidException(AwsError):
    code = "CloudTrailARNInvalidException"


class S3BucketDoesNotExistException(AwsError):
    code = "S3BucketDoesNotExistException"


class InsufficientS3BucketPolicyException(AwsError):
    code = "InsufficientS3BucketPolicyException"


class InvalidS3PrefixException(AwsError):
    code = "InvalidS3PrefixException"


class InvalidEventSelectorsException(AwsError):
    code = "InvalidEventSelectorsException"


class InvalidParameterCombinationException(AwsError):
    code = "InvalidParameterCombinationException"


class InvalidCloudWatchLogsLogGroupArnException(AwsError):
    code = "InvalidCloudWatchLogsLogGroupArnException"


class InvalidCloudWatchLogsRoleArnException(AwsError):
    code = "InvalidCloudWatchLogsRoleArnException"


class MaximumNumberOfTrailsExceededException(AwsError):
    code = "MaximumNumberOfTrailsExceededException"


class InvalidHomeRegionException(AwsError):
    code = "InvalidHomeRegionException"
