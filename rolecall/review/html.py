"""The audit as one self-contained HTML page: summary, an inline SVG graph of the escalation paths (no
script, no external asset), administrators, paths with every step's engine verdict, and findings."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING

from .escalation import Edge

if TYPE_CHECKING:
    from .report import Audit

MAX_GRAPH_ROWS = 150
COLUMN, ROW, NODE_W, NODE_H = 340, 46, 200, 30

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d2330;background:#fff}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef}code{font:12px ui-monospace,monospace}.sev-high{color:#b00;font-weight:bold}
.sev-medium{color:#b60}.sev-low{color:#666}.step{margin-left:1.5em;color:#333}.why{margin-left:3em;color:#555;font-size:12px}
.summary span{display:inline-block;margin-right:1.5em}.graph{overflow:auto;border:1px solid #ccd;padding:.5em;background:#fafbff}
.legend span{margin-right:1.2em}.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:middle;margin-right:.3em}
"""
COLORS = {"admin": "#d9534f", "user": "#3a7bd5", "role": "#2e9e5b"}


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _graph(audit: Audit) -> str:
    """Columns by distance to an administrator: admins on the right, the farthest sources on the left."""
    edges: dict[tuple[str, str], Edge] = {}
    for path in audit.paths.values():
        for e in path:
            edges.setdefault((e.source, e.target), e)
    for a in audit.admins.values():
        if a.grant is not None:
            for e in [*a.reach, a.grant]:
                edges.setdefault((e.source, e.target), e)
    level: dict[str, int] = {arn: 0 for arn in audit.admins}
    for path in audit.paths.values():
        for i, e in enumerate(path):
            level[e.source] = max(level.get(e.source, 0), len(path) - i)
    for e in edges.values():
        level.setdefault(e.source, 1)
        level.setdefault(e.target, 0)
    # Rows: administrators by name; then, column by column leftwards, each node on the row of the first node
    # it leads to when that row is free, so that a chain reads along one row.
    targets: dict[str, list[str]] = {}
    for s, t in edges:
        if s != t:
            targets.setdefault(s, []).append(t)
    row_of: dict[str, int] = {}
    top = max(level.values(), default=0)
    for lv in range(top + 1):
        column = [n for n in level if level[n] == lv]
        wanted = {n: min((row_of[t] for t in targets.get(n, ()) if t in row_of), default=0) for n in column}
        column.sort(key=lambda n: (wanted[n], n))
        row = -1
        for n in column:
            row = max(row + 1, wanted[n])
            row_of[n] = row
    if not row_of:
        return "<p>No escalation path and no administrator: nothing to draw.</p>"
    shown = {n for n, r in row_of.items() if r < MAX_GRAPH_ROWS}
    truncated = len(shown) < len(row_of)
    by_arn = audit.account.by_arn()
    pos = {n: (20 + (top - level[n]) * COLUMN, 20 + row_of[n] * ROW) for n in shown}
    nodes = sorted(shown, key=lambda n: (row_of[n], -level[n]))
    width = 160 + (top + 1) * COLUMN
    height = 40 + (max(row_of[n] for n in shown) + 1) * ROW
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="privilege escalation graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for (s, t), e in sorted(edges.items()):
        if s not in shown or t not in shown:
            continue
        (x1, y1), (x2, y2) = pos[s], pos[t]
        color = "#c77" if e.grant else "#555"
        if s == t:  # a grant onto itself: a loop over the node
            d = f"M{x1 + NODE_W - 40},{y1} C{x1 + NODE_W - 30},{y1 - 22} {x1 + NODE_W},{y1 - 22} {x1 + NODE_W - 10},{y1}"
            lx, ly = x1 + NODE_W - 44, y1 - 4
        else:
            sx, sy = x1 + NODE_W, y1 + NODE_H // 2
            tx, ty = x2, y2 + NODE_H // 2
            if tx <= sx:  # same column or backwards: bow out
                d = f"M{sx},{sy} C{sx + 60},{sy} {tx - 60},{ty} {tx},{ty}"
            else:
                mid = (sx + tx) // 2
                d = f"M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}"
            lx, ly = (sx + tx) // 2, (sy + ty) // 2 - 5
        parts.append(
            f"<g><title>{escape(_short(s))} {escape(e.describe())}: {escape(_short(t))}</title>"
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5" marker-end="url(#arrow)"/>'
            f'<text x="{lx}" y="{ly}" font-size="10" fill="#333" stroke="#fafbff" stroke-width="3" paint-order="stroke" '
            f'text-anchor="{"end" if s == t else "middle"}">{escape(e.kind)}</text></g>'
        )
    for n in nodes:
        x, y = pos[n]
        p = by_arn.get(n)
        kind = "admin" if n in audit.admins else (p.kind if p else "role")
        label = _short(n)
        text = label if len(label) <= 28 else label[:26] + "…"
        parts.append(
            f'<g><title>{escape(n)}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" '
            f'fill="{COLORS[kind]}"/><text x="{x + NODE_W // 2}" y="{y + 19}" font-size="12" fill="#fff" '
            f'text-anchor="middle">{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    note = (
        f"<p>Showing the first {MAX_GRAPH_ROWS} rows: {len(shown)} of {len(row_of)} principals.</p>"
        if truncated
        else ""
    )
    legend = (
        '<p class="legend">'
        + "".join(f'<span><i class="sw" style="background:{c}"></i>{k}</span>' for k, c in COLORS.items())
        + '<span>grey arrow: can act as</span><span style="color:#c77">red arrow: can grant permissions to</span></p>'
    )
    return legend + note + '<div class="graph">' + "".join(parts) + "</div>"


def escalation_graph(audit: Audit) -> str:
    """The report's escalation graph alone (a legend, then the inline SVG), for pages of their own."""
    return _graph(audit)


def _steps(edges: list[Edge]) -> str:
    out = []
    for e in edges:
        out.append(
            f'<div class="step">{escape(_short(e.source))} {escape(e.describe())}: <b>{escape(_short(e.target))}</b></div>'
        )
        for c in e.checks:
            out.append(
                f'<div class="why"><code>{escape(c.action)}</code> on <code>{escape(c.resource)}</code>: '
                f"{escape('; '.join(c.because()))}</div>"
            )
    return "".join(out)


def render_html(audit: Audit) -> str:
    s = audit.summary()
    body = [f"<h1>rolecall audit of account {escape(audit.account.id)}</h1>", '<p class="summary">']
    for key in ("users", "roles", "groups", "managed_policies", "admins", "can_become_admin", "edges"):
        body.append(f"<span>{escape(key.replace('_', ' '))}: <b>{s[key]}</b></span>")
    body.append(f"<span>analysed in: <b>{s['seconds']:.2f} s</b> CPU</span></p>")
    body += ["<h2>Escalation graph</h2>", _graph(audit)]
    body.append(
        f"<h2>Administrators ({len(audit.admins)})</h2><table><tr><th>principal</th><th>why</th></tr>"
    )
    for a in sorted(audit.admins.values(), key=lambda a: a.principal):
        if a.direct:
            why = "allowed every action on every resource: " + "; ".join(
                a.checks[0].because() if a.checks else []
            )
            body.append(f"<tr><td><code>{escape(a.principal)}</code></td><td>{escape(why)}</td></tr>")
        elif a.grant is not None:
            body.append(
                f"<tr><td><code>{escape(a.principal)}</code></td><td>{_steps([*a.reach, a.grant])}</td></tr>"
            )
    body.append("</table>")
    body.append(f"<h2>Escalation paths ({len(audit.paths)})</h2>")
    if not audit.paths:
        body.append("<p>None.</p>")
    for source, path in sorted(audit.paths.items()):
        chain = " → ".join([_short(source)] + [_short(e.target) for e in path])
        body.append(f"<h3>{escape(chain)}</h3>{_steps(path)}")
    body.append(
        f"<h2>Findings ({len(audit.findings)})</h2><table><tr><th>severity</th><th>finding</th><th>principal</th><th>detail</th></tr>"
    )
    order = ["high", "medium", "low"]
    for f in sorted(audit.findings, key=lambda f: (order.index(f.severity), f.kind, f.principal)):
        why = "".join(f'<div class="why">{escape("; ".join(c.because()))}</div>' for c in f.checks)
        body.append(
            f'<tr><td class="sev-{f.severity}">{f.severity}</td><td>{escape(f.kind)}</td>'
            f"<td><code>{escape(f.principal)}</code></td><td>{escape(f.message)}{why}</td></tr>"
        )
    body.append("</table>")
    if audit.rewrites:
        body.append(f"<h2>Least-privilege rewrites from the trail ({len(audit.rewrites)})</h2>")
        for r in audit.rewrites:
            body.append(
                f"<h3><code>{escape(r.principal)}</code></h3><p>grants {escape(', '.join(r.broad))}</p>"
            )
            if r.document is None:
                body.append("<p>No successful call in the trail: remove these grants.</p>")
            else:
                if r.unused_services:
                    body.append(f"<p>Granted but never used: {escape(', '.join(r.unused_services))}</p>")
                body.append(f"<pre><code>{escape(json.dumps(r.document, indent=2))}</code></pre>")
    if audit.account.problems:
        body.append(
            "<h2>Not analysed</h2><ul>"
            + "".join(f"<li>{escape(p)}</li>" for p in audit.account.problems)
            + "</ul>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>rolecall audit {escape(audit.account.id)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
