"""The one request path: decode -> authenticate -> authorize -> handle -> record -> encode.

Every service goes through here. Handlers receive validated input and an open transaction; they
never see HTTP, signatures or policies.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from rolecall import ids
from rolecall.audit import TrailWriter, record
from rolecall.authn import Authenticator, root_caller
from rolecall.authz import PolicyCache, decide, denial, principal_policies, resources_of
from rolecall.clock import Clock
from rolecall.config import ServerConfig
from rolecall.errors import AwsError, InternalFailure, NotImplementedOperation
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
        kind = parts[5].split("/", 1)[0]
        rtype = _IAM_TYPES.get(kind) if parts[2] == "iam" else None
        out.append({"ARN": arn, "accountId": parts[4], "type": rtype or f"AWS::{parts[2].upper()}::{kind}"})
    return out


def default_services() -> dict[str, Service]:
    from rolecall.services.cloudtrail import CloudTrail
    from rolecall.services.iam import IAM
    from rolecall.services.sts import STS

    return {s.name: s for s in (IAM(), STS(), CloudTrail())}


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
        self._role_use: dict[str, float] = {}
        self.config.extra.setdefault("flush_trail", self.trail.flush)
        self.config.extra.setdefault("pipeline", self)

    def close(self) -> None:
        self.trail.close()

    def reset(self) -> None:
        """Empty all state (moto's /moto-api/reset, with --auth off) and recreate the default account."""
        from rolecall.accounts import ensure_default_account

        self.trail.flush()
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
        request_id = ids.request_id()
        service_name = service_from_request(req) or "iam"
        service = self.services.get(service_name)
        codec = codec_for(service_name if service else "iam")
        now = self.clock.time()
        event_time = datetime.fromtimestamp(now, UTC)
        caller: Caller | None = None
        operation: str | None = None
        params: dict[str, Any] | None = None
        region = self.config.region
        read_only = True
        resources: list[dict[str, str]] = []
        extra: dict[str, Any] = {}
        try:
            generation = self.store.generation()
            caller, scope_region = self._caller(req, generation, now)
            region = scope_region or region
            if service is None:
                raise NotImplementedOperation(f"rolecall does not implement the {service_name} service.")
            operation, params = codec.decode(req)
            handler = service.handler(operation)
            if handler is None:
                raise NotImplementedOperation(f"rolecall does not implement {service_name}:{operation} yet.")
            read_only = handler.read_only
            with self._transaction(read_only) as tx:
                ctx = OpContext(
                    service=service_name,
                    operation=operation,
                    account=caller.account,
                    region=region,
                    caller=caller,
                    store=self.store,
                    tx=tx,
                    clock=self.clock,
                    request_id=request_id,
                    source_ip=req.remote_addr or "127.0.0.1",
                    user_agent=req.headers.get("user-agent", ""),
                    config=self.config,
                )
                auth = handler.authorization
                if not auth.public:
                    arns = resources_of(auth, ctx, params)
                    resources = trail_resources(arns)
                    if self.config.auth_mode != "off":
                        self._authorize(ctx, auth, params, arns, generation, extra)
                output = handler(ctx, params) or {}
                resources = ctx.trail_resources or resources
                if not read_only:
                    tx.append_event(
                        caller.account,
                        self._record(
                            ctx.caller,
                            service_name,
                            operation,
                            caller.account,
                            region,
                            event_time,
                            request_id,
                            req,
                            read_only,
                            params,
                            output,
                            None,
                            resources,
                            extra,
                        ),
                    )
            if caller.type == "AssumedRole":
                self._note_role_use(caller, region, now)
            response = codec.encode(operation, output, request_id)
            if read_only:
                self.trail.put(
                    caller.account,
                    self._record(
                        caller,
                        service_name,
                        operation,
                        caller.account,
                        region,
                        event_time,
                        request_id,
                        req,
                        True,
                        params,
                        None,
                        None,
                        resources,
                        extra,
                    ),
                )
            return response
        except AwsError as err:
            self._record_failure(
                caller,
                service_name,
                operation,
                region,
                event_time,
                request_id,
                req,
                read_only,
                params,
                err,
                resources,
                extra,
            )
            return codec.encode_error(err, request_id, operation)
        except Exception:
            log.exception("internal error in %s:%s (request %s)", service_name, operation, request_id)
            err = InternalFailure("An internal error occurred in rolecall; the request changed nothing.")
            self._record_failure(
                caller,
                service_name,
                operation,
                region,
                event_time,
                request_id,
                req,
                read_only,
                params,
                err,
                resources,
                extra,
            )
            return codec.encode_error(err, request_id, operation)

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
            err = denial(ctx.caller, check.action, check.resource, check.decision)
            if self.config.auth_mode == "soft":
                log.warning("soft auth: would deny: %s", err.message)
                extra["rolecallWouldDeny"] = err.message
                continue
            raise err

    def _record(
        self,
        caller,
        service,
        operation,
        account,
        region,
        event_time,
        request_id,
        req,
        read_only,
        params,
        output,
        err,
        resources,
        extra,
    ) -> dict[str, Any]:
        rec = record(
            service=service,
            operation=operation or "Unknown",
            caller=caller,
            account=account,
            region=region,
            event_time=event_time,
            request_id=request_id,
            source_ip=req.remote_addr or "127.0.0.1",
            user_agent=req.headers.get("user-agent", ""),
            read_only=read_only,
            request_parameters=params,
            response_elements=output,
            error_code=err.code if err else None,
            error_message=err.message if err else None,
            resources=resources,
        )
        if extra:
            rec["additionalEventData"] = dict(extra)
        return rec

    def _record_failure(
        self,
        caller,
        service,
        operation,
        region,
        event_time,
        request_id,
        req,
        read_only,
        params,
        err,
        resources,
        extra,
    ) -> None:
        account = caller.account if caller else self.config.default_account
        self.trail.put(
            account,
            self._record(
                caller,
                service,
                operation,
                account,
                region,
                event_time,
                request_id,
                req,
                read_only,
                params,
                None,
                err,
                resources,
                extra,
            ),
        )
