"""Lambda's errors (rest-json: the code is the shape name, ...Exception)."""

from __future__ import annotations

from rolecall.errors import AwsError


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceConflictException(AwsError):
    code = "ResourceConflictException"
    status = 409


class InvalidParameterValueException(AwsError):
    code = "InvalidParameterValueException"
    status = 400


class InvalidRequestContentException(AwsError):
    code = "InvalidRequestContentException"
    status = 400


class RequestTooLargeException(AwsError):
    code = "RequestTooLargeException"
    status = 413


class PreconditionFailedException(AwsError):
    code = "PreconditionFailedException"
    status = 412


class TooManyRequestsException(AwsError):
    code = "TooManyRequestsException"
    status = 429


class InvalidRuntimeException(AwsError):
    code = "InvalidRuntimeException"
    status = 502


class ExecutionRoleUnusable(AwsError):
    """Invoke of a function whose role Lambda can no longer assume (deleted, or its trust policy changed).

    Lambda checks the role at CreateFunction/UpdateFunctionConfiguration (InvalidParameterValueException);
    at invocation time the failure is Lambda's own, not the caller's request: a 502, as for its other
    "could not set up the function's environment" errors (EC2AccessDeniedException, KMSAccessDenied...).
    """

    code = "AccessDeniedException"
    status = 502


class CrossAccountPassRole(AwsError):
    """An execution role of another account. IAM lets a principal pass only its own account's roles to a
    service, and Lambda says so in its own words (a 403 AccessDeniedException, outside its model)."""

    code = "AccessDeniedException"
    status = 403


class ServiceException(AwsError):
    """Lambda could not run the function for a reason of its own (here: no sandbox on this machine)."""

    code = "ServiceException"
    status = 500


class ValidationException(AwsError):
    code = "ValidationException"
