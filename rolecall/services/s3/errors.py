"""S3's errors: its own codes and the extra fields its error document carries."""

from __future__ import annotations

from typing import Any

from rolecall.errors import AwsError


class S3Error(AwsError):
    """An S3 error; `fields` become extra elements of the <Error> document (BucketName, Key, ...)."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields


class AccessControlListNotSupported(S3Error):
    code = "AccessControlListNotSupported"


class BadDigest(S3Error):
    code = "BadDigest"


class BucketAlreadyExists(S3Error):
    code = "BucketAlreadyExists"
    status = 409


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"
    status = 409


class BucketNotEmpty(S3Error):
    code = "BucketNotEmpty"
    status = 409


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"


class IllegalLocationConstraintException(S3Error):
    code = "IllegalLocationConstraintException"


class InvalidArgument(S3Error):
    code = "InvalidArgument"


class InvalidBucketAclWithObjectOwnership(S3Error):
    code = "InvalidBucketAclWithObjectOwnership"


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"


class InvalidDigest(S3Error):
    code = "InvalidDigest"


class InvalidLocationConstraint(S3Error):
    code = "InvalidLocationConstraint"


class InvalidPart(S3Error):
    code = "InvalidPart"


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"


class InvalidRange(S3Error):
    code = "InvalidRange"
    status = 416


class InvalidRequest(S3Error):
    code = "InvalidRequest"


class KeyTooLongError(S3Error):
    code = "KeyTooLongError"


class MalformedXML(S3Error):
    code = "MalformedXML"


class MethodNotAllowed(S3Error):
    code = "MethodNotAllowed"
    status = 405


class NoSuchBucket(S3Error):
    code = "NoSuchBucket"
    status = 404


class NoSuchBucketPolicy(S3Error):
    code = "NoSuchBucketPolicy"
    status = 404


class NoSuchKey(S3Error):
    code = "NoSuchKey"
    status = 404


class NoSuchUpload(S3Error):
    code = "NoSuchUpload"
    status = 404


class OperationAborted(S3Error):
    code = "OperationAborted"
    status = 409


class PreconditionFailed(S3Error):
    code = "PreconditionFailed"
    status = 412


def no_such_bucket(bucket: str) -> S3Error:
    return NoSuchBucket("The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str) -> S3Error:
    return NoSuchKey("The specified key does not exist.", Key=key)


def no_such_upload(upload_id: str) -> S3Error:
    return NoSuchUpload(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        UploadId=upload_id,
    )


def invalid_part(upload_id: str, number: int, etag: str | None) -> S3Error:
    return InvalidPart(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        UploadId=upload_id,
        PartNumber=number,
        ETag=etag,
    )


def precondition_failed(condition: str) -> S3Error:
    return PreconditionFailed(
        "At least one of the pre-conditions you specified did not hold", Condition=condition
    )


class NotModified(S3Error):
    """A conditional read whose object has not changed: 304 with no body."""

    code = "NotModified"
    status = 304


class MalformedPolicy(S3Error):
    code = "MalformedPolicy"


class InternalError(S3Error):
    code = "InternalError"
    status = 500


# S3's words for a request it cannot authenticate, in place of IAM's (the S3 service's authentication_error).


class InvalidAccessKeyId(S3Error):
    code = "InvalidAccessKeyId"
    status = 403

    def __init__(
        self, message: str = "The AWS Access Key Id you provided does not exist in our records."
    ) -> None:
        super().__init__(message)


class TokenExpired(S3Error):
    """S3's ExpiredToken: status 400, where IAM and STS answer 403."""

    code = "ExpiredToken"

    def __init__(self, message: str = "The provided token has expired.") -> None:
        super().__init__(message)


class AuthorizationHeaderMalformed(S3Error):
    code = "AuthorizationHeaderMalformed"
