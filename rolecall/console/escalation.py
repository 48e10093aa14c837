"""Privilege-escalation paths in the console: `rolecall audit`'s engine (rolecall.review, pure analysis) run
on the account as the signed-in principal sees it.

The account is read with GetAccountAuthorizationDetails (and Lambda's ListFunctions, for the edges through
UpdateFunctionCode) through `Page.call`, so the page is authorized and recorded like the CLI's reads: a
user who may not iam:GetAccountAuthorizationDetails gets the refusal page. The analysis itself reads
nothing more. Shown: the administrators and why, each principal's shortest path to an administrator step
by step (with the engine's verdict for every action a step needs), and the report's graph.
"""

from __future__ import annotations

from typing import Any

from rolecall.authz.managed import aws_managed_policy
from rolecall.console.html import Markup, esc, link, seg, table
from rolecall.console.page import Page, Refused
from rolecall.console.pages import all_functions, refused_note
from rolecall.http import HttpResponse
from rolecall.review import AccountError, Edge, load_account, run_audit
from rolecall.review.html import escalation_graph

DETAIL_PAGES = 50  # GetAccountAuthorizationDetails pages read at most


def _managed_text(arn: str) -> str | None:
    """An AWS managed policy's default text, for attachments the export names but does not hold."""
    found = aws_managed_policy(arn)
    return found["Document"] if found else None


def _name(arn: str) -> Markup:
    """A principal's ARN as its kind and name, a role linked to its page."""
    short = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
    if short.startswith("role/"):
        return link(f"/console/roles/{seg(short.rsplit('/', 1)[-1])}", short)
    return Markup(f"<code>{esc(short)}</code>")


def _steps(edges: list[Edge]) -> Markup:
    items = []
    for e in edges:
        why = "".join(
            f"<li><code>{esc(c.action)}</code> on <code>{esc(c.resource)}</code>: {esc('; '.join(c.because()))}</li>"
            for c in e.checks
        )
        items.append(
            f"<li>{_name(e.source)} {esc(e.describe())}: {_name(e.target)}"
            + (f"<ul class='muted'>{why}</ul>" if why else "")
            + "</li>"
        )
    return Markup(f"<ol class='steps'>{''.join(items)}</ol>")


def escalation(page: Page) -> HttpResponse:
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for _ in range(DETAIL_PAGES):
        got = page.call("iam", "GetAccountAuthorizationDetails", params)
        pages.append(got)
        if not got.get("IsTruncated"):
            break
        params["Marker"] = got["Marker"]
    functions = all_functions(page)
    notes = Markup("")
    if isinstance(functions, Refused):
        notes += refused_note(functions, "the edges through Lambda functions (UpdateFunctionCode)")
        functions = []
    try:
        account = load_account(pages, functions=functions, managed_lookup=_managed_text)
    except AccountError as exc:
        return page.render(
            "Escalation paths",
            Markup(f"<p>The account could not be analysed: {esc(exc)}</p>"),
            current="/console/escalation",
        )
    audit = run_audit(account, region=page.pipeline.config.region, now=page.pipeline.clock.now())
    s = audit.summary()
    body = Markup(
        "<p>Who can become an administrator of this account, and how: the policy engine asks, for every "
        "user and role, which others it can act as (assume a role, create a user's keys or password, pass a "
        "role to a function...) and which it can grant permissions to, and follows those steps to a "
        "principal allowed everything. The same analysis as <code>rolecall audit</code>, on the account as "
        "you may read it.</p>"
        f"<p>{s['users']} users, {s['roles']} roles, {s['groups']} groups: <strong>{len(audit.admins)} "
        f"administrator{'' if len(audit.admins) == 1 else 's'}</strong>, <strong>{len(audit.paths)} "
        f"principal{'' if len(audit.paths) == 1 else 's'} that can become one</strong>, "
        f"{len(audit.edges)} escalation steps in all.</p>"
    )
    body += Markup('<section aria-labelledby="paths"><h2 id="paths">Escalation paths</h2>')
    if not audit.paths:
        body += Markup("<p class='empty'>No principal that is not an administrator can become one.</p>")
    for source, path in sorted(audit.paths.items()):
        chain = " → ".join([source.split(":", 5)[-1]] + [e.target.split(":", 5)[-1] for e in path])
        body += Markup(
            f"<div class='card refused'><h3>{esc(chain)}</h3>"
            f"<p>{len(path)} step{'' if len(path) == 1 else 's'} from {_name(source)} to the administrator "
            f"{_name(path[-1].target)}:</p>{_steps(path)}</div>"
        )
    body += Markup("</section>")
    rows: list[list[Any]] = []
    for a in sorted(audit.admins.values(), key=lambda a: a.principal):
        if a.direct:
            why: Any = "allowed every action on every resource: " + "; ".join(
                a.checks[0].because() if a.checks else []
            )
        elif a.grant is not None:
            why = _steps([*a.reach, a.grant])
        else:
            why = "-"
        rows.append([_name(a.principal), why])
    body += Markup('<section aria-labelledby="admins"><h2 id="admins">Administrators</h2>')
    caption = f"{len(rows)} administrator{'' if len(rows) == 1 else 's'}"
    body += table(caption, ["Principal", "Why"], rows, empty="none.")
    body += Markup("</section>")
    if audit.paths or audit.admins:
        body += Markup(
            '<section aria-labelledby="graph"><h2 id="graph">The graph</h2>'
            "<p class='muted'>Administrators on the right; each arrow a step, labelled with its kind.</p>"
            f'<figure class="report">{Markup(escalation_graph(audit))}</figure></section>'
        )
    if account.problems:
        body += Markup('<section aria-labelledby="left"><h2 id="left">Not analysed</h2><ul>')
        body += Markup("".join(f"<li>{esc(p)}</li>" for p in account.problems) + "</ul></section>")
    return page.render("Escalation paths", body + notes, current="/console/escalation")
