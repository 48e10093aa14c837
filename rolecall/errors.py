"""AWS-style errors. Every failure a client can see is an AwsError: a code, a message and an HTTP status.

Handlers raise these; the wire codecs turn them into each protocol's error envelope. This module holds
the errors every service shares (AWS's common errors: authentication, validation, AccessDenied, internal
failures); each service package declares its own in its errors.py, one plain class per AWS error code,
named after the code. tests/test_errors.py checks codes and statuses against botocore's error shapes.
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True  # "Sender" vs "Receiver" in the query protocol's <Type>
    request_id: str | None = None  # set by Pipeline.invoke: the requestID of the failure's trail record

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


class ValidationError(AwsError):
    code = "ValidationError"


class InvalidParameterValue(AwsError):
    code = "InvalidParameterValue"


class MissingParameter(AwsError):
    code = "MissingParameter"


class InvalidAction(AwsError):
    code = "InvalidAction"


class MalformedPolicyDocument(AwsError):
    code = "MalformedPolicyDocument"


class AccessDenied(AwsError):
    code = "AccessDenied"
    status = 403


class MissingAuthenticationToken(AwsError):
    code = "MissingAuthenticationToken"
    status = 403


class IncompleteSignature(AwsError):
    code = "IncompleteSignature"


class InvalidClientTokenId(AwsError):
    code = "InvalidClientTokenId"
    status = 403


class SignatureDoesNotMatch(AwsError):
    code = "SignatureDoesNotMatch"
    status = 403


class ExpiredToken(AwsError):
    code = "ExpiredToken"
    status = 403


class NotImplementedOperation(AwsError):
    code = "NotImplemented"
    status = 501


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500


# -- validation messages, in AWS's (Coral's) words: `N validation errors detected: Value 'x' at 'path' ...`


def value_text(value: Any) -> str:
    """How a value is shown in a message (Java's toString inside quotes; null unquoted)."""
    if value is None:
        return "null"
    return f"'{_java_str(value)}'"


def _java_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


def violation(value: Any, path: str, constraint: str, *, redacted: bool = False) -> str:
    shown = " " if redacted or isinstance(value, bytes | bytearray) else f" {value_text(value)} "
    return f"Value{shown}at '{path}' failed to satisfy constraint: {constraint}"


def summarize(messages: list[str]) -> str:
    count = len(messages)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(messages)
