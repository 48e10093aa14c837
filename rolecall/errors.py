"""AWS-style errors. Every failure a client can see is an AwsError: a code, a message and an HTTP status.

Handlers raise these; the wire codecs turn them into each protocol's error envelope.
"""

from __future__ import annotations


class AwsError(Exception):
    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True  # "Sender" vs "Receiver" in the query protocol's <Type>

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if self.status >= 500:
            self.sender_fault = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message})"


def _error(name: str, status: int, code: str | None = None) -> type[AwsError]:
    return type(name, (AwsError,), {"code": code or name, "status": status})


ValidationError = _error("ValidationError", 400)
InvalidInput = _error("InvalidInput", 400)
InvalidParameterValue = _error("InvalidParameterValue", 400)
MissingParameter = _error("MissingParameter", 400)
MalformedPolicyDocument = _error("MalformedPolicyDocument", 400)
NoSuchEntity = _error("NoSuchEntity", 404)
EntityAlreadyExists = _error("EntityAlreadyExists", 409)
LimitExceeded = _error("LimitExceeded", 409)
DeleteConflict = _error("DeleteConflict", 409)
UnmodifiableEntity = _error("UnmodifiableEntity", 400)
AccessDenied = _error("AccessDenied", 403)
MissingAuthenticationToken = _error("MissingAuthenticationToken", 403)
IncompleteSignature = _error("IncompleteSignature", 400)
InvalidClientTokenId = _error("InvalidClientTokenId", 403)
SignatureDoesNotMatch = _error("SignatureDoesNotMatch", 403)
ExpiredToken = _error("ExpiredToken", 403)
InvalidAction = _error("InvalidAction", 400)
NotImplementedOperation = _error("NotImplemented", 501, "NotImplemented")
InternalFailure = _error("InternalFailure", 500)
