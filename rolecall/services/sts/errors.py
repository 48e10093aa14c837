"""STS's own errors; the common ones (AccessDenied, InvalidParameterValue, ...) are in rolecall.errors."""

from __future__ import annotations

from rolecall.errors import AccessDenied, AwsError
from rolecall.policy import Decision


class PackedPolicyTooLarge(AwsError):
    code = "PackedPolicyTooLarge"


class InvalidAuthorizationMessageException(AwsError):
    code = "InvalidAuthorizationMessageException"


class ServiceCannotAssumeRole(AccessDenied):
    """The role is missing, or its trust policy does not allow the service."""

    def __init__(self, message: str, decision: Decision | None = None):
        super().__init__(message)
        self.decision = decision


class InvalidIdentityToken(AwsError):
    """A web identity token (or SAML assertion) rolecall cannot validate."""

    code = "InvalidIdentityToken"


class ExpiredTokenException(AwsError):
    code = "ExpiredTokenException"


class IDPRejectedClaim(AwsError):
    code = "IDPRejectedClaim"
    status = 403
