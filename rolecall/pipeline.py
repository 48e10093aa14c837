"""The one request path: decode -> authenticate -> authorize -> handle -> record -> encode.

Every service goes through here. Handlers receive validated input and an open transaction; they
never see HTTP, signatures or policies.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rolecall import ids
from rolecall.audit import TrailWriter, record, sensitive_members
from rolecall.authn import Authenticator, root_caller
from rolecall.authz import PolicyCache, decide, denial, principal_policies, resources_of
from rolecall.clock import Clock
from rolecall.config import ServerConfig
from rolecall.errors import AwsError, InternalFailure, InvalidClientTokenId, NotImplementedOperation
from rolecall.member_guard import MemberGuard
from rolecall.services.base import Caller, OpContext, Service
from rolecall.store import Store
from rolecall.wire import HttpRequest, HttpResponse, codec_for, service_from_request
from rolecall.wire.sigv4 import parse_signature

log = logging.getLogger("rolecall")

ROLE_USE_INTERVAL = 3600  # seconds between RoleLastUsed updates of one role

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
        kind = parts[5].split("/", 1)[0].split(":", 1)[0]  # role/NAME, log-group:NAME:...
        rtype = _IAM_TYPES.get(kind) if parts[2] == "iam" else None
        if parts[2] == "s3":  # arn:aws:s3:::bucket, arn:aws:s3:::bucket/key
            rtype = "AWS::S3::Object" if "/" in parts[5] else "AWS::S3::Bucket"
        out.append({"ARN": arn, "accountId": parts[4], "type": rtype or f"AWS::{parts[2].upper()}::{kind}"})
    return out


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

    def records(self, fallback_account: str = "") -> list[tuple[str, dict[str, Any]]]:
        """(account, record) pairs: the caller's account, and a copy for each other account whose resource
        the request touched, linked by sharedEventID, as CloudTrail delivers cross-account calls."""
        account = self.caller.account if self.caller else fallback_account
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


def session_token_without_mfa(caller: Caller) -> bool:
    session = caller.session
    return bool(session) and session.get("kind") == "user" and not session.get("mfa")


def default_services() -> dict[str, Service]:
    from rolecall.services.cloudtrail import CloudTrail
    from rolecall.services.ec2 import EC2
    from rolecall.services.iam import IAM
    from rolecall.services.lambda_ import Lambda
    from rolecall.services.logs import Logs
    from rolecall.services.s3 import S3
    from rolecall.services.sts import STS

    return {s.name: s for s in (IAM(), STS(), CloudTrail(), Logs(), EC2(), Lambda(), S3())}


class Pipeline:
    def __init__(
        self,
        store: Store,
        config: ServerConfig,
        clock: Clock | None = None,
        services: dict[str, Service] | None = None,
    ):
        self.store = store
        self.config = config
        self.clock = clock or Clock()
        self.services = services or default_services()
        self.authn = Authenticator(store, config)
        self.policies = PolicyCache()
        self.trail = TrailWriter(store)
        self.members = MemberGuard()  # refuses members a handler does not honour
        self._role_use: dict[str, float] = {}
        self.config.extra.setdefault("flush_trail", self.trail.flush)
        self.config.extra.setdefault("pipeline", self)
        from rolecall.imds import ImdsManager

        self.imds = ImdsManager(self)  # one metadata endpoint per running instance
        self.imds.start_known()

    def close(self) -> None:
        self.imds.close()
        self.trail.close()

    def reset(self) -> None:
        """Empty all state (moto's /moto-api/reset, with --auth off) and recreate the default account."""
        from rolecall.accounts import ensure_default_account

        self.trail.flush()
        self.imds.close()
        self.store.reset()
        ensure_default_account(self.store, self.config.secret_box, self.config.default_account)

    def _caller(self, req: HttpRequest, generation: int, now: float) -> tuple[Caller, str | None]:
        if self.config.auth_mode == "off":
            info = parse_signature(req)
            return root_caller(self.config.default_account, info.access_key_id if info else None), (
                info.region if info else None
            )
        info = self.authn.signature(req)
        return self.authn.authenticate(req, info, generation, now), info.region

    def handle(self, req: HttpRequest) -> HttpResponse:
        if req.path.startswith("/_rolecall/imds/"):  # which port serves an instance's metadata
            return self.imds.endpoint_response(req)
        if req.path.startswith("/_rolecall/lambda/code/") and "lambda" in self.services:  # Code.Location
            return self.services["lambda"].code_download(self, req)  # type: ignore[attr-defined]
        service_name = service_from_request(req) or "iam"
        service = self.services.get(service_name)
        codec = codec_for(service_name if service else "iam")
        now = self.clock.time()
        event = RequestEvent(
            service_name,
            service.model if service else "",
            req,
            datetime.fromtimestamp(now, UTC),
            self.config.region,
        )
        try:
            generation = self.store.generation()
            caller, scope_region = self._caller(req, generation, now)
            event.caller, event.region = caller, scope_region or event.region
            if service_name == "iam" and session_token_without_mfa(caller):
                # GetSessionToken's credentials cannot call IAM without MFA; IAM says the token is invalid.
                raise InvalidClientTokenId("The security token included in the request is invalid")
            if service is None:
                raise NotImplementedOperation(f"rolecall does not implement the {service_name} service.")
            operation, params = codec.decode(req)
            event.operation, event.params = operation, params
            handler = service.handler(operation)
            if handler is None:
                raise NotImplementedOperation(f"rolecall does not implement {service_name}:{operation} yet.")
            self.members.check(service.model, operation, handler, params)
            event.read_only = handler.read_only
            changes_state = not handler.read_only
            with self._transaction(not changes_state) as tx:
                ctx = OpContext(
                    service=service_name,
                    operation=operation,
                    account=caller.account,
                    region=event.region,
                    caller=caller,
                    store=self.store,
                    tx=tx,
                    clock=self.clock,
                    request_id=event.request_id,
                    source_ip=req.remote_addr or "127.0.0.1",
                    user_agent=req.headers.get("user-agent", ""),
                    config=self.config,
                )
                auth = handler.authorization
                if not auth.public:
                    arns = resources_of(auth, ctx, params)
                    event.resources = trail_resources(arns)
                    if self.config.auth_mode != "off":
                        self._authorize(ctx, auth, params, arns, generation, event.extra)
                output = handler(ctx, params) or {}
                event.resources = ctx.trail_resources or event.resources
                if handler.trail_response:
                    event.output = output
                if changes_state and not ctx.deferred:  # the record of a change commits with the change
                    for account, rec in event.records():
                        tx.append_event(account, rec)
            for cleanup in ctx.cleanups:
                try:
                    cleanup()
                except Exception:  # the change is committed; a leftover file must not fail the request
                    log.exception("cleanup after %s:%s failed", service_name, operation)
            for work in ctx.deferred:  # after the commit: no store lock is held while it runs
                output.update(work() or {})
            if caller.type == "AssumedRole":
                self._note_role_use(caller, event.region, now)
            response = codec.encode(operation, output, event.request_id)
            if not changes_state or ctx.deferred:
                self._record(event)
            return response
        except AwsError as err:
            event.error = err
            self._record(event)
            return codec.encode_error(err, event.request_id, event.operation)
        except Exception:
            log.exception(
                "internal error in %s:%s (request %s)", service_name, event.operation, event.request_id
            )
            event.error = InternalFailure(
                "An internal error occurred in rolecall; the request changed nothing."
            )
            self._record(event)
            return codec.encode_error(event.error, event.request_id, event.operation)

    def _record(self, event: RequestEvent) -> None:
        for account, rec in event.records(self.config.default_account):
            self.trail.put(account, rec)

    def _transaction(self, read_only: bool):
        """Reads run on a snapshot without the write lock where the store offers one."""
        if read_only and hasattr(self.store, "read_transaction"):
            return self.store.read_transaction()
        return self.store.transaction()

    def _note_role_use(self, caller: Caller, region: str, now: float) -> None:
        """RoleLastUsed, as AWS keeps it: date and region, refreshed at most hourly per role."""
        role_id = (caller.session or {}).get("role_id")
        if not role_id or now - self._role_use.get(role_id, 0) < ROLE_USE_INTERVAL:
            return
        self._role_use[role_id] = now
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.store.transaction() as tx:
                role = tx.get(caller.account, "role", caller.session["role_name"])
                if role is None or role.get("RoleId") != role_id:
                    return
                last = (role.get("RoleLastUsed") or {}).get("LastUsedDate", "")
                if last and datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() > (
                    now - ROLE_USE_INTERVAL
                ):
                    return
                role["RoleLastUsed"] = {"LastUsedDate": stamp, "Region": region}
                tx.update(caller.account, "role", role["RoleName"], role)
        except Exception:  # bookkeeping must never fail the request it describes
            log.exception("could not record RoleLastUsed for %s", role_id)

    def _authorize(
        self, ctx: OpContext, auth, params, arns: list[str], generation: int, extra: dict[str, Any]
    ) -> None:
        policies = principal_policies(ctx, self.policies, generation)
        for check in decide(auth, ctx, params, policies, arns):
            if check.decision.allowed:
                continue
            err = self._denial(ctx, check)
            if self.config.auth_mode == "soft":
                log.warning("soft auth: would deny: %s", err.message)
                extra["rolecallWouldDeny"] = err.message
                continue
            raise err

    def _denial(self, ctx: OpContext, check) -> AwsError:
        """The error a refused check gives: the service's own (EC2's UnauthorizedOperation) if it has
        `denial(ctx, check, context)`, else IAM's AccessDenied."""
        custom = getattr(self.services.get(ctx.service), "denial", None)
        if custom is None:
            return denial(ctx.caller, check.action, check.resource, check.decision)
        return custom(ctx, check, check.context)
