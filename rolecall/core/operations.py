"""What every service is built from: operations declared as data, grouped in families, served by a Service.

An operation is a plain method named as AWS names it (`CreateRole`), taking the request context and the
decoded, model-validated input members and returning the output members as a dict. What it needs
authorized is declared on the line above it:

    class Roles(Family):
        @operation("iam:CreateRole", arn_of("role"), entity_context("role"))
        def CreateRole(self, ctx: OpContext, params: Params) -> Output: ...

A service names its families explicitly (`families = (Users, Roles, ...)`) and builds its operation
table once: a dict of `OperationSpec` (handler, authorization, read-only, source location) that the
pipeline dispatches on, the simulator reads, and docs/OPERATIONS.md is generated from. Handlers never
parse HTTP, check signatures or decide permissions.

A service's lifecycle: `start(host)` when the server starts (EC2 opens its metadata endpoints), `stop()`
when it stops, `reset()` when its state is emptied; `internal_routes()` names the non-AWS paths it serves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from rolecall.core.authorization import Authorization, Resolver
from rolecall.core.context import Caller, Check, OpContext, Output, Params
from rolecall.errors import AccessDenied, AwsError

if TYPE_CHECKING:
    from rolecall.core.host import Host, InternalRoute

Handler = Callable[[OpContext, Params], "Output | None"]

_READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Simulate", "Decode", "Head")


@dataclass(frozen=True)
class OperationSpec:
    """One operation as the server knows it: what to call, what to authorize, how to record it."""

    name: str  # "CreateRole"
    service: str  # the service's signing name, "iam"
    handler: Handler
    authorization: Authorization
    read_only: bool  # changes nothing in the store (runs on a snapshot; CloudTrail's readOnly)
    trail_response: bool  # the trail keeps the response elements (CloudTrail omits them for reads)
    source: tuple[str, int]  # (file, line) of the handler, for the operations index
    # Input members the handler does not honour: dotted path -> the values that mean what it does anyway
    # (none: any value is refused). See rolecall.wire.member_guard.
    unsupported: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __call__(self, ctx: OpContext, params: Params) -> Output | None:
        return self.handler(ctx, params)


F = TypeVar("F", bound=Callable[..., Any])


class Declared(Generic[F]):
    """A method declared with @operation: the method itself (bound as usual on access) plus its declaration."""

    def __init__(
        self,
        fn: F,
        authorization: Authorization,
        read_only: bool | None,
        trail_response: bool | None,
        unsupported: Mapping[str, Iterable[Any]] | Iterable[str],
    ) -> None:
        self.fn = fn
        self.authorization = authorization
        if isinstance(unsupported, Mapping):
            self.unsupported = {path: tuple(values) for path, values in unsupported.items()}
        else:
            self.unsupported = {path: () for path in unsupported}
        self.read_only = read_only if read_only is not None else fn.__name__.startswith(_READ_PREFIXES)
        self.trail_response = trail_response if trail_response is not None else not self.read_only

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        return self.fn if obj is None else self.fn.__get__(obj, owner)

    def spec(self, service: str, bound: Handler) -> OperationSpec:
        code = inspect.unwrap(self.fn).__code__
        return OperationSpec(
            name=self.fn.__name__,
            service=service,
            handler=bound,
            authorization=self.authorization,
            read_only=self.read_only,
            trail_response=self.trail_response,
            source=(code.co_filename, code.co_firstlineno),
            unsupported=self.unsupported,
        )


def operation(
    action: str | None = None,
    resource: str | Resolver = "*",
    context: Resolver | None = None,
    *,
    public: bool = False,
    read_only: bool | None = None,
    trail_response: bool | None = None,
    resource_policy: Resolver | None = None,
    extra: Resolver | None = None,
    unsupported: Mapping[str, Iterable[Any]] | Iterable[str] = (),
) -> Callable[[F], Declared[F]]:
    """Declare an operation handler and what it needs authorized (see Authorization for the arguments).

    read_only:      changes nothing in the store. Default: by name (Get*, List*, Describe*, ...).
    trail_response: the trail keeps the response elements. Default: not read_only.
    unsupported:    input members the handler does not honour, as dotted paths ("Placement.Tenancy"), or a
                    mapping of such paths to the values that mean what the handler does anyway
                    ({"Hibernate": (False,)}). A request setting one otherwise is refused before the handler
                    runs (rolecall.wire.member_guard), as is one setting a member newer than the handler.
    """

    def wrap(fn: F) -> Declared[F]:
        auth = Authorization(action or "", resource, context, public, resource_policy, extra)
        return Declared(fn, auth, read_only, trail_response, unsupported)

    return wrap


class Family:
    """A group of a service's operations on one kind of resource (users, roles, buckets, objects...).

    `self.service` is the service it belongs to, for the state a service keeps (S3's object storage,
    Lambda's runner); most families keep none. A family of a stateful service narrows its type
    (`service: EC2`).
    """

    service: Service

    def __init__(self, service: Service) -> None:
        self.service = service


class Service:
    """A service: `name` is the signing name ("iam"), `model` botocore's service name, `families` the
    classes holding its operations."""

    name: ClassVar[str] = ""
    model: ClassVar[str] = ""
    families: ClassVar[tuple[type[Family], ...]] = ()
    # Operations whose caller is the identity the request carries (a web identity token), not whoever
    # signed it: AWS serves them unsigned, and the pipeline asks federated_caller() who is calling.
    federated_operations: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.host: Host | None = None
        self._table: dict[str, OperationSpec] | None = None

    # -- the operation table --------------------------------------------------------------------------

    def operations(self) -> Mapping[str, OperationSpec]:
        """Every operation this service serves, by AWS's name, built once from its families."""
        if self._table is None:
            table: dict[str, OperationSpec] = {}
            for family_class in self.families:
                family = family_class(self)
                for klass in reversed(family_class.__mro__):
                    for attr, value in vars(klass).items():
                        if isinstance(value, Declared):
                            table[attr] = value.spec(self.name, getattr(family, attr))
            self._table = table
        return self._table

    def handler(self, operation_name: str) -> OperationSpec | None:
        return self.operations().get(operation_name)

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, host: Host) -> None:
        """The server is starting: keep `host` and start whatever runs beside the API."""
        self.host = host

    def stop(self) -> None:
        """The server is stopping: stop whatever start() started."""

    def reset(self) -> None:
        """All state is being emptied (POST /moto-api/reset under --auth off): drop what is kept outside
        the store."""

    def internal_routes(self) -> dict[str, InternalRoute]:
        """Paths (prefixes) this service serves beside its AWS API, each with its handler."""
        return {}

    # -- hooks of the request path ---------------------------------------------------------------------

    def admit(self, caller: Caller) -> None:
        """Refuse a caller before the request is decoded (IAM refuses GetSessionToken credentials
        without MFA). Raises AwsError."""

    def federated_caller(self, host: Host, operation: str, params: Params) -> Caller:
        """Who a request of one of `federated_operations` speaks for, verified from its parameters (decoded
        and validated by the model). Raises AwsError when the identity cannot be verified."""
        raise NotImplementedError(operation)

    def authentication_error(self, err: AwsError) -> AwsError:
        """The error a failed authentication gives: IAM's and STS's words (InvalidClientTokenId,
        SignatureDoesNotMatch, ExpiredToken, MissingAuthenticationToken, ...) unless the service words them
        differently (EC2's AuthFailure, S3's InvalidAccessKeyId). The codecs rename them further only where
        a whole protocol does (the JSON protocols' UnrecognizedClientException)."""
        return err

    def denial(self, ctx: OpContext, check: Check) -> AwsError:
        """The error a refused check gives: IAM's AccessDenied with the engine's reason, unless the
        service words its denials differently (EC2's encoded UnauthorizedOperation, S3's own)."""
        return access_denied(ctx.caller, check)

    def refuse(self, ctx: OpContext, check: Check) -> AwsError:
        """The error to raise for a refused check (the service's `denial`), noting the check on the
        context so that the request's trail record explains it. Raise what this returns."""
        ctx.denied = check
        return self.denial(ctx, check)


# Actions whose denial AWS reports without naming the policy type that caused it.
_BARE_DENIALS = frozenset(
    {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:AssumeRoleWithWebIdentity"}
)


def access_denied(caller: Caller, check: Check) -> AccessDenied:
    """AccessDenied as IAM and STS word it: who, what, on which resource, and which policy type refused."""
    message = f"User: {caller.arn} is not authorized to perform: {check.action} on resource: {check.resource}"
    if check.action not in _BARE_DENIALS:
        message += " " + check.decision.reason()
    return AccessDenied(message)
