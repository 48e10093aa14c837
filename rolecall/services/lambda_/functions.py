"""Lambda functions as rolecall stores them: names and ARNs, configuration documents, Lambda's own checks.

A function is one store document of kind "lambda:function" named "REGION/NAME" in its account:
{"Configuration": <FunctionConfiguration as GetFunction returns it, less Environment>, "Tags": {...},
"CodeSha256Hex": ..., "EnvironmentSealed": ...}. Environment variables often hold secrets, so they are kept
only sealed under the store's master key, as secret access keys are, and opened to answer GetFunction and
its kin and to run the function. Its code lives on disk (rolecall.services.lambda_.code).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rolecall.authz.principals import compiled
from rolecall.core.context import OpContext
from rolecall.errors import summarize, violation
from rolecall.policy import Request, evaluate
from rolecall.services.lambda_.errors import (
    CrossAccountPassRole,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceNotFoundException,
    ValidationException,
)

KIND = "lambda:function"
LAMBDA_SERVICE = "lambda.amazonaws.com"
ROLE_CANNOT_BE_ASSUMED = "The role defined for the function cannot be assumed by Lambda."
CROSS_ACCOUNT_PASS_ROLE = "Cross-account pass role is not allowed."
MAX_TIMEOUT = 900
MAX_MEMORY = 10240
MAX_ENVIRONMENT_BYTES = 4096
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
RUNNABLE_RUNTIME = re.compile(r"python3\.\d+")
# Runtimes Lambda no longer accepts for new or updated functions, with the one it suggests instead.
BLOCKED_RUNTIMES = frozenset({"python2.7", "python3.6", "python3.7"})
SUGGESTED_RUNTIME = "python3.13"
# Variables Lambda sets itself; a function may not set them (Lambda's "reserved keys").
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_FUNCTION_NAME = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"|(?P<short_account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)


# -- Lambda's errors ------------------------------------------------------------------------------------------


# -- names and ARNs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionRef:
    account: str
    region: str
    name: str
    qualifier: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def qualified_arn(self) -> str:
        return f"{self.arn}:{self.qualifier}" if self.qualifier else self.arn

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}"


def function_ref(ctx: OpContext, params: dict[str, Any]) -> FunctionRef:
    """The function a request names: a name, a partial ARN (ACCOUNT:function:NAME) or an ARN, optionally with
    a qualifier, which must then agree with the Qualifier parameter."""
    text = params.get("FunctionName", "")
    found = _FUNCTION_NAME.fullmatch(text)
    if found is None:
        raise InvalidParameterValueException(
            f"Invalid function name: {text}"
        )  # the model's pattern catches most
    account = found["account"] or found["short_account"] or ctx.account
    qualifier = found["qualifier"]
    given = params.get("Qualifier")
    if given is not None and qualifier is not None and given != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionRef(account, found["region"] or ctx.region, found["name"], given or qualifier)


def function_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    """The resource an operation on one function is authorized against."""
    return function_ref(ctx, params).qualified_arn


def function_owner(ctx: OpContext, params: dict[str, Any]) -> tuple[None, str | None]:
    """A function of another account is reached through its resource policy, which rolecall does not keep
    (AddPermission): naming its owner makes the policy engine require one, so such calls are refused."""
    ref = function_ref(ctx, params)
    return None, (ref.account if ref.account != ctx.account else None)


def load(ctx: OpContext, ref: FunctionRef) -> dict[str, Any]:
    """The stored function, or Lambda's ResourceNotFoundException. Only $LATEST exists (no versions)."""
    doc = ctx.tx.get(ref.account, KIND, ref.key)
    if doc is None or doc["Configuration"]["FunctionName"] != ref.name:
        raise ResourceNotFoundException(f"Function not found: {ref.qualified_arn}")
    if ref.qualifier not in (None, "$LATEST"):
        raise ResourceNotFoundException(f"Function not found: {ref.qualified_arn}")
    return doc


# -- configuration -------------------------------------------------------------------------------------------


def timestamp(ctx: OpContext) -> str:
    """LastModified as Lambda writes it: 2024-05-01T12:30:15.123+0000."""
    now = datetime.fromtimestamp(ctx.clock.time(), UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def new_configuration(ctx: OpContext, ref: FunctionRef, params: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "FunctionName": ref.name,
        "FunctionArn": ref.arn,
        "Runtime": params.get("Runtime"),
        "Role": params["Role"],
        "Handler": params.get("Handler"),
        "Description": params.get("Description", ""),
        "Timeout": params.get("Timeout", DEFAULT_TIMEOUT),
        "MemorySize": params.get("MemorySize", DEFAULT_MEMORY),
        "Version": "$LATEST",
        "TracingConfig": {"Mode": (params.get("TracingConfig") or {}).get("Mode", "PassThrough")},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": logging_config(ref.name, params.get("LoggingConfig")),
    }
    return config


# -- environment variables, sealed at rest ----------------------------------------------------------------


def set_environment(ctx: OpContext, doc: dict[str, Any], environment: dict[str, Any]) -> None:
    """Keep a request's Environment in the function's document, its variables sealed."""
    variables = dict(environment.get("Variables") or {})
    doc["Configuration"].pop("Environment", None)  # a document written before variables were sealed
    doc["EnvironmentSealed"] = ctx.config.secret_box.seal(json.dumps(variables))


def environment_variables(ctx: OpContext, doc: dict[str, Any]) -> dict[str, str] | None:
    """The function's variables, or None when it was never given an Environment."""
    if "EnvironmentSealed" in doc:
        variables: dict[str, str] = json.loads(ctx.config.secret_box.open(doc["EnvironmentSealed"]))
        return variables
    legacy = doc["Configuration"].get("Environment")  # stored in the clear by an earlier rolecall
    return dict(legacy.get("Variables") or {}) if legacy is not None else None


def configuration(ctx: OpContext, doc: dict[str, Any]) -> dict[str, Any]:
    """The FunctionConfiguration Lambda reports, its Environment opened."""
    config = dict(doc["Configuration"])
    variables = environment_variables(ctx, doc)
    if variables is not None:
        config["Environment"] = {"Variables": variables}
    return config


def logging_config(name: str, given: dict[str, Any] | None, current: dict[str, Any] | None = None) -> dict:
    config = dict(current or {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"})
    config.update({k: v for k, v in (given or {}).items() if v is not None})
    return config


def touch(ctx: OpContext, config: dict[str, Any]) -> None:
    """What every change does: a new RevisionId and LastModified."""
    config["LastModified"] = timestamp(ctx)
    config["RevisionId"] = str(uuid.uuid4())


def as_reported(config: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    """The configuration as an operation returns it: right after a change Lambda reports it in progress."""
    out = dict(config)
    if state == "Pending":
        out.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
    elif state == "InProgress":
        out.update(
            LastUpdateStatus="InProgress",
            LastUpdateStatusReason="The function is being created.",
            LastUpdateStatusReasonCode="Creating",
        )
    return out


# -- Lambda's checks ------------------------------------------------------------------------------------------


def check_limits(params: dict[str, Any]) -> None:
    """Range checks Lambda applies beyond its model's (Timeout <= 900 s, MemorySize <= 10240 MB)."""
    problems = []
    if params.get("Timeout") is not None and params["Timeout"] > MAX_TIMEOUT:
        problems.append(
            violation(
                params["Timeout"], "timeout", f"Member must have value less than or equal to {MAX_TIMEOUT}"
            )
        )
    if params.get("MemorySize") is not None and params["MemorySize"] > MAX_MEMORY:
        problems.append(
            violation(
                params["MemorySize"],
                "memorySize",
                f"Member must have value less than or equal to {MAX_MEMORY}",
            )
        )
    if problems:
        raise ValidationException(summarize(problems))


def check_runtime(runtime: str | None) -> None:
    if runtime in BLOCKED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            f"functions. We recommend you use the new runtime ({SUGGESTED_RUNTIME}) while creating or "
            "updating functions."
        )


def check_environment(environment: dict[str, Any] | None) -> None:
    variables = (environment or {}).get("Variables") or {}
    reserved = sorted(k for k in variables if k in RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you "
            "have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode("utf-8")) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided exceeded the 4KB limit. String measured: {measured}"
        )


def check_revision(config: dict[str, Any], params: dict[str, Any]) -> None:
    if params.get("RevisionId") is not None and params["RevisionId"] != config.get("RevisionId"):
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
            "to retrieve the latest Revision Id"
        )


def check_execution_role(ctx: OpContext, role_arn: str, function: FunctionRef) -> None:
    """The role must exist and its trust policy must let Lambda assume it for this function, judged with the
    context Lambda's AssumeRole carries (as rolecall.services.sts.service_sessions builds it), so a trust policy pinned to
    another function by aws:SourceArn refuses here already."""

    check_same_account(ctx, role_arn)
    parts = role_arn.split(":", 5)
    role = None
    if len(parts) == 6 and parts[5].startswith("role/"):
        role = ctx.tx.get(parts[4], "role", parts[5].rsplit("/", 1)[-1])
    if role is None or role["Arn"] != role_arn:
        raise InvalidParameterValueException(ROLE_CANNOT_BE_ASSUMED)
    now = ctx.clock.time()
    context = {
        "aws:PrincipalServiceName": LAMBDA_SERVICE,
        "aws:PrincipalIsAWSService": "true",
        "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now)),
        "sts:RoleSessionName": function.name,
        "aws:SourceArn": function.arn,
        "aws:SourceAccount": function.account,
    }
    trust = compiled(role["AssumeRolePolicyDocument"], "trust", f"trust policy of {role_arn}")
    decision = evaluate(
        Request(action="sts:AssumeRole", resource=role_arn, principal=LAMBDA_SERVICE, context=context),
        identity=[],
        resource_policy=trust,
        resource_account=parts[4],
    )
    if not decision.allowed:
        raise InvalidParameterValueException(ROLE_CANNOT_BE_ASSUMED)


def role_account(role_arn: str) -> str | None:
    parts = role_arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[2] == "iam" else None


def check_same_account(ctx: OpContext, role_arn: str) -> None:
    """A principal can pass only a role of its own account to a service (IAM's PassRole rule): Lambda
    refuses another account's role whatever the caller's policies and the role's trust policy say."""
    account = role_account(role_arn)
    if account is not None and account != ctx.account:
        raise CrossAccountPassRole(CROSS_ACCOUNT_PASS_ROLE)


def pass_role(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """iam:PassRole on the execution role a request hands to Lambda. Another account's role asks for no
    permission: no permission could pass it, and the handler refuses it (check_same_account)."""
    role = params.get("Role")
    if not role or role_account(role) not in (None, ctx.account):
        return []
    context = {
        "iam:PassedToService": LAMBDA_SERVICE,
        "iam:AssociatedResourceArn": function_ref(ctx, params).arn,
    }
    return [("iam:PassRole", role, context)]
