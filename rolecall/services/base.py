"""What every service module is built from.

A service is a class whose operations are plain methods named as AWS names them (`CreateRole`),
taking the request context and the decoded, model-validated input members and returning the output
members as a dict. What an operation needs authorized is declared beside it with @operation, as data:
the pipeline authorizes before the handler runs, and the simulator reads the same declarations.
Handlers never parse HTTP, check signatures or decide permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolecall.clock import Clock
    from rolecall.store import Store, Tx


@dataclass
class Caller:
    """Who signed the request, as CloudTrail's userIdentity describes it."""

    account: str
    arn: str  # arn:aws:iam::A:root | arn:aws:iam::A:user/PATH/NAME | arn:aws:sts::A:assumed-role/ROLE/SESSION
    type: str  # "Root" | "IAMUser" | "AssumedRole" | "AWSService"
    principal_id: str  # account id (root), AIDA... (user), AROA...:SESSION (session)
    access_key_id: str | None = None
    user_name: str | None = None  # IAM user name; None for root and sessions
    tags: dict[str, str] = field(default_factory=dict)  # principal tags (user's, or role's + session tags)
    # For AssumedRole: role_name, role_arn, role_id, session_name, issued, ...
    session: dict[str, Any] | None = None

    @property
    def is_root(self) -> bool:
        return self.type == "Root"


@dataclass
class OpContext:
    """Everything a handler may use. `tx` is the open transaction the whole request runs in."""

    service: str  # "iam", "sts", ...
    operation: str
    account: str  # the account the request acts in (the caller's)
    region: str
    caller: Caller
    store: Store
    tx: Tx
    clock: Clock
    request_id: str
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    secure_transport: bool = False
    config: Any = None  # the server's settings (rolecall.config.ServerConfig)
    # Filled by handlers for the trail: resources the request touched, [{"ARN", "accountId", "type"}].
    trail_resources: list[dict[str, str]] = field(default_factory=list)
    # Work the pipeline runs after the transaction has committed (see defer and after_commit).
    deferred: list[Callable[[], dict[str, Any] | None]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def defer(self, work: Callable[[], dict[str, Any] | None]) -> None:
        """Finish the request once its transaction has committed: `work` returns output members to merge.

        For work that must not hold the store's write lock: running a Lambda function, whose own calls come
        back into rolecall on other threads. The work may raise AwsError; the request then fails with it.
        The trail record of a request with deferred work is written after that work, with its outcome.
        """
        self.deferred.append(work)

    def after_commit(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup` only if the transaction commits (e.g. remove files of what it deleted). It cannot
        change the response; a failure is logged, not reported."""
        self.cleanups.append(cleanup)


Resolver = Callable[[OpContext, dict[str, Any]], Any]


@dataclass(frozen=True)
class Authorization:
    """What one operation asks the policy engine.

    action:   the IAM action, e.g. "iam:CreateRole".
    resource: an ARN, or a function (ctx, params) -> ARN or list of ARNs ("*" for account-wide actions).
    context:  a function (ctx, params) -> extra request context keys (aws:RequestTag/..., iam:PassedToService, ...).
    public:   needs no permission at all (sts:GetCallerIdentity).
    resource_policy: a function (ctx, params) -> (Policy or None, owning account or None): the resource's own
              policy (a role's trust policy for sts:AssumeRole, a bucket policy), evaluated with the identity's.
    extra:    a function (ctx, params) -> [(action, resource, context)]: further permissions the same call needs
              (sts:TagSession when tags are passed, iam:PassRole on a role handed to a service), each checked
              with the same principal, the request context plus `context`, and the resource policy -- or,
              given as a fourth item (policy, owning account), that other resource's own policy
              (s3:GetObject on CopyObject's source object, under the source bucket's policy).
    """

    action: str
    resource: str | Resolver = "*"
    context: Resolver | None = None
    public: bool = False
    resource_policy: Resolver | None = None
    extra: Resolver | None = None


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
) -> Callable[[Callable], Callable]:
    """Declare an operation handler and what it needs authorized.

    read_only:      changes nothing in the store (runs on a snapshot; CloudTrail's readOnly). Default: by name.
    trail_response: the trail keeps the response elements (CloudTrail omits them for reads). Default: not read_only.
    unsupported:    input members the handler does not honour, as dotted paths ("Placement.Tenancy"), or a
                    mapping of such paths to the values that mean what the handler does anyway
                    ({"Hibernate": (False,)}). A request setting one otherwise is refused before the handler
                    runs (rolecall.member_guard), as is one setting a member newer than the handler.
    """

    def wrap(fn: Callable) -> Callable:
        fn.unsupported = unsupported  # type: ignore[attr-defined]
        fn.authorization = Authorization(  # type: ignore[attr-defined]
            action or "", resource, context, public, resource_policy, extra
        )
        fn.read_only = (  # type: ignore[attr-defined]
            read_only
            if read_only is not None
            else fn.__name__.startswith(("Get", "List", "Describe", "Lookup", "Simulate", "Decode", "Head"))
        )
        fn.trail_response = (  # type: ignore[attr-defined]
            trail_response if trail_response is not None else not fn.read_only  # type: ignore[attr-defined]
        )
        fn.is_operation = True  # type: ignore[attr-defined]
        return fn

    return wrap


class Service:
    """Base for a service module: `name` is the signing name ("iam"), `model` botocore's service name."""

    name: str = ""
    model: str = ""

    def handler(self, operation_name: str) -> Callable | None:
        fn = getattr(self, operation_name, None)
        return fn if getattr(fn, "is_operation", False) else None

    def operations(self) -> dict[str, Callable]:
        return {
            n: getattr(self, n)
            for n in dir(type(self))
            if n[:1].isupper() and getattr(getattr(self, n), "is_operation", False)
        }
