"""The web console: `rolecall serve` answers it at /console/.

Every page acts as the signed-in principal through `Pipeline.invoke`, the path an API call takes once it is
authenticated: the model's validation, the policy engine's authorization (the same authorizer, under the
server's --auth mode), the handler, and a trail record (with the browser's address and user agent). So a
user who may not iam:ListRoles is refused the roles list with the engine's explanation, a page never shows
anything of another account, and the trail holds every console action as it holds API calls.

Sign-in, sessions and CSRF: rolecall.console.sessions. Forms that change something (sign-in, sign-out) and
the simulator are POSTs carrying the session's CSRF token; a POST without the right token is refused (403)
before anything runs.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from rolecall import ids
from rolecall.audit.records import record
from rolecall.console import escalation, findings, pages, pictures
from rolecall.console.html import Markup, esc, hidden_csrf, layout, url
from rolecall.console.page import (
    SECURITY_HEADERS,
    Handler,
    Page,
    Refused,
    explain,
    html_response,
    user_agent,
)
from rolecall.console.sessions import (
    COOKIE,
    PENDING_COOKIE,
    PENDING_SECONDS,
    ROOT_SESSION_SECONDS,
    SIGNIN_COOKIE,
    USER_SESSION_SECONDS,
    Pending,
    Sessions,
    SignInFailed,
    check_root,
    check_user,
    clear_failures,
    count_failure,
    locked_for,
    locked_message,
    mfa_code_valid,
    note_password_used,
    pending_caller,
    root_key_owner,
    with_mfa,
)
from rolecall.core.context import Caller
from rolecall.errors import AwsError
from rolecall.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from rolecall.pipeline import Pipeline

log = logging.getLogger("rolecall")

PREFIX = "/console"
MAX_FORM = 256 * 1024


def redirect(location: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(303, [("location", location), *SECURITY_HEADERS, *(headers or [])], b"")


def cookie_header(
    name: str, value: str, *, secure: bool, max_age: int | None, path: str = PREFIX
) -> tuple[str, str]:
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return ("set-cookie", "; ".join(parts))


def parse_form(req: HttpRequest) -> dict[str, str]:
    if req.method != "POST" or len(req.body) > MAX_FORM:
        return {}
    if "application/x-www-form-urlencoded" not in (req.headers.get("content-type") or ""):
        return {}
    parsed = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def parse_query(req: HttpRequest) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(req.query_string, keep_blank_values=True).items()}


def cookies(req: HttpRequest) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(req.headers.get("cookie") or "")
    except Exception:  # a malformed Cookie header is no cookie
        return {}
    return {k: m.value for k, m in jar.items()}


class Console:
    """The console's routes over one pipeline (see the module docstring)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.sessions = Sessions(pipeline.store)
        self.pending = Pending(pipeline.store)
        self.routes: list[tuple[str, bool, Handler]] = [  # (path, prefix match, handler)
            ("/", False, pages.home),
            ("/roles", False, pages.roles),
            ("/roles/", True, pages.role),
            ("/trail", False, pages.trail),
            ("/trail/events/", True, pages.trail_event),
            ("/simulator", False, pages.simulator),
            ("/pictures/trust", False, pictures.trust_graph),
            ("/pictures/instances", False, pictures.instance_chains),
            ("/findings", False, findings.findings),
            ("/findings/", True, findings.finding),
            ("/escalation", False, escalation.escalation),
        ]

    # -- the request path ----------------------------------------------------------------------------

    def handle(self, req: HttpRequest, secure: bool = False) -> HttpResponse:
        try:
            return self._handle(req, secure)
        except Exception:
            log.exception("console error on %s %s", req.method, req.path)
            page = layout(
                "Something went wrong",
                Markup("<p>The console failed to build this page; the server's log has the details.</p>"),
            )
            return html_response(500, page)

    def _handle(self, req: HttpRequest, secure: bool) -> HttpResponse:
        path = unquote(req.path)
        if path == PREFIX or not path.startswith(PREFIX + "/"):
            return redirect(PREFIX + "/")
        sub = path[len(PREFIX) :]
        if req.method not in ("GET", "HEAD", "POST"):
            return html_response(405, layout("Method not allowed", Markup("<p>Use GET or POST.</p>")))
        jar = cookies(req)
        form = parse_form(req)
        if sub == "/signin":
            return self.signin(req, jar, form, secure)
        now = self.pipeline.clock.time()
        session = self.sessions.find(jar.get(COOKIE), now)
        if session is None:
            if req.method == "POST":
                return self.csrf_refusal()
            back = path + (f"?{req.query_string}" if req.query_string else "")
            return redirect(url(PREFIX + "/signin", next=back if path != PREFIX + "/" else None))
        if req.method == "POST" and not _same(form.get("csrf_token", ""), session.csrf):
            return self.csrf_refusal()
        if sub == "/signout":
            if req.method != "POST":
                return redirect(PREFIX + "/")
            self.sessions.end(session.token_hash)
            return redirect(PREFIX + "/signin", [cookie_header(COOKIE, "", secure=secure, max_age=0)])
        for route, prefix, handler in self.routes:
            if (prefix and sub.startswith(route) and len(sub) > len(route)) or (not prefix and sub == route):
                page = Page(self.pipeline, req, session, parse_query(req), form)
                try:
                    return handler(page)
                except Refused as refused:
                    return self.refusal_page(page, refused)
        return html_response(
            404,
            layout(
                "Not found",
                Markup(f"<p>No console page at {esc(path)}.</p>"),
                who=session.caller.arn,
                csrf=session.csrf,
            ),
        )

    # -- refusals ------------------------------------------------------------------------------------

    def refusal_page(self, page: Page, refused: Refused) -> HttpResponse:
        err = refused.error
        denied = err.status == 403 or "AccessDenied" in err.code
        title = "Access denied" if denied else f"{refused.operation} failed"
        body = Markup(
            f'<div class="card refused" role="alert"><p><strong>{esc(err.code)}</strong>: {esc(err.message)}</p>'
            "</div>"
        )
        if refused.explanation:
            body += Markup(f"<h2>Why</h2>{_explanation_block(refused.explanation)}")
        body += Markup(
            f"<p class='muted'>This page needed {esc(refused.operation)}, which was run as "
            f"{esc(page.caller.arn)} and recorded in the trail like an API call.</p>"
        )
        status = 403 if denied else (err.status if 400 <= err.status < 600 else 400)
        who, csrf = page.caller.arn, page.session.csrf
        return html_response(status, layout(title, body, who=who, csrf=csrf))

    def csrf_refusal(self) -> HttpResponse:
        body = Markup(
            '<div class="card refused" role="alert"><p>This form was refused: it did not carry this session\'s '
            "security token (CSRF protection), or your session has ended. Nothing was changed.</p></div>"
            '<p><a href="/console/">Back to the console</a></p>'
        )
        return html_response(403, layout("Request refused", body))

    # -- sign-in -------------------------------------------------------------------------------------

    def signin(
        self, req: HttpRequest, jar: dict[str, str], form: dict[str, str], secure: bool
    ) -> HttpResponse:
        query = parse_query(req)
        target = _safe_next(form.get("next") or query.get("next"))
        if req.method != "POST":
            token = secrets.token_urlsafe(32)
            cookie = cookie_header(SIGNIN_COOKIE, token, secure=secure, max_age=3600, path=PREFIX + "/signin")
            return html_response(200, signin_page(token, target, None, query.get("kind") or "iam"), [cookie])
        if not jar.get(SIGNIN_COOKIE) or not _same(jar[SIGNIN_COOKIE], form.get("csrf_token", "")):
            return self.csrf_refusal()
        if form.get("step") in ("mfa", "new_password"):
            return self.signin_step(req, jar, form, secure)
        kind = form.get("kind", "iam")
        now = self.pipeline.clock.time()
        account, name = form.get("account", "").strip(), form.get("username", "").strip()
        mfa_serials: list[str] = []
        new_password: str | None = None
        try:
            if kind == "root":
                caller = check_root(
                    self.pipeline.store,
                    self.pipeline.config.secret_box,
                    form.get("access_key_id", ""),
                    form.get("secret_access_key", ""),
                )
                lifetime = ROOT_SESSION_SECONDS
            else:
                locked = locked_for(self.pipeline.store, account, name, now)
                if locked:
                    raise SignInFailed(locked_message(locked))
                try:
                    checked = check_user(self.pipeline.store, account, name, form.get("password", ""), now)
                except SignInFailed:
                    count_failure(self.pipeline.store, account, name, now)
                    raise
                caller, mfa_serials, new_password = checked.caller, checked.mfa_serials, checked.new_password
                lifetime = int(checked.max_duration or USER_SESSION_SECONDS)
        except SignInFailed as failed:
            self._record_login(req, None, form, kind, str(failed))
            token = jar[SIGNIN_COOKIE]
            return html_response(401, signin_page(token, target, str(failed), kind))
        if mfa_serials or new_password:
            pending = {
                "Account": caller.account,
                "UserName": caller.user_name,
                "UserId": caller.principal_id,
                "Stage": "mfa" if mfa_serials else "new_password",
                "Serials": mfa_serials,
                "NewPassword": new_password,
                "Lifetime": lifetime,
                "Next": target,
                "MfaTime": None,
            }
            pending_token = self.pending.start(pending, now)
            cookie = cookie_header(
                PENDING_COOKIE, pending_token, secure=secure, max_age=PENDING_SECONDS, path=PREFIX + "/signin"
            )
            return html_response(200, step_page(jar[SIGNIN_COOKIE], pending, None), [cookie])
        if kind != "root":
            clear_failures(self.pipeline.store, account, name)
        return self._signed_in(req, caller, form, kind, lifetime, None, target, secure)

    def signin_step(
        self, req: HttpRequest, jar: dict[str, str], form: dict[str, str], secure: bool
    ) -> HttpResponse:
        """The MFA code, or the new password, of a sign-in past its password."""
        now = self.pipeline.clock.time()
        store = self.pipeline.store
        found = self.pending.find(jar.get(PENDING_COOKIE), now)
        caller = pending_caller(store, found[1]) if found else None
        if found is None or caller is None or form.get("step") != found[1]["Stage"]:
            if found is not None:
                self.pending.end(found[0])
            message = "This sign-in has expired or was already used: sign in again."
            return html_response(401, signin_page(jar[SIGNIN_COOKIE], PREFIX + "/", message, "iam"))
        name, doc = found
        user_form = {"account": caller.account, "username": caller.user_name or ""}
        if doc["Stage"] == "mfa":
            ok = mfa_code_valid(
                store, self.pipeline.config.secret_box, caller, doc["Serials"], form.get("mfa_code", ""), now
            )
            if not ok:
                self._record_login(req, None, user_form, "iam", "mfa", mfa=True)
                count_failure(store, caller.account, caller.user_name or "", now)
                locked = locked_for(store, caller.account, caller.user_name or "", now)
                if locked:
                    self.pending.end(name)
                    message = locked_message(locked)
                    return html_response(401, signin_page(jar[SIGNIN_COOKIE], PREFIX + "/", message, "iam"))
                return html_response(
                    401,
                    step_page(
                        jar[SIGNIN_COOKIE],
                        doc,
                        "The MFA code is not valid. Enter the code your device shows now.",
                    ),
                )
            doc["MfaTime"] = now
            if doc.get("NewPassword"):
                doc["Stage"] = "new_password"
                self.pending.update(name, doc)
                return html_response(200, step_page(jar[SIGNIN_COOKIE], doc, None))
        else:
            acting = with_mfa(caller, doc.get("MfaTime"), now)
            new, again = form.get("new_password", ""), form.get("new_password_again", "")
            if new != again:
                return html_response(
                    400, step_page(jar[SIGNIN_COOKIE], doc, "The new passwords do not match.")
                )
            try:
                self.pipeline.invoke(
                    acting,
                    "iam",
                    "ChangePassword",
                    {"OldPassword": form.get("old_password", ""), "NewPassword": new},
                    source_ip=req.remote_addr or "127.0.0.1",
                    user_agent=user_agent(req),
                )
            except AwsError as err:
                why = explain(self.pipeline, acting, err) if err.status == 403 else None
                return html_response(
                    400, step_page(jar[SIGNIN_COOKIE], doc, f"{err.code}: {err.message}", why)
                )
        self.pending.end(name)
        clear_failures(store, caller.account, caller.user_name or "")
        return self._signed_in(
            req, caller, user_form, "iam", int(doc["Lifetime"]), doc.get("MfaTime"), doc["Next"], secure
        )

    def _signed_in(
        self,
        req: HttpRequest,
        caller: Caller,
        form: dict[str, str],
        kind: str,
        lifetime: int,
        mfa_time: float | None,
        target: str,
        secure: bool,
    ) -> HttpResponse:
        now = self.pipeline.clock.time()
        token, _ = self.sessions.start(caller, now, lifetime, mfa_time)
        if caller.type == "IAMUser":
            note_password_used(self.pipeline.store, caller, now)
        self._record_login(req, caller, form, kind, None, mfa=mfa_time is not None)
        return redirect(
            target,
            [
                cookie_header(COOKIE, token, secure=secure, max_age=lifetime),
                cookie_header(SIGNIN_COOKIE, "", secure=secure, max_age=0, path=PREFIX + "/signin"),
                cookie_header(PENDING_COOKIE, "", secure=secure, max_age=0, path=PREFIX + "/signin"),
            ],
        )

    def _record_login(
        self,
        req: HttpRequest,
        caller: Caller | None,
        form: dict[str, str],
        kind: str,
        failure: str | None,
        *,
        mfa: bool = False,
    ) -> None:
        """CloudTrail's ConsoleLogin event (eventSource signin.amazonaws.com), in the account signed in to. A
        failure is recorded in the account it named: an IAM user's account id, or the account of the root
        access key id given (when it is one); never with the secret tried."""
        if caller is None and kind == "root":
            caller = root_key_owner(self.pipeline.store, form.get("access_key_id", ""))
        elif caller is None:
            account = form.get("account", "").strip()
            name = form.get("username", "").strip()[:64]
            if len(account) == 12 and account.isdigit():
                caller = Caller(
                    account=account,
                    arn=f"arn:aws:iam::{account}:user/{name}",
                    type="IAMUser",
                    principal_id="",
                    user_name=name,
                )
        if caller is None:
            return  # it named no account
        account = caller.account
        rec = record(
            service="signin",
            operation="ConsoleLogin",
            caller=caller,
            account=account,
            region=self.pipeline.config.region,
            event_time=datetime.fromtimestamp(self.pipeline.clock.time(), UTC),
            request_id=ids.request_id(),
            source_ip=req.remote_addr or "127.0.0.1",
            user_agent=user_agent(req),
            read_only=False,
            request_parameters=None,
        )
        # CloudTrail writes these as AWS names them (not in the camelCase of API calls' elements).
        rec["responseElements"] = {"ConsoleLogin": "Failure" if failure else "Success"}
        rec["eventType"] = "AwsConsoleSignIn"
        if failure:
            rec["errorMessage"] = "Failed authentication"
        rec["additionalEventData"] = {
            "LoginTo": "/console/",
            "MFAUsed": "Yes" if mfa else "No",
            "rolecallSignInType": kind,
        }
        self.pipeline.record(account, rec)


def _same(given: str, expected: str) -> bool:
    """Whether a submitted token is the expected one, in constant time (any text, not only ASCII)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _explanation_block(text: str) -> Markup:
    return Markup(f'<pre class="explanation" aria-label="The policy engine\'s explanation">{esc(text)}</pre>')


def signin_page(token: str, target: str, error: str | None, kind: str) -> str:
    alert = f'<div class="card refused" role="alert"><p>{esc(error)}</p></div>' if error else ""
    iam_checked = "" if kind == "root" else " checked"
    root_checked = " checked" if kind == "root" else ""
    body = Markup(
        f'<div class="signin">{alert}'
        f'<form method="post" action="/console/signin" class="stack">{hidden_csrf(token)}'
        f'<input type="hidden" name="next" value="{esc(target)}">'
        "<fieldset><legend>Sign in as</legend>"
        f'<label><input type="radio" name="kind" value="iam"{iam_checked}> IAM user (console password)</label>'
        f'<label><input type="radio" name="kind" value="root"{root_checked}> Root user of an account</label>'
        "</fieldset>"
        "<fieldset><legend>IAM user</legend>"
        '<label for="account">Account ID <span class="hint">(12 digits)</span></label>'
        '<input type="text" id="account" name="account" inputmode="numeric" autocomplete="off">'
        '<label for="username">IAM user name</label>'
        '<input type="text" id="username" name="username" autocomplete="username">'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password">'
        "</fieldset>"
        "<fieldset><legend>Root user</legend>"
        '<p class="hint">rolecall\'s root credentials are the root access key pair the server printed at its '
        "first start (profile <code>rolecall</code> of DATA_DIR/credentials, or ROLECALL_ROOT_ACCESS_KEY_ID / "
        "ROLECALL_ROOT_SECRET_ACCESS_KEY).</p>"
        '<label for="access_key_id">Root access key ID</label>'
        '<input type="text" id="access_key_id" name="access_key_id" autocomplete="off">'
        '<label for="secret_access_key">Secret access key</label>'
        '<input type="password" id="secret_access_key" name="secret_access_key" autocomplete="off">'
        "</fieldset>"
        '<p><button type="submit">Sign in</button></p></form></div>'
    )
    return layout("Sign in", body)


def step_page(token: str, pending: dict[str, Any], error: str | None, why: str | None = None) -> str:
    """The sign-in's second step: the MFA code, or a new password."""
    alert = f'<div class="card refused" role="alert"><p>{esc(error)}</p></div>' if error else ""
    if why:
        alert += f"<details><summary>Why</summary>{_explanation_block(why)}</details>"
    who = f"<p>Signing in as <strong>{esc(pending['UserName'])}</strong> of account {esc(pending['Account'])}.</p>"
    if pending["Stage"] == "mfa":
        devices = ", ".join(pending["Serials"])
        fields = (
            '<input type="hidden" name="step" value="mfa">'
            '<label for="mfa_code">MFA code <span class="hint">(the 6 digits your device shows now)</span></label>'
            '<input type="text" id="mfa_code" name="mfa_code" inputmode="numeric" pattern="[0-9]{6}" '
            'maxlength="6" autocomplete="one-time-code" required autofocus>'
            f'<p class="hint">Your MFA device: <code>{esc(devices)}</code>. A rolecall virtual device\'s '
            "current code: <code>rolecall mfa code SERIAL</code>.</p>"
            '<p><button type="submit">Submit</button></p>'
        )
        title = "Multi-factor authentication"
    else:
        fields = (
            f"<p>{esc(pending.get('NewPassword') or '')} Choose a new password to continue; the account's "
            "password policy applies.</p>"
            '<input type="hidden" name="step" value="new_password">'
            '<label for="old_password">Old password</label>'
            '<input type="password" id="old_password" name="old_password" autocomplete="current-password" required>'
            '<label for="new_password">New password</label>'
            '<input type="password" id="new_password" name="new_password" autocomplete="new-password" required>'
            '<label for="new_password_again">Retype new password</label>'
            '<input type="password" id="new_password_again" name="new_password_again" autocomplete="new-password" '
            "required>"
            '<p><button type="submit">Confirm password change</button></p>'
        )
        title = "Choose a new password"
    body = Markup(
        f'<div class="signin">{alert}{who}'
        f'<form method="post" action="/console/signin" class="stack">{hidden_csrf(token)}{fields}</form>'
        '<p><a href="/console/signin">Cancel and start again</a></p></div>'
    )
    return layout(title, body)
