"""EC2's errors: codes as the EC2 API Reference lists them (dotted codes become class names without the
dot). EC2's query protocol reports every error with HTTP 400 unless noted."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidInstanceIDNotFound(AwsError):
    code = "InvalidInstanceID.NotFound"


class InvalidInstanceIDMalformed(AwsError):
    code = "InvalidInstanceID.Malformed"


class InvalidAMIIDMalformed(AwsError):
    code = "InvalidAMIID.Malformed"


class IncorrectState(AwsError):
    code = "IncorrectState"


class IncorrectInstanceState(AwsError):
    code = "IncorrectInstanceState"


class InvalidAssociationIDNotFound(AwsError):
    code = "InvalidAssociationID.NotFound"


class InvalidParameterCombination(AwsError):
    code = "InvalidParameterCombination"


class VcpuLimitExceeded(AwsError):
    """The On-Demand vCPU quota of the instance type's bucket would be exceeded (rolecall.services.ec2.quotas)."""

    code = "VcpuLimitExceeded"


class InsufficientInstanceCapacity(AwsError):
    """EC2 has no room for the instance: here, no file descriptors left for another metadata endpoint."""

    code = "InsufficientInstanceCapacity"


class UnauthorizedOperation(AwsError):
    code = "UnauthorizedOperation"
    status = 403


class DryRunOperation(AwsError):
    code = "DryRunOperation"
    status = 412


class TagLimitExceeded(AwsError):
    code = "TagLimitExceeded"


class InvalidRequest(AwsError):
    """rolecall's own endpoint lookup (GET /_rolecall/imds/ID) asked the wrong way."""

    code = "InvalidRequest"


# EC2's words for a request it cannot authenticate, in place of IAM's (Amazon EC2 API Reference, "Error codes
# for the Amazon EC2 API", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html, and
# EC2's answers as quoted in public tools and tests: "AuthFailure: AWS was not able to validate the provided
# access credentials" with HTTP 401, "RequestExpired: Request has expired." for expired temporary credentials).


class AuthFailure(AwsError):
    """An unknown or inactive access key, or a signature that does not hold."""

    code = "AuthFailure"
    status = 401

    def __init__(self, message: str = "AWS was not able to validate the provided access credentials") -> None:
        super().__init__(message)


class RequestExpired(AwsError):
    """Expired temporary credentials, or a request dated too far from the server's clock."""

    code = "RequestExpired"

    def __init__(self, message: str = "Request has expired.") -> None:
        super().__init__(message)


class InvalidLaunchTemplateNameAlreadyExistsException(AwsError):
    code = "InvalidLaunchTemplateName.AlreadyExistsException"


class InvalidLaunchTemplateIdNotFound(AwsError):
    code = "InvalidLaunchTemplateId.NotFound"


class InvalidLaunchTemplateNameNotFoundException(AwsError):
    code = "InvalidLaunchTemplateName.NotFoundException"


class InvalidLaunchTemplateIdMalformed(AwsError):
    code = "InvalidLaunchTemplateId.Malformed"


class InvalidLaunchTemplateIdVersionNotFound(AwsError):
    code = "InvalidLaunchTemplateId.VersionNotFound"
