"""The console's HTML: escaping, the page shell and its style sheet, and the few building blocks pages share.

Pages are plain server-rendered HTML: no script at all (the live trail refreshes with a meta refresh), one
inline style sheet, inline SVG for pictures. Every value that came from a user or the store goes through
`esc`; `Markup` marks text that is already HTML, so composing fragments never escapes twice.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode


class Markup(str):
    """A string that is already HTML. Adding text to it escapes the text (unless it is Markup too)."""

    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, esc(other)))


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def url(path: str, **query: Any) -> str:
    """A console URL: `path` with its segments percent-encoded by the caller (see `seg`), plus a query."""
    shown = {k: v for k, v in query.items() if v not in (None, "")}
    return path + ("?" + urlencode(shown) if shown else "")


def seg(value: str) -> str:
    """One path segment, percent-encoded."""
    return quote(value, safe="")


def link(href: str, text: Any) -> Markup:
    return Markup(f'<a href="{esc(href)}">{esc(text)}</a>')


def table(caption: str, headers: list[str], rows: list[list[Any]], *, empty: str = "None.") -> Markup:
    if not rows:
        return Markup(f"<p class='empty'>{esc(caption)}: {esc(empty)}</p>")
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return Markup(
        f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def pre(text: Any, label: str = "") -> Markup:
    aria = f' aria-label="{esc(label)}"' if label else ""
    return Markup(f"<pre{aria}>{esc(text)}</pre>")


def hidden_csrf(token: str) -> Markup:
    return Markup(f'<input type="hidden" name="csrf_token" value="{esc(token)}">')


NAV = [
    ("/console/", "Home"),
    ("/console/roles", "Roles"),
    ("/console/trail", "Trail"),
    ("/console/simulator", "Policy simulator"),
    ("/console/pictures/trust", "Trust graph"),
    ("/console/pictures/instances", "Instance credentials"),
    ("/console/findings", "Access Analyzer"),
    ("/console/escalation", "Escalation paths"),
]

STYLE = """
:root { --fg: #16191f; --muted: #545b64; --line: #d5dbdb; --accent: #0b5cad; --bad: #b0261c;
  --good: #1d6b2f; --bg: #fff; --band: #232f3e; --soft: #f2f3f3; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus {
  outline: 3px solid #ff9900; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
header { background: var(--band); color: #fff; padding: 8px 24px; display: flex; align-items: center;
  gap: 24px; flex-wrap: wrap; }
header .brand { font-weight: 700; font-size: 17px; color: #fff; text-decoration: none; }
header nav ul { list-style: none; display: flex; gap: 16px; margin: 0; padding: 0; flex-wrap: wrap; }
header nav a { color: #fff; text-decoration: none; padding: 4px 2px; }
header nav a[aria-current="page"] { border-bottom: 3px solid #ff9900; }
header .who { margin-left: auto; display: flex; gap: 12px; align-items: center; font-size: 14px; }
header .who form { margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 24px; margin: 8px 0 16px; } h2 { font-size: 19px; margin: 28px 0 8px; }
h3 { font-size: 16px; margin: 16px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; color: var(--muted); }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td { overflow-wrap: break-word; } td:first-child { white-space: nowrap; }
pre { background: var(--soft); border: 1px solid var(--line); padding: 10px; overflow-x: auto;
  font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.refused { border-left: 6px solid var(--bad); } .allowed { border-left: 6px solid var(--good); }
.bad { color: var(--bad); font-weight: 600; } .good { color: var(--good); font-weight: 600; }
.muted, .empty { color: var(--muted); }
form.stack label { display: block; font-weight: 600; margin: 12px 0 4px; }
form.stack .hint { font-weight: 400; color: var(--muted); font-size: 13px; }
input[type=text], input[type=password], input[type=datetime-local], select, textarea {
  font: inherit; padding: 6px 8px; border: 1px solid #879596; border-radius: 4px; width: 100%; max-width: 560px; }
textarea { min-height: 80px; }
button, .button { font: inherit; background: #ff9900; color: #16191f; border: 1px solid #c77700;
  border-radius: 4px; padding: 6px 16px; cursor: pointer; font-weight: 600; }
header button { background: transparent; color: #fff; border-color: #879596; padding: 2px 10px; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; max-width: 640px; }
.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 16px;
  align-items: end; margin-bottom: 12px; }
.filters label { display: block; font-weight: 600; font-size: 13px; }
.filters input, .filters select { width: 100%; }
ul.words li { margin: 6px 0; }
.signin { max-width: 480px; margin: 40px auto; }
.signin fieldset { max-width: none; }
figure { margin: 16px 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; } figcaption { color: var(--muted); font-size: 13px; }
svg text { font: 12px system-ui, sans-serif; } svg text:not([fill]) { fill: #16191f; }
figure.report svg { max-width: none; } figure.report { border: 1px solid var(--line); padding: 8px; }
.legend span { margin-right: 16px; } .sw { display: inline-block; width: 12px; height: 12px;
  border-radius: 2px; vertical-align: middle; margin-right: 4px; }
ol.steps li { margin: 4px 0; } ol.steps ul { font-size: 13px; }
"""


def layout(
    title: str,
    body: Any,
    *,
    who: str | None = None,
    csrf: str | None = None,
    current: str = "",
    refresh: int | None = None,
) -> Markup:
    """A whole page: the header with the navigation and the signed-in principal, then `body`."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    nav = ""
    if who is not None:
        current_attr = ' aria-current="page"'
        items = "".join(
            f'<li><a href="{href}"{current_attr if href == current else ""}>{esc(text)}</a></li>'
            for href, text in NAV
        )
        signout = (
            f'<form method="post" action="/console/signout">{hidden_csrf(csrf or "")}'
            '<button type="submit">Sign out</button></form>'
        )
        nav = (
            f'<nav aria-label="Console"><ul>{items}</ul></nav>'
            f'<div class="who"><span>Signed in as <strong>{esc(who)}</strong></span>{signout}</div>'
        )
    return Markup(
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1">{meta}<link rel="icon" href="data:,"><title>{esc(title)} - rolecall console</title><style>{STYLE}</style></head>'
        '<body><a class="skip" href="#main">Skip to content</a>'
        f'<header><a class="brand" href="/console/">rolecall console</a>{nav}</header>'
        f'<main id="main"><h1>{esc(title)}</h1>{esc(body)}</main></body></html>'
    )
