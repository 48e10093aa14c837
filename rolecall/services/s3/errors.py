"""S3's errors: its own codes and the extra fields its error document carries."""

from __future__ import annotations

from typing import Any

from rolecall.errors import AwsError


class S3Error(AwsError):
    """An S3 error; `fields` become extra elements of the <Error> document (BucketName, Key, ...)."""

    def __init__(self, message: str, *, code: str, status: int, **fields: Any) -> None:
        super().__init__(message, code=code, status=status)
        self.fields = fields


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("The specified bucket does not exist", code="NoSuchBucket", status=404, BucketName=bucket)


def no_such_key(key: str) -> S3Error:
    return S3Error("The specified key does not exist.", code="NoSuchKey", status=404, Key=key)


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted"
        " or completed.",
        code="NoSuchUpload",
        status=404,
        UploadId=upload_id,
    )


def invalid_part(upload_id: str, number: int, etag: str | None) -> S3Error:
    return S3Error(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the "
        "specified entity tag may not match the part's entity tag.",
        code="InvalidPart",
        status=400,
        UploadId=upload_id,
        PartNumber=number,
        ETag=etag,
    )


def precondition_failed(condition: str) -> S3Error:
    return S3Error(
        "At least one of the pre-conditions you specified did not hold",
        code="PreconditionFailed",
        status=412,
        Condition=condition,
    )
