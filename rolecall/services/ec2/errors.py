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
