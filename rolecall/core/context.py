"""Who is calling and what a handler may use: the request context every operation receives.

`Caller` is the authenticated principal as CloudTrail's userIdentity describes it. `OpContext` is one
request's view of the server: the open transaction, the clock, the settings, and `authorize()` for the
checks a handler can only make once it has read the store (S3's per-object checks). Everything the
server offers a handler goes through `ctx.host`, a typed interface (rolecall.core.host.Host), never the
pipeline itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rolecall.core.authorization import Authorization

if TYPE_CHECKING:
    from rolecall.clock import Clock
    from rolecall.core.config import ServerConfig
    from rolecall.core.host import Host
    from rolecall.policy import Decision, Policy
    from rolecall.store import Store, Tx

Params = dict[str, Any]  # an operation's input members, as boto3 users write them
Output = dict[str, Any]  # an operation's output members


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
class Check:
    """One question put to the policy engine and its answer: may the caller do `action` on `resource`."""

    action: str
    resource: str
    decision: Decision
    context: dict[str, Any]  # the request context the engine saw (for encoded denials and explanations)


@dataclass
class OpContext:
    """Everything a handler may use. `tx` is the open transaction the whole request runs in."""

    service: str  # "iam", "sts", ...
    operation: str
    account: str  # the account the request acts in (the caller's)
    region: str
    caller: Caller
    tx: Tx
    host: Host
    request_id: str
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    secure_transport: bool = False
    generation: int = -1  # the store generation the request's caches were read at (-1: read it when needed)
    # Filled by handlers for the trail: resources the request touched, [{"ARN", "accountId", "type"}].
    trail_resources: list[dict[str, str]] = field(default_factory=list)
    # Denials `--auth soft` let through, for the trail's rolecallWouldDeny and rolecallExplanation.
    would_deny: list[Check] = field(default_factory=list)
    # The refused check the request's error reports (set by Service.refuse), for the trail's explanation.
    denied: Check | None = None
    # Work the pipeline runs after the transaction has committed (see defer and after_commit).
    deferred: list[Callable[[], dict[str, Any] | None]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.host.store

    @property
    def clock(self) -> Clock:
        return self.host.clock

    @property
    def config(self) -> ServerConfig:
        return self.host.config

    def authorize(
        self,
        action: str,
        resource: str,
        *,
        context: dict[str, Any] | None = None,
        resource_policy: tuple[Policy | None, str | None] | None = None,
    ) -> Check | None:
        """The refused check when the caller may not do `action` on `resource`, else None.

        For checks a handler can only make after reading the store (S3's object reads under the bucket's
        policy). The server's --auth mode applies here as in the pipeline: off allows, soft notes the
        denial in the trail and allows.
        """
        more = dict(context or {})
        policy = resource_policy
        auth = Authorization(
            action,
            resource,
            context=(lambda c, p: more) if more else None,
            resource_policy=(lambda c, p: policy) if policy is not None else None,
        )
        refused = self.host.authorizer.refused(self, auth, {}, [resource])
        return refused[0] if refused else None

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
