"""The one request path: decode -> admit -> authenticate -> authorize -> handle -> record -> encode.

Every service goes through here. Handlers receive validated input and an open transaction; they
never see HTTP, signatures or policies. The pipeline knows services only through the `Service` base
(rolecall.core.operations): their operation tables and hooks. It is also the `Host` the services
reach the shared machinery through (rolecall.core.host).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from rolecall.audit import RequestEvent, TrailSink, TrailWriter, trail_resources
from rolecall.audit.explanations import explain_refusals
from rolecall.audit.requestlog import log_request, request_log
from rolecall.authn import Authenticator
from rolecall.authz.authorizer import Authorizer
from rolecall.clock import Clock
from rolecall.core.config import ServerConfig
from rolecall.core.context import Caller, Check, OpContext
from rolecall.core.host import CallResult
from rolecall.core.operations import OperationSpec, Service
from rolecall.credentials.accounts import ensure_default_account
from rolecall.errors import AwsError, InternalFailure, MissingAuthenticationToken, NotImplementedOperation
from rolecall.http import Headers, HttpRequest, HttpResponse
from rolecall.internal_client import call_api
from rolecall.store import Store, Tx
from rolecall.wire import Codec, codec_for
from rolecall.wire.dispatch import service_from_request
from rolecall.wire.envelopes import ErrorEnvelope, foreign, operation_hint, unserved_envelope
from rolecall.wire.member_guard import MemberGuard
from rolecall.wire.sigv4 import parse_signature

log = logging.getLogger("rolecall")

ROLE_USE_INTERVAL = 3600  # seconds between RoleLastUsed updates of one role
WARM_SERVICES = ("iam", "sts", "cloudtrail")  # whose models load at start (Pipeline.warm)


class Pipeline:
    """Serves requests for `services` over `store`; the Host every service is started with."""

    def __init__(
        self,
        store: Store,
        config: ServerConfig,
        services: Iterable[Service],
        clock: Clock | None = None,
        trail: TrailSink | None = None,
    ):
        self.store = store
        self.config = config
        self.clock = clock or Clock()
        self.services: dict[str, Service] = {s.name: s for s in services}
        self.authn = Authenticator(store, config)
        self.authorizer = Authorizer(config.auth_mode)
        self.trail: TrailSink = trail or TrailWriter(store)
        self.members = MemberGuard()  # refuses members a handler does not honour
        self._role_use: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        for service in self.services.values():
            service.start(self)
        self.warm()

    def warm(self, services: Iterable[str] = WARM_SERVICES) -> None:
        """Do now what the first request would otherwise pay for (tens of ms): load the service models and
        codecs, which the trail's scrubbing of sensitive members then shares. Only the control plane's by
        default: their models load in ~35 ms together, where EC2's alone takes ~200 ms, a cost every server
        start (and every test that starts one) would pay; those load at their first request."""
        for name in services:
            service = self.services.get(name)
            if service is not None:
                codec_for(service.model)

    def close(self) -> None:
        for service in self.services.values():
            service.stop()
        self.trail.close()

    def reset(self) -> None:
        """Empty all state (moto's /moto-api/reset, with --auth off) and recreate the default account."""
        self.trail.flush()
        for service in self.services.values():
            service.reset()
        self.store.reset()
        ensure_default_account(self.store, self.config.secret_box, self.config.default_account)

    # -- Host ---------------------------------------------------------------------------------------------

    def record(self, account: str, record: dict[str, Any]) -> None:
        self.trail.put(account, record)

    def action_of(self, service: str, operation: str) -> str | None:
        found = self.services.get(service)
        spec = found.handler(operation) if found is not None else None
        return spec.authorization.action or None if spec is not None else None

    def flush_trail(self) -> None:
        self.trail.flush()

    def authenticate(self, req: HttpRequest) -> Caller:
        return self._caller(req, self.store.generation(), self.clock.time())[0]

    def call(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        credentials: dict[str, str],
        region: str,
        *,
        user_agent: str = "rolecall-internal",
    ) -> CallResult:
        return call_api(
            self.handle, self.clock, service, operation, params, credentials, region, user_agent=user_agent
        )

    # -- the request path ---------------------------------------------------------------------------------

    def _caller(self, req: HttpRequest, generation: int, now: float) -> tuple[Caller, str | None]:
        if self.config.auth_mode == "off":
            info = parse_signature(req)
            caller = self.authn.identify(info, generation, now, self.config.default_account)
            return caller, (info.region if info else None)
        info = self.authn.signature(req)
        return self.authn.authenticate(req, info, generation, now), info.region

    def handle(self, req: HttpRequest, service: str | None = None) -> HttpResponse:
        """Serve one request; at --log-level info, log one line about it (rolecall.audit.requestlog).

        service: what service_from_request(req) gave, when the server has asked already (it costs a
        request about 1.5% of a GetCallerIdentity's instructions)."""
        if not request_log.isEnabledFor(logging.INFO):  # the hot path pays for no timing or formatting
            return self._serve(req, service)[0]
        started = time.perf_counter()
        response, event = self._serve(req, service)
        log_request(event, response.status, time.perf_counter() - started)
        return response

    def _serve(self, req: HttpRequest, known: str | None = None) -> tuple[HttpResponse, RequestEvent]:
        # An unmarked request is IAM's (the query protocol's default); one in JSON or CBOR is some service's
        # that rolecall does not serve.
        service_name = known or service_from_request(req) or (None if foreign(req) else "iam")
        service = self.services.get(service_name) if service_name else None
        codec = codec_for(service.model).for_request(req) if service else None
        # Errors go back in the protocol the client speaks, served service or not.
        errors: Codec | ErrorEnvelope = codec or unserved_envelope(req, service_name)
        now = self.clock.time()
        event = RequestEvent(
            service_name or "unknown",
            service.model if service else "",
            req,
            datetime.fromtimestamp(now, UTC),
            self.config.region,
        )
        try:
            generation = self.store.generation()
            caller: Caller | None
            try:
                caller, scope_region = self._caller(req, generation, now)
            except AwsError as err:
                hint = operation_hint(req)  # for the trail and the log, where the protocol names it plainly
                if codec is not None and hint in codec.operation_names:
                    event.operation = hint
                # AssumeRoleWithWebIdentity needs no signature: the identity is in the request.
                federated = service is not None and hint in service.federated_operations
                if not (federated and isinstance(err, MissingAuthenticationToken)):
                    raise (service.authentication_error(err) if service else err) from None
                caller, scope_region = None, None
            event.caller, event.region = caller, scope_region or event.region
            if service is None or codec is None:
                event.operation = operation_hint(req)
                what = f"the {service_name} service" if service_name else "this service"
                raise NotImplementedOperation(f"rolecall does not implement {what}.")
            if caller is not None:
                service.admit(caller)
            operation, params = codec.decode(req)
            event.operation, event.params = operation, params
            if operation in service.federated_operations:
                caller = event.caller = service.federated_caller(self, operation, params)
            elif caller is None:  # the Action the body names is not the one the hint read
                raise MissingAuthenticationToken("Request is missing Authentication Token")
            spec = service.handler(operation)
            if spec is None:
                raise NotImplementedOperation(f"rolecall does not implement {service_name}:{operation} yet.")
            self.members.check(service.model, operation, spec.unsupported, params)
            event.read_only = spec.read_only
            ctx, output = self._run(spec, service, caller, params, event, generation)
            if caller.type == "AssumedRole":
                self._note_role_use(caller, event.region, now)
            elif caller.session is None and caller.access_key_id:
                self._note_key_use(caller, service.name, event.region, now)
            response = codec.encode(operation, output, event.request_id)
            if spec.read_only or ctx.deferred:
                self._record(event)
            return response, event
        except AwsError as err:
            event.error = err
            self._record(event)
            return errors.encode_error(err, event.request_id, event.operation if codec else None), event
        except Exception:
            log.exception(
                "internal error in %s:%s (request %s)", service_name, event.operation, event.request_id
            )
            # Say what is true: before the commit nothing changed; after it (deferred work, encoding the
            # answer) the change stands, and a client that retries blindly would make it twice.
            event.error = InternalFailure(
                "An internal error occurred in rolecall after the request's change was saved; "
                "check the resource before retrying."
                if event.committed
                else "An internal error occurred in rolecall; the request changed nothing."
            )
            self._record(event)
            response = errors.encode_error(event.error, event.request_id, event.operation if codec else None)
            return response, event

    def invoke(
        self,
        caller: Caller,
        service_name: str,
        operation: str,
        params: dict[str, Any],
        *,
        region: str | None = None,
        source_ip: str = "127.0.0.1",
        user_agent: str = "rolecall-invoke",
    ) -> dict[str, Any]:
        """Run one operation as `caller` without HTTP or a signature: the model's validation, the service's
        admission, the member guard, authorization, the handler and the trail, exactly as handle() runs
        them once a request is decoded and authenticated. For in-process callers: tests, tools, the web
        console (whose browser's address and user agent the trail records), and a service acting as an AWS
        service principal (Host.invoke: CloudTrail writing log files, CloudWatch publishing an alarm to SNS),
        whose calls the trail shows as the service's. Raises the AwsError a client would get, its
        `request_id` set to the trail record's requestID."""
        service = self.services[service_name]
        spec = service.handler(operation)
        if spec is None:
            raise NotImplementedOperation(f"rolecall does not implement {service_name}:{operation} yet.")
        now = self.clock.time()
        if caller.type == "AWSService":  # CloudTrail shows a service's own calls as coming from the service
            user_agent, source_ip = caller.arn, caller.arn
        req = HttpRequest("POST", "/", headers=Headers({"user-agent": user_agent}), remote_addr=source_ip)
        event = RequestEvent(
            service_name, service.model, req, datetime.fromtimestamp(now, UTC), region or self.config.region
        )
        event.caller, event.operation, event.params = caller, operation, params
        try:
            codec_for(service.model).validate(operation, params)
            if operation in service.federated_operations:
                caller = event.caller = service.federated_caller(self, operation, params)
            service.admit(caller)
            self.members.check(service.model, operation, spec.unsupported, params)
            event.read_only = spec.read_only
            ctx, output = self._run(spec, service, caller, params, event, self.store.generation())
        except AwsError as err:
            event.error = err
            err.request_id = event.request_id
            self._record(event)
            raise
        if spec.read_only or ctx.deferred:
            self._record(event)
        return output

    def refusals_as(
        self, caller: Caller, service: str, operation: str, params: dict[str, Any], tx: Tx, region: str
    ) -> list[Check]:
        spec = self.services[service].handler(operation)
        if spec is None:
            raise NotImplementedOperation(f"rolecall does not implement {service}:{operation} yet.")
        ctx = OpContext(
            service=service,
            operation=operation,
            account=caller.account,
            region=region,
            caller=caller,
            tx=tx,
            host=self,
            request_id="",
            source_ip=caller.arn,
            user_agent=caller.arn,
        )
        auth = spec.authorization
        return self.authorizer.refused(ctx, auth, params, auth.resources(ctx, params))

    def _run(
        self,
        spec: OperationSpec,
        service: Service,
        caller: Caller,
        params: dict[str, Any],
        event: RequestEvent,
        generation: int,
    ) -> tuple[OpContext, dict[str, Any]]:
        """Authorize and handle one decoded request in its transaction; then the after-commit work."""
        req = event.req
        ctx: OpContext | None = None
        try:
            with self._transaction(spec.read_only, generation) as tx:
                ctx = OpContext(
                    service=service.name,
                    operation=spec.name,
                    account=caller.account,
                    region=event.region,
                    caller=caller,
                    tx=tx,
                    host=self,
                    request_id=event.request_id,
                    source_ip=req.remote_addr or "127.0.0.1",
                    user_agent=req.headers.get("user-agent", ""),
                    generation=generation,
                )
                auth = spec.authorization
                if not auth.public:
                    arns = auth.resources(ctx, params)
                    event.resources = trail_resources(arns)
                    refused = self.authorizer.refused(ctx, auth, params, arns)
                    if refused:
                        raise service.refuse(ctx, refused[0])
                output = spec.handler(ctx, params) or {}
                event.resources = ctx.trail_resources or event.resources
                explain_refusals(event, ctx)
                if spec.trail_response:
                    event.output = output
                if not spec.read_only and not ctx.deferred:  # the record of a change commits with the change
                    for account, rec in event.records():
                        tx.append_event(account, rec)
            event.committed = not spec.read_only
            for cleanup in ctx.cleanups:
                try:
                    cleanup()
                except Exception:  # the change is committed; a leftover file must not fail the request
                    log.exception("cleanup after %s:%s failed", service.name, spec.name)
            for work in ctx.deferred:  # after the commit: no store lock is held while it runs
                output.update(work() or {})
            return ctx, output
        except AwsError:
            if ctx is not None:
                explain_refusals(event, ctx)
            raise

    def _record(self, event: RequestEvent) -> None:
        for account, rec in event.records():
            self.trail.put(account, rec)

    def _transaction(self, read_only: bool, generation: int) -> AbstractContextManager[Tx]:
        """Reads run on the generation the request started at (cached documents, a snapshot for the rest),
        without the write lock."""
        return self.store.read_transaction(generation) if read_only else self.store.transaction()

    def _note_key_use(self, caller: Caller, service: str, region: str, now: float) -> None:
        """An access key's last use (GetAccessKeyLastUsed, the credential report): date, region and service,
        kept as RoleLastUsed is, at most hourly per key, so that the request path stays free of writes."""
        key_id = caller.access_key_id or ""
        if now - self._role_use.get(key_id, 0) < ROLE_USE_INTERVAL:
            return
        self._role_use[key_id] = now
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.store.transaction() as tx:
                key = tx.get(caller.account, "access_key", key_id)
                if key is None:
                    return
                key["LastUsed"] = {"LastUsedDate": stamp, "Region": region, "ServiceName": service}
                tx.update(caller.account, "access_key", key_id, key)
        except Exception:  # bookkeeping must never fail the request it describes
            log.exception("could not record the last use of access key %s", key_id)

    def _note_role_use(self, caller: Caller, region: str, now: float) -> None:
        """RoleLastUsed, as AWS keeps it: date and region, refreshed at most hourly per role."""
        role_id = (caller.session or {}).get("role_id")
        if not role_id or now - self._role_use.get(role_id, 0) < ROLE_USE_INTERVAL:
            return
        self._role_use[role_id] = now
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.store.transaction() as tx:
                role = tx.get(caller.account, "role", (caller.session or {})["role_name"])
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
