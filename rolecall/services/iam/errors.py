"""IAM's own errors (codes and statuses as the IAM API Reference and botocore's model give them)."""

from __future__ import annotations

from rolecall.errors import AwsError


class InvalidInput(AwsError):
    code = "InvalidInput"


class NoSuchEntity(AwsError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(AwsError):
    code = "EntityAlreadyExists"
    status = 409


class LimitExceeded(AwsError):
    code = "LimitExceeded"
    status = 409


class DeleteConflict(AwsError):
    code = "DeleteConflict"
    status = 409


class UnmodifiableEntity(AwsError):
    code = "UnmodifiableEntity"


class PolicyNotAttachable(AwsError):
    code = "PolicyNotAttachable"


class InvalidAuthenticationCode(AwsError):
    code = "InvalidAuthenticationCode"
    status = 403


class PasswordPolicyViolation(AwsError):
    code = "PasswordPolicyViolation"


class InvalidUserType(AwsError):
    code = "InvalidUserType"


class CredentialReportNotPresent(AwsError):
    code = "ReportNotPresent"
    status = 410


class CredentialReportExpired(AwsError):
    code = "ReportExpired"
    status = 410


class MalformedCertificate(AwsError):
    code = "MalformedCertificate"


class InvalidCertificate(AwsError):
    code = "InvalidCertificate"


class DuplicateCertificate(AwsError):
    code = "DuplicateCertificate"
    status = 409


class KeyPairMismatch(AwsError):
    code = "KeyPairMismatch"


class InvalidPublicKey(AwsError):
    code = "InvalidPublicKey"


class DuplicateSSHPublicKey(AwsError):
    code = "DuplicateSSHPublicKey"


class UnrecognizedPublicKeyEncoding(AwsError):
    code = "UnrecognizedPublicKeyEncoding"
