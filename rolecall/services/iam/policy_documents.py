"""Policy documents as IAM measures and checks them: sizes counted without whitespace, AWS's
MalformedPolicyDocument wording, and the identity-policy rules shared by inline and managed policies.

Documents are stored as the text the caller sent and leave URL-encoded, as IAM sends them.
"""

from __future__ import annotations

from rolecall.authz.principals import (
    compiled,
)
from rolecall.errors import AwsError, MalformedPolicyDocument, ValidationError
from rolecall.policy import MalformedPolicy, Policy
from rolecall.services.iam.errors import LimitExceeded

MANAGED_POLICY_SIZE = 6144
NAME_MEMBER = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
_WHITESPACE = str.maketrans("", "", " \t\r\n")


def document_size(text: str) -> int:
    """A policy's size as IAM's quotas count it: characters other than whitespace."""
    return len(text.translate(_WHITESPACE))


def policy_error(err: MalformedPolicy) -> AwsError:
    """The AWS error for a document the engine refused (it names the code: MalformedPolicyDocument,
    or LimitExceeded / ValidationError for size and character problems)."""
    kinds = {"LimitExceeded": LimitExceeded, "ValidationError": ValidationError}
    return kinds.get(err.code, MalformedPolicyDocument)(err.message or "Syntax errors in policy.")


def validate_identity_policy(text: str, label: str, *, managed: bool = False) -> None:
    """Refuse a document IAM would refuse. Inline documents go through the compile cache (the label is
    the one authorization will use); managed ones must also carry Version 2012-10-17."""
    try:
        if managed:
            Policy.parse(text, kind="identity", name=label, max_size=MANAGED_POLICY_SIZE, managed=True)
        else:
            compiled(text, "identity", label)
    except MalformedPolicy as err:
        raise policy_error(err) from None
