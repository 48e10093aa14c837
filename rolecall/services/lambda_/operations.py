"""Lambda's operations: functions (create, read, list, update, delete) and their invocation.

Handing a role to a function needs iam:PassRole on it (iam:PassedToService = lambda.amazonaws.com), and
the role must exist and trust Lambda. Invoke resolves the function in its transaction and runs it after
the commit (OpContext.defer), so no store lock is held while the function runs and calls back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.lambda_.code import BadZip, CodeStore, inspect_zip
from rolecall.services.lambda_.code_url import code_url
from rolecall.services.lambda_.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    InvalidRuntimeException,
    RequestTooLargeException,
    ResourceConflictException,
)
from rolecall.services.lambda_.functions import (
    KIND,
    RUNNABLE_RUNTIME,
    as_reported,
    check_environment,
    check_execution_role,
    check_limits,
    check_revision,
    check_runtime,
    configuration,
    environment_variables,
    function_arn,
    function_owner,
    function_ref,
    load,
    logging_config,
    new_configuration,
    pass_role,
    set_environment,
    touch,
)
from rolecall.services.lambda_.invoke import Job, endpoint_url
from rolecall.store import Conflict

if TYPE_CHECKING:
    from rolecall.services.lambda_ import Lambda

    pass

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD = 1024 * 1024
MAX_LIST_ITEMS = 50
UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _read_package(code: dict[str, Any]) -> tuple[bytes, Any]:
    data = code.get("ZipFile")
    if data is None:
        if code.get("S3Bucket") or code.get("S3Key") or code.get("ImageUri"):
            raise InvalidParameterValueException("rolecall accepts function code as Code.ZipFile only.")
        raise InvalidParameterValueException("Please provide a source for function code.")
    try:
        return data, inspect_zip(data)
    except BadZip:
        raise InvalidParameterValueException(UNZIP_FAILED) from None


def _marker(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _unmarker(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidParameterValueException(f"Invalid marker: {marker}") from None


# Function settings rolecall does not implement: publishing versions, VPCs, dead-letter queues, KMS, layers,
# file systems, code signing, container images, SnapStart, tenancy, capacity providers, durable functions,
# accelerators; X-Ray tracing and JSON or filtered logs (LoggingConfig's LogGroup is honoured). The values
# that describe what rolecall does anyway are accepted.
_CONFIG_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    name: ()
    for name in (
        "VpcConfig",
        "DeadLetterConfig",
        "KMSKeyArn",
        "Layers",
        "FileSystemConfigs",
        "ImageConfig",
        "CapacityProviderConfig",
        "DurableConfig",
        "RuntimeConfig",
        "AcceleratorConfig",
        "LoggingConfig.ApplicationLogLevel",
        "LoggingConfig.SystemLogLevel",
    )
} | {
    "SnapStart": ({"ApplyOn": "None"},),
    "TracingConfig.Mode": ("PassThrough",),
    "LoggingConfig.LogFormat": ("Text",),
}
_PUBLISH_UNSUPPORTED: dict[str, tuple[Any, ...]] = {"Publish": (False,), "PublishTo": ()}
# Code from S3 or an image is refused by _read_package; these would be ignored beside a ZipFile.
_CODE_UNSUPPORTED = ("S3ObjectVersion", "S3ObjectStorageMode", "SourceKMSKeyArn")


class FunctionOperations(Family):
    service: Lambda

    # -- functions -----------------------------------------------------------------------------------------

    @operation(
        "lambda:CreateFunction",
        resource=function_arn,
        resource_policy=function_owner,
        extra=pass_role,
        unsupported=_CONFIG_UNSUPPORTED
        | _PUBLISH_UNSUPPORTED
        | {"CodeSigningConfigArn": (), "TenancyConfig": ()}
        | {f"Code.{name}": () for name in _CODE_UNSUPPORTED},
    )
    def CreateFunction(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = function_ref(ctx, params)
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                "Unsupported Qualifier: Qualifiers are not allowed when creating a function."
            )
        if params.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException(
                "rolecall runs .zip deployment packages only (PackageType Zip)."
            )
        if not params.get("Runtime") or not params.get("Handler"):
            raise InvalidParameterValueException(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages."
            )
        check_runtime(params["Runtime"])
        check_limits(params)
        check_environment(params.get("Environment"))
        data, info = _read_package(params["Code"])
        check_execution_role(ctx, params["Role"], ref)
        if ctx.tx.get(ref.account, KIND, ref.key) is not None:
            raise ResourceConflictException(f"Function already exist: {ref.name}")
        config = new_configuration(ctx, ref, params)
        config.update(CodeSize=info.size, CodeSha256=info.sha256_b64)
        touch(ctx, config)
        CodeStore(ctx.tx).save(ref.account, ref.region, ref.name, data, info)
        doc = {
            "Configuration": config,
            "Tags": dict(params.get("Tags") or {}),
            "CodeSha256Hex": info.sha256_hex,
        }
        if params.get("Environment") is not None:
            set_environment(ctx, doc, params["Environment"])
        try:
            ctx.tx.insert(ref.account, KIND, ref.key, doc)
        except Conflict:
            raise ResourceConflictException(f"Function already exist: {ref.name}") from None
        return as_reported(configuration(ctx, doc), "Pending")

    @operation("lambda:GetFunction", resource=function_arn, resource_policy=function_owner)
    def GetFunction(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = function_ref(ctx, params)
        doc = load(ctx, ref)
        location = code_url(
            ctx.host, endpoint_url(ctx.config), ref.account, ref.region, ref.name, doc["CodeSha256Hex"]
        )
        out: dict[str, Any] = {
            "Configuration": configuration(ctx, doc),
            "Code": {"RepositoryType": "S3", "Location": location},
        }
        if doc.get("Tags"):
            out["Tags"] = doc["Tags"]
        return out

    @operation("lambda:GetFunctionConfiguration", resource=function_arn, resource_policy=function_owner)
    def GetFunctionConfiguration(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return configuration(ctx, load(ctx, function_ref(ctx, params)))

    # FunctionVersion=ALL lists every version: with no published versions here, the same list.
    @operation("lambda:ListFunctions", unsupported=["MasterRegion"])  # Lambda@Edge replicas
    def ListFunctions(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{ctx.region}/"
        names = sorted(
            doc["Configuration"]["FunctionName"]
            for doc in ctx.tx.list(ctx.account, KIND)
            if doc["Configuration"]["FunctionArn"].split(":")[3] == ctx.region
        )
        start = 0
        if params.get("Marker"):
            after = _unmarker(params["Marker"])
            start = next((i for i, n in enumerate(names) if n >= after), len(names))
        limit = min(params.get("MaxItems") or MAX_LIST_ITEMS, MAX_LIST_ITEMS)
        page = names[start : start + limit]
        docs = [ctx.tx.get(ctx.account, KIND, prefix + n) for n in page]
        functions = [configuration(ctx, doc) for doc in docs if doc is not None]
        out: dict[str, Any] = {"Functions": functions}
        if start + limit < len(names):
            out["NextMarker"] = _marker(names[start + limit])
        return out

    @operation("lambda:DeleteFunction", resource=function_arn, resource_policy=function_owner)
    def DeleteFunction(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = function_ref(ctx, params)
        if ref.qualifier == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        load(ctx, ref)
        ctx.tx.delete(ref.account, KIND, ref.key)
        CodeStore(ctx.tx).delete(ref.account, ref.region, ref.name)
        cache = self.service.code_cache()  # this node's unpacked copy; other nodes drop theirs when they next need it
        ctx.after_commit(lambda: cache.forget(ref.account, ref.region, ref.name))
        return {"StatusCode": 204}

    @operation(
        "lambda:UpdateFunctionCode",
        resource=function_arn,
        resource_policy=function_owner,
        unsupported=_PUBLISH_UNSUPPORTED | {name: () for name in _CODE_UNSUPPORTED},
    )
    def UpdateFunctionCode(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = function_ref(ctx, params)
        doc = load(ctx, ref)
        config = doc["Configuration"]
        check_revision(config, params)
        data, info = _read_package(params)
        if params.get("DryRun"):
            return as_reported(configuration(ctx, doc))
        packages = CodeStore(ctx.tx)
        packages.save(ref.account, ref.region, ref.name, data, info)
        packages.prune(ref.account, ref.region, ref.name, info.sha256_hex)
        config.update(CodeSize=info.size, CodeSha256=info.sha256_b64)
        if params.get("Architectures"):
            config["Architectures"] = params["Architectures"]
        touch(ctx, config)
        doc["CodeSha256Hex"] = info.sha256_hex
        ctx.tx.update(ref.account, KIND, ref.key, doc)
        cache = self.service.code_cache()
        ctx.after_commit(lambda: cache.forget(ref.account, ref.region, ref.name, keep=info.sha256_hex))
        return as_reported(configuration(ctx, doc), "InProgress")

    @operation(
        "lambda:UpdateFunctionConfiguration",
        resource=function_arn,
        resource_policy=function_owner,
        extra=pass_role,
        unsupported=_CONFIG_UNSUPPORTED,
    )
    def UpdateFunctionConfiguration(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = function_ref(ctx, params)
        doc = load(ctx, ref)
        config = doc["Configuration"]
        check_revision(config, params)
        check_limits(params)
        if params.get("Runtime"):
            check_runtime(params["Runtime"])
        if params.get("Environment") is not None:
            check_environment(params["Environment"])
        if params.get("Role"):
            check_execution_role(ctx, params["Role"], ref)
        for member in (
            "Role",
            "Handler",
            "Description",
            "Timeout",
            "MemorySize",
            "Runtime",
            "EphemeralStorage",
        ):
            if params.get(member) is not None:
                config[member] = params[member]
        if params.get("Environment") is not None:
            set_environment(ctx, doc, params["Environment"])
        if params.get("TracingConfig", {}).get("Mode"):
            config["TracingConfig"] = {"Mode": params["TracingConfig"]["Mode"]}
        if params.get("LoggingConfig"):
            config["LoggingConfig"] = logging_config(
                ref.name, params["LoggingConfig"], config.get("LoggingConfig")
            )
        touch(ctx, config)
        ctx.tx.update(ref.account, KIND, ref.key, doc)
        return as_reported(configuration(ctx, doc), "InProgress")


class InvokeOperations(Family):
    service: Lambda

    @operation(
        "lambda:InvokeFunction",
        resource=function_arn,
        resource_policy=function_owner,
        read_only=False,
        trail_response=False,
        unsupported=["DurableExecutionName", "TenantId"],  # durable functions, tenant isolation
    )
    def Invoke(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = function_ref(ctx, params)
        doc = load(ctx, ref)
        config = doc["Configuration"]
        kind = params.get("InvocationType", "RequestResponse")
        payload = params.get("Payload", b"")
        limit = MAX_EVENT_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        if payload.strip():
            try:
                json.loads(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidRequestContentException(
                    f"Could not parse request body into json: Could not parse payload into json: {exc}"
                ) from None
        client_context = None
        if params.get("ClientContext"):
            try:
                client_context = json.loads(base64.b64decode(params["ClientContext"], validate=True))
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise InvalidRequestContentException(
                    "Client context must be a valid Base64-encoded JSON object."
                ) from None
        if kind == "DryRun":  # authorized and validated: that is all a dry run asks
            return {"StatusCode": 204}
        if not RUNNABLE_RUNTIME.fullmatch(config.get("Runtime") or ""):
            raise InvalidRuntimeException(
                f"The runtime parameter of {config.get('Runtime')} is not supported: rolecall runs python3.x "
                "functions only."
            )
        job = Job(
            ref=ref,
            config=json.loads(json.dumps(config)),
            variables=environment_variables(ctx, doc) or {},
            code_sha256_hex=doc["CodeSha256Hex"],
            request_id=ctx.request_id,
            payload=payload,
            client_context=client_context,
            log_tail=params.get("LogType") == "Tail" and kind == "RequestResponse",
        )
        runner = self.service.runner()
        if kind == "Event":
            ctx.defer(lambda: runner.run_later(job))
            return {"StatusCode": 202}
        ctx.defer(lambda: runner.run_now(job))
        return {}
