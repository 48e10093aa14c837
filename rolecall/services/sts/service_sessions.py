"""A service assumes a role on behalf of one of its resources: EC2 for an instance, Lambda for a function.

This is the one step every service principal shares. The role's trust policy must allow the service
(`"Principal": {"Service": "ec2.amazonaws.com"}`), judged with the context AWS supplies for such calls
(aws:SourceArn and aws:SourceAccount naming the resource, so confused-deputy conditions work, and
aws:PrincipalServiceName). The credentials carry `session_context` into every later authorization
(e.g. ec2:SourceInstanceARN), and the trail records the call with an AWSService identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rolecall import ids
from rolecall.audit.explanations import explain_decision, explain_missing_role
from rolecall.audit.records import record
from rolecall.authz.principals import compiled
from rolecall.core.context import Caller
from rolecall.credentials.sessions import Session, role_session, seal
from rolecall.policy import Request, evaluate
from rolecall.services.sts.errors import ServiceCannotAssumeRole

if TYPE_CHECKING:
    from rolecall.core.host import Host


@dataclass
class ServiceCredentials:
    session: Session
    token: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "AccessKeyId": self.session.access_key_id,
            "SecretAccessKey": self.session.secret_access_key,
            "Token": self.token,
            "Expiration": datetime.fromtimestamp(self.session.expires, UTC),
        }


def _role_by_arn(host: Host, role_arn: str) -> tuple[str, dict[str, Any] | None]:
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return "", None
    account, name = parts[4], parts[5].rsplit("/", 1)[-1]
    with host.store.transaction() as tx:
        role = tx.get(account, "role", name)
    if role is None or role["Arn"] != role_arn:
        return account, None
    return account, role


def assume_role_for_service(
    host: Host,
    *,
    service: str,
    role_arn: str,
    session_name: str,
    duration: int,
    source_arn: str | None = None,
    source_account: str | None = None,
    session_context: dict[str, Any] | None = None,
    region: str | None = None,
) -> ServiceCredentials:
    """Credentials of `role_arn` for `service` (e.g. "ec2.amazonaws.com"), or ServiceCannotAssumeRole."""

    clock, config = host.clock, host.config
    now = clock.time()
    account, role = _role_by_arn(host, role_arn)
    context: dict[str, Any] = {
        "aws:PrincipalServiceName": service,
        "aws:PrincipalIsAWSService": "true",
        "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now)),
        "sts:RoleSessionName": session_name,
    }
    if source_arn:
        context["aws:SourceArn"] = source_arn
    if source_account:
        context["aws:SourceAccount"] = source_account
    decision = None
    if role is not None:
        trust = compiled(role["AssumeRolePolicyDocument"], "trust", f"trust policy of {role_arn}")
        decision = evaluate(
            Request(action="sts:AssumeRole", resource=role_arn, principal=service, context=context),
            identity=[],
            resource_policy=trust,
            resource_account=account,
        )
    allowed = decision is not None and decision.allowed
    service_caller = Caller(
        account=account or "",
        arn=service,
        type="AWSService",
        principal_id=service,
        session={"invoked_by": service},
    )
    event_time = datetime.fromtimestamp(now, UTC)
    params = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": duration}
    resources = [{"ARN": role_arn, "accountId": account, "type": "AWS::IAM::Role"}] if account else []
    if not allowed:
        err = ServiceCannotAssumeRole(
            f"User: {service} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", decision
        )
        rec = record(
            service="sts",
            operation="AssumeRole",
            caller=service_caller,
            account=account or "",
            region=region or config.region,
            event_time=event_time,
            request_id=ids.request_id(),
            source_ip=service,
            user_agent=service,
            read_only=True,
            request_parameters=params,
            error_code=err.code,
            error_message=err.message,
            resources=resources,
        )
        explanation = (
            explain_decision(decision) if decision is not None else explain_missing_role(service, role_arn)
        )
        rec["additionalEventData"] = {"rolecallExplanation": explanation}
        host.record(account or config.default_account, _aws_service_identity(rec, service))
        raise err
    assert role is not None and config.token_box is not None
    session = role_session(
        role, account, session_name, now, duration, context=dict(session_context or {}), invoked_by=service
    )
    creds = ServiceCredentials(session, seal(config.token_box, session))
    rec = record(
        service="sts",
        operation="AssumeRole",
        caller=service_caller,
        account=account,
        region=region or config.region,
        event_time=event_time,
        request_id=ids.request_id(),
        source_ip=service,
        user_agent=service,
        read_only=True,
        request_parameters=params,
        response_elements={
            "Credentials": creds.as_dict(),
            "AssumedRoleUser": {"AssumedRoleId": session.principal_id, "Arn": session.arn},
        },
        resources=resources,
    )
    host.record(account, _aws_service_identity(rec, service))
    return creds


def _aws_service_identity(rec: dict[str, Any], service: str) -> dict[str, Any]:
    """CloudTrail's identity for a call a service makes itself: {"type": "AWSService", "invokedBy": ...}."""
    rec["userIdentity"] = {"type": "AWSService", "invokedBy": service}
    if "credentials" in (rec.get("responseElements") or {}):
        rec["responseElements"]["credentials"].pop("token", None)
    return rec
