"""CloudTrail records: one per request, allowed, denied or failed, and never a secret.

A request that changes state writes its record in the same transaction as the change. Every other
record (reads, denials, failures) goes through the TrailWriter, which batches them into one
transaction every few milliseconds and flushes on shutdown, so that reads stay cheap.
"""

from __future__ import annotations

import base64
import functools
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rolecall import ids
from rolecall.clock import iso
from rolecall.core.context import Caller
from rolecall.errors import AwsError
from rolecall.http import HttpRequest
from rolecall.wire.models import service_model

log = logging.getLogger("rolecall.trail")

EVENT_VERSION = "1.08"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# Members whose values are secrets wherever they appear (compared lower-cased).
SECRET_MEMBERS = frozenset(
    {
        "password",
        "oldpassword",
        "newpassword",
        "secretaccesskey",
        "sessiontoken",
        "privatekey",
        "token",
        "userdata",
    }
)


# Calls CloudTrail counts as data events (object-level S3, Lambda invocations): AWS records them only in
# trails configured for them and never shows them in LookupEvents; rolecall keeps and shows them all.
DATA_EVENTS = frozenset(
    {
        ("s3", op)
        for op in (
            "GetObject",
            "PutObject",
            "HeadObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "ListObjects",
            "ListObjectsV2",
        )
    }
    | {("lambda", "Invoke")}
    | {
        ("dynamodb", op)
        for op in (
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "BatchGetItem",
            "BatchWriteItem",
        )
    }
    | {("logs", op) for op in ("PutLogEvents", "GetLogEvents", "FilterLogEvents")}
)
# Request members left out of the trail for their bulk (the messages of every PutLogEvents call).
BULK_MEMBERS = {("logs", "PutLogEvents"): frozenset({"logevents"})} | {
    # DynamoDB's item data: CloudTrail records which keys a request named, never the values it wrote.
    ("dynamodb", op): frozenset({"item", "expressionattributevalues", "requestitems"})
    for op in ("PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem")
}
# Request members CloudTrail names differently from the API's shapes.
TRAIL_NAMES = {("s3", "Bucket"): "bucketName"}


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@functools.lru_cache(maxsize=512)
def sensitive_members(model: str, operation: str) -> frozenset[str]:
    """Lower-cased names of the members the service model marks sensitive in an operation's input or
    output (Lambda's Environment.Variables and ZipFile, EC2's UserData, IAM's Password...)."""
    try:
        op = service_model(model).operation_model(operation)
    except Exception:  # an unknown model or operation has nothing to add
        return frozenset()
    found: set[str] = set()

    def walk(shape: Any, name: str, depth: int) -> None:
        if shape is None or depth > 20:
            return
        if shape.metadata.get("sensitive"):
            found.add(name.lower())
        if shape.type_name == "structure":
            for member, sub in shape.members.items():
                walk(sub, member, depth + 1)
        elif shape.type_name == "list":
            walk(shape.member, name, depth + 1)
        elif shape.type_name == "map":
            walk(shape.value, name, depth + 1)

    walk(op.input_shape, "", 0)
    walk(op.output_shape, "", 0)
    return frozenset(found - {""})


def scrub(value: Any, hidden: frozenset[str] = frozenset()) -> Any:
    """A JSON-safe copy in CloudTrail's lowerCamel style with every secret (and every member in `hidden`,
    lower-cased) replaced."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = str(k)
            name = key.lower()
            camel = key[:1].lower() + key[1:]  # _lower_camel, inline: this runs for every member of every record
            if name in SECRET_MEMBERS or name in hidden:
                out[camel] = HIDDEN
            elif type(v) in _AS_IS:  # most members are strings: spare them a call
                out[camel] = v
            else:
                out[camel] = scrub(v, hidden)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(v, hidden) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return HIDDEN
    return value


_AS_IS = frozenset({str, int, float, bool, type(None)})  # what scrub returns unchanged (not subclasses)


def _dynamodb_key(key: dict[str, Any]) -> dict[str, Any]:
    """An item's key as CloudTrail shows it: attribute names as they are, values without their type."""
    out: dict[str, Any] = {}
    for name, value in key.items():
        inner = next(iter(value.values()), None) if isinstance(value, dict) else value
        out[str(name)] = base64.b64encode(inner).decode("ascii") if isinstance(inner, bytes) else inner
    return out


def _trail_names(service: str, params: dict[str, Any]) -> dict[str, Any]:
    for (svc, member), name in TRAIL_NAMES.items():
        key = _lower_camel(member)
        if svc == service and key in params:
            params[name] = params.pop(key)
    return params


def user_identity(caller: Caller | None) -> dict[str, Any]:
    if caller is None:
        return {}
    if caller.type in ("WebIdentityUser", "SAMLUser"):
        # CloudTrail names the token's (or assertion's) subject at its provider; there is no ARN or key of
        # the caller's own. A SAML user's provider is named by its name qualifier.
        session = caller.session or {}
        return {
            "type": caller.type,
            "principalId": caller.principal_id,
            "userName": caller.user_name,
            "identityProvider": session.get("identity_provider") or session.get("provider", caller.arn),
        }
    if caller.type == "AWSService":
        return {"type": "AWSService", "invokedBy": caller.arn}
    ident: dict[str, Any] = {
        "type": caller.type,
        "principalId": caller.principal_id,
        "arn": caller.arn,
        "accountId": caller.account,
    }
    if caller.access_key_id:
        ident["accessKeyId"] = caller.access_key_id
    if caller.user_name:
        ident["userName"] = caller.user_name
    if caller.session and caller.type == "FederatedUser":
        s = caller.session
        issuer = (
            {
                "type": "IAMUser",
                "principalId": s.get("user_id"),
                "arn": f"arn:aws:iam::{caller.account}:user/{s['user_name']}",
                "accountId": caller.account,
                "userName": s.get("user_name"),
            }
            if s.get("user_name")
            else {
                "type": "Root",
                "principalId": caller.account,
                "arn": f"arn:aws:iam::{caller.account}:root",
                "accountId": caller.account,
            }
        )
        ident["sessionContext"] = {
            "sessionIssuer": issuer,
            "attributes": {"creationDate": s.get("issued_iso"), "mfaAuthenticated": "false"},
        }
    elif caller.session and caller.session.get("kind") == "console":
        # An IAM user's console session signed in with MFA: CloudTrail gives its attributes, no issuer.
        s = caller.session
        ident["sessionContext"] = {
            "attributes": {"creationDate": s.get("issued_iso"), "mfaAuthenticated": "true"}
        }
    elif caller.session:
        s = caller.session
        ident["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": s.get("role_id"),
                "arn": s.get("role_arn"),
                "accountId": caller.account,
                "userName": s.get("role_name"),
            },
            "attributes": {
                "creationDate": s.get("issued_iso"),
                "mfaAuthenticated": "true" if s.get("mfa") else "false",
            },
        }
        if s.get("source_identity"):
            ident["sessionContext"]["sourceIdentity"] = s["source_identity"]
        if s.get("ec2_role_delivery"):
            ident["sessionContext"]["ec2RoleDelivery"] = s["ec2_role_delivery"]
        # A service acting through its service-linked role (Auto Scaling launching a group's instances):
        # CloudTrail names the service that made the call.
        if s.get("invoked_by") and "/aws-service-role/" in (s.get("role_arn") or ""):
            ident["invokedBy"] = s["invoked_by"]
    return ident


def record(
    *,
    service: str,
    operation: str,
    caller: Caller | None,
    account: str,
    region: str,
    event_time: datetime,
    request_id: str,
    source_ip: str,
    user_agent: str,
    read_only: bool,
    request_parameters: dict[str, Any] | None,
    response_elements: dict[str, Any] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    resources: list[dict[str, str]] | None = None,
    hidden: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    bulk = BULK_MEMBERS.get((service, operation))
    if bulk is not None:
        hidden = hidden | bulk
    data_event = (service, operation) in DATA_EVENTS
    rec: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller),
        "eventTime": iso(event_time.timestamp()),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": _trail_names(service, scrub(request_parameters, hidden))
        if request_parameters
        else None,
        "responseElements": scrub(response_elements, hidden) if response_elements else None,
        "requestID": request_id,
        "eventID": ids.request_id(),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": not data_event,
        "recipientAccountId": account,
        "eventCategory": "Data" if data_event else "Management",
    }
    if (
        service == "dynamodb"
        and rec["requestParameters"]
        and isinstance((request_parameters or {}).get("Key"), dict)
    ):
        rec["requestParameters"]["key"] = _dynamodb_key(request_parameters["Key"])  # type: ignore[index]
    if error_code:
        rec["errorCode"] = error_code
        rec["errorMessage"] = error_message or ""
    if resources:
        rec["resources"] = resources
    return rec


# CloudTrail resource types by the resource part of an IAM ARN.
_IAM_TYPES = {
    "user": "AWS::IAM::User",
    "group": "AWS::IAM::Group",
    "role": "AWS::IAM::Role",
    "policy": "AWS::IAM::Policy",
    "instance-profile": "AWS::IAM::InstanceProfile",
}


def trail_resources(arns: list[str]) -> list[dict[str, str]]:
    out = []
    for arn in arns:
        parts = arn.split(":", 5)
        if len(parts) != 6 or arn == "*":
            continue
        if parts[2] == "iam" and parts[5].endswith("/"):  # a path the List* operations authorize on
            continue
        kind = parts[5].split("/", 1)[0].split(":", 1)[0]  # role/NAME, log-group:NAME:...
        rtype = _IAM_TYPES.get(kind) if parts[2] == "iam" else None
        if parts[2] == "s3":  # arn:aws:s3:::bucket, arn:aws:s3:::bucket/key
            rtype = "AWS::S3::Object" if "/" in parts[5] else "AWS::S3::Bucket"
        out.append({"ARN": arn, "accountId": parts[4], "type": rtype or f"AWS::{parts[2].upper()}::{kind}"})
    return out


# Where a request that failed authentication is recorded: in no account's trail (the caller proved none, and a
# known key id is no proof), but in the store's trail of its own, which the operator's `rolecall explain` reads.
UNAUTHENTICATED = "unauthenticated"
# What such a record says of the failure: AWS's words without anything the caller sent (an Authorization
# header, a credential scope or a key id may hold a secret pasted in the wrong place).
_AUTHENTICATION_MESSAGES = {
    "InvalidClientTokenId": "The security token included in the request is invalid.",
    "SignatureDoesNotMatch": "The request signature we calculated does not match the signature you provided.",
    "IncompleteSignature": "The request signature does not conform to AWS standards.",
    "MissingAuthenticationToken": "Request is missing Authentication Token",
    "ExpiredToken": "The security token included in the request is expired",
    "AuthFailure": "AWS was not able to validate the provided access credentials",
    "RequestExpired": "Request has expired.",
    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not exist in our records.",
}


@dataclass
class RequestEvent:
    """What the trail needs to know of one request, filled in as the request goes through the pipeline."""

    service: str
    model: str  # the botocore service model, for the members it marks sensitive
    req: HttpRequest
    event_time: datetime
    region: str
    request_id: str = field(default_factory=ids.request_id)
    caller: Caller | None = None
    operation: str | None = None
    params: dict[str, Any] | None = None
    read_only: bool = True
    output: dict[str, Any] | None = None
    error: AwsError | None = None
    resources: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    committed: bool = False  # the request's change (if any) is saved: an error after this changed something

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """(account, record) pairs: the caller's account, and a copy for each other account whose resource
        the request touched, linked by sharedEventID, as CloudTrail delivers cross-account calls. A request
        whose caller is unknown (authentication failed) goes to the UNAUTHENTICATED trail alone, keeping
        nothing it sent but the operation's name."""
        if self.caller is None:
            return [(UNAUTHENTICATED, self._unauthenticated_record())]
        account = self.caller.account
        rec = record(
            service=self.service,
            operation=self.operation or "Unknown",
            caller=self.caller,
            account=account,
            region=self.region,
            event_time=self.event_time,
            request_id=self.request_id,
            source_ip=self.req.remote_addr or "127.0.0.1",
            user_agent=self.req.headers.get("user-agent", ""),
            read_only=self.read_only,
            request_parameters=self.params,
            response_elements=self.output,
            hidden=sensitive_members(self.model, self.operation)
            if self.model and self.operation
            else frozenset(),
            error_code=self.error.code if self.error else None,
            error_message=self.error.message if self.error else None,
            resources=self.resources,
        )
        if self.extra:
            rec["additionalEventData"] = dict(self.extra)
        others = sorted(
            {r["accountId"] for r in self.resources if r.get("accountId") not in ("", account, None)}
        )
        if not others:
            return [(account, rec)]
        rec["sharedEventID"] = str(uuid.uuid4())
        out = [(account, rec)]
        for other in others:
            copy = dict(rec, recipientAccountId=other, eventID=str(uuid.uuid4()))
            out.append((other, copy))
        return out

    def _unauthenticated_record(self) -> dict[str, Any]:
        code = self.error.code if self.error else "Unknown"
        rec = record(
            service=self.service,
            operation=self.operation or "Unknown",
            caller=None,
            account="",
            region=self.region,
            event_time=self.event_time,
            request_id=self.request_id,
            source_ip=self.req.remote_addr or "127.0.0.1",
            user_agent=self.req.headers.get("user-agent", ""),
            read_only=self.read_only,
            request_parameters=None,
            error_code=code,
            error_message=_AUTHENTICATION_MESSAGES.get(code, f"Authentication failed ({code})."),
        )
        return rec
