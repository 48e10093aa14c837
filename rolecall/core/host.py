"""What the server offers a service: the one interface through which services reach shared machinery.

The pipeline implements `Host` and hands itself to every service's `start(host)`; handlers reach it as
`ctx.host`. A service never imports the pipeline (and the pipeline never imports a service): the two meet
only in rolecall.app, which builds one from the other. This is how EC2 runs its metadata endpoints and
Lambda its functions without either knowing how a request is served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rolecall.clock import Clock
    from rolecall.core.authorization import Authorization
    from rolecall.core.config import ServerConfig
    from rolecall.core.context import Caller, Check, OpContext
    from rolecall.http import HttpRequest, HttpResponse
    from rolecall.store import Store, Tx

# A route a service serves beside the AWS API (GET /_rolecall/imds/ID, Lambda's code download URLs).
InternalRoute = Callable[["HttpRequest"], "HttpResponse"]


@dataclass
class CallResult:
    """The answer to a call one service made to another API as a principal (see Host.call)."""

    status: int
    body: dict[str, Any]

    @property
    def error_code(self) -> str | None:
        if self.status < 300:
            return None
        return str(self.body.get("__type", "")).rsplit("#", 1)[-1] or str(self.status)


class Authorizer(Protocol):
    """The policy engine's verdicts under the server's --auth mode (rolecall.authz.Authorizer)."""

    def refused(
        self, ctx: OpContext, auth: Authorization, params: dict[str, Any], resources: list[str]
    ) -> list[Check]:
        """The checks the caller fails (none under --auth off; soft mode notes them and lets them pass)."""
        ...


class Host(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def config(self) -> ServerConfig: ...

    @property
    def authorizer(self) -> Authorizer: ...

    def record(self, account: str, record: dict[str, Any]) -> None:
        """Add a CloudTrail record to `account`'s trail (written soon, in a batch)."""
        ...

    def flush_trail(self) -> None:
        """Write every trail record put so far (LookupEvents reads after this)."""
        ...

    def action_of(self, service: str, operation: str) -> str | None:
        """The IAM action that an operation of a served service (by signing name) is authorized by, or
        None (for reports over the trail, whose records name operations, not actions)."""
        ...

    def authenticate(self, req: HttpRequest) -> Caller:
        """Who signed `req` (SigV4), or the default account's root under --auth off. Raises AwsError."""
        ...

    def invoke(
        self,
        caller: Caller,
        service: str,
        operation: str,
        params: dict[str, Any],
        *,
        region: str | None = None,
    ) -> dict[str, Any]:
        """Run one operation of any protocol as `caller` (an AWS service principal delivering on a
        resource's behalf: CloudTrail writing log files to a bucket), through validation, authorization,
        the handler and the trail, as a client's request runs once decoded. Raises the AwsError a client
        would get."""
        ...

    def refusals_as(
        self, caller: Caller, service: str, operation: str, params: dict[str, Any], tx: Tx, region: str
    ) -> list[Check]:
        """The checks `caller` would fail doing `operation` with `params`, read in the open `tx` without
        running it (CloudTrail checking a bucket policy before it accepts a trail). Raises the AwsError
        the operation's resolvers raise (NoSuchBucket)."""
        ...

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
        """Call an API (JSON, query or ec2 protocol) as the holder of `credentials`, through the whole
        request path (signed, authenticated, authorized and recorded like a client's call)."""
        ...
