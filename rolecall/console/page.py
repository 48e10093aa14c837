"""What every console page works with: the signed-in principal's `Page`, through which it runs operations
as that principal (Pipeline.invoke: authorized by the policy engine and recorded in the trail), and the
HTTP answers pages give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rolecall.audit.describe import describe
from rolecall.console.html import layout
from rolecall.console.sessions import Session
from rolecall.core.context import Caller
from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from rolecall.pipeline import Pipeline


def explain(pipeline: Pipeline, caller: Caller, err: AwsError) -> str | None:
    """`rolecall explain`'s account of a failed operation, from its trail record in the caller's account."""
    if not err.request_id:
        return None
    pipeline.flush_trail()
    found = [(a, r) for a, r in pipeline.store.events_by_request_id(err.request_id) if a == caller.account]
    return describe(found) if found else None


class Refused(Exception):
    """An operation a page needed failed: AccessDenied (with the engine's explanation) or another error."""

    def __init__(self, operation: str, error: AwsError, explanation: str | None):
        super().__init__(error.message)
        self.operation = operation
        self.error = error
        self.explanation = explanation


@dataclass
class Page:
    """One request to a console page by a signed-in principal."""

    pipeline: Pipeline
    req: HttpRequest
    session: Session
    query: dict[str, str]
    form: dict[str, str]

    @property
    def caller(self) -> Caller:
        return self.session.caller

    def call(self, service: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run an operation as the signed-in principal (authorized and recorded as an API call); Refused
        when it fails."""
        try:
            return self.pipeline.invoke(
                self.caller,
                service,
                operation,
                params or {},
                source_ip=self.req.remote_addr or "127.0.0.1",
                user_agent=user_agent(self.req),
            )
        except AwsError as err:
            raise Refused(f"{service}:{operation}", err, explain(self.pipeline, self.caller, err)) from None

    def try_call(
        self, service: str, operation: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any] | Refused:
        try:
            return self.call(service, operation, params)
        except Refused as refused:
            return refused

    def render(self, title: str, body: Any, *, current: str = "", refresh: int | None = None) -> HttpResponse:
        who = self.caller.arn
        page = layout(title, body, who=who, csrf=self.session.csrf, current=current, refresh=refresh)
        return html_response(200, page)


Handler = Callable[[Page], HttpResponse]


def user_agent(req: HttpRequest) -> str:
    """The trail's userAgent of a console action: the browser's, marked as the console's."""
    return f"rolecall-console ({(req.headers.get('user-agent') or 'unknown browser')[:200]})"


SECURITY_HEADERS = [
    # No script runs on any page; styles are inline; forms post only to the console itself.
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
]


def html_response(status: int, page: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(
        status,
        [("content-type", "text/html; charset=utf-8"), *SECURITY_HEADERS, *(headers or [])],
        page.encode(),
    )
