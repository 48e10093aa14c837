"""Pictures, as inline SVG with a table beside each for screen readers: the trust graph (principals -> the
roles they can assume -> what those roles can reach) and, per instance, instance -> instance profile ->
role -> the credentials the instance is served (their expiry, and when they are rotated)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rolecall.console.html import Markup, esc, link, seg, table, url
from rolecall.console.page import Page, Refused
from rolecall.console.pages import list_all, refused_note
from rolecall.console.policies import PolicyText, allowed_reach, parse_document, role_policies
from rolecall.console.trust import trust_in_words
from rolecall.http import HttpResponse

ASSUME_ROLE_PAGES = 10  # pages of AssumeRole records searched for an instance's newest credentials
MAX_ROLES = 40  # roles the trust graph draws (each costs a few reads of its policies)
# EC2 replaces an instance's role credentials when less than this many seconds are left (and at half-life
# for lifetimes under ten minutes): rolecall.services.ec2.imds.content.
ROTATE_BEFORE = 300
SHORT_LIFETIME = 600

NODE_H, GAP, COL_GAP, PAD = 28, 10, 60, 10
WIDTH = 1150  # the drawing's width: the page's, so a picture is read without scrolling
CHAR_W = 7.0  # the width of a character of the labels' 12px font, about
COLORS = {
    "principal": "#dbe9f7",
    "role": "#ffe8c2",
    "reach": "#e3f1e0",
    "instance": "#dbe9f7",
    "profile": "#efe3f7",
    "credentials": "#e3f1e0",
    "refused": "#f8dcda",
}


@dataclass
class Node:
    key: str
    label: str
    kind: str
    href: str | None = None
    lines: list[str] = field(default_factory=list)  # extra lines under the label


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _node_height(node: Node) -> int:
    return NODE_H + 16 * len(node.lines)


def svg(title: str, description: str, columns: list[list[Node]], edges: list[tuple[str, str]]) -> Markup:
    """Columns of boxes, left to right, joined by `edges` (key -> key)."""
    where: dict[str, tuple[int, int, int]] = {}  # key -> (x, y, height)
    height = 0
    node_w = (WIDTH - 2 * PAD - (len(columns) - 1) * COL_GAP) // max(len(columns), 1)
    chars = int((node_w - 16) / CHAR_W)
    for c, column in enumerate(columns):
        y = PAD
        x = PAD + c * (node_w + COL_GAP)
        for node in column:
            h = _node_height(node)
            where[node.key] = (x, y, h)
            y += h + GAP
        height = max(height, y)
    width = WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="svg-title svg-desc" '
        f'width="{width}" height="{height + PAD}" viewBox="0 0 {width} {height + PAD}">'
        f'<title id="svg-title">{esc(title)}</title><desc id="svg-desc">{esc(description)}</desc>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#545b64"/></marker></defs>'
    ]
    for src, dst in edges:
        if src not in where or dst not in where:
            continue
        x1, y1, h1 = where[src]
        x2, y2, h2 = where[dst]
        sx, sy, ex, ey = x1 + node_w, y1 + h1 / 2, x2 - 2, y2 + h2 / 2
        mid = (sx + ex) / 2
        parts.append(
            f'<path d="M {sx} {sy} C {mid} {sy}, {mid} {ey}, {ex} {ey}" fill="none" stroke="#879596" '
            'stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for column in columns:
        for node in column:
            x, y, h = where[node.key]
            box = (
                f'<rect x="{x}" y="{y}" width="{node_w}" height="{h}" rx="5" fill="{COLORS[node.kind]}" '
                f'stroke="#545b64"/><text x="{x + 8}" y="{y + 18}">{esc(_short(node.label, chars))}</text>'
            )
            for i, line in enumerate(node.lines):
                box += f'<text x="{x + 8}" y="{y + 34 + 16 * i}" fill="#545b64">{esc(_short(line, chars))}</text>'
            box = f"<g><title>{esc(node.label)}</title>{box}</g>"
            if node.href:
                box = f'<a href="{esc(node.href)}">{box}</a>'
            parts.append(box)
    parts.append("</svg>")
    return Markup("".join(parts))


# ---------------------------------------------------------------- the trust graph


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 100_000 else 1


def trust_graph(page: Page) -> HttpResponse:
    prefix = page.query.get("prefix", "").strip()
    listed = list_all(page, "iam", "ListRoles", "Roles")
    found = [r for r in listed if r["RoleName"].lower().startswith(prefix.lower())]
    pages = max(1, -(-len(found) // MAX_ROLES))
    number = min(_page_number(page.query.get("page")), pages)
    first = (number - 1) * MAX_ROLES
    shown = found[first : first + MAX_ROLES]
    principals: dict[str, Node] = {}
    roles: list[Node] = []
    reach: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    rows: list[list[Any]] = []
    notes = Markup("")
    for r in shown:
        role_key = "role:" + r["Arn"]
        roles.append(Node(role_key, r["RoleName"], "role", f"/console/roles/{seg(r['RoleName'])}"))
        who = []
        for grant in trust_in_words(parse_document(r["AssumeRolePolicyDocument"])):
            if grant.effect != "Allow":
                continue
            for words, brief in zip(grant.principals, grant.labels, strict=True):
                suffix = " (with conditions)" if grant.conditions else ""
                key = "p:" + brief + suffix
                principals.setdefault(key, Node(key, brief + suffix, "principal"))
                edges.append((key, role_key))
                who.append(words + suffix)
        policies = role_policies(page, r)
        refusals = [p for p in policies if isinstance(p, Refused)]
        can = allowed_reach(policies)
        if refusals:
            notes += refused_note(refusals[0], f"what {r['RoleName']} can reach")
        for text in can:
            key = "r:" + text
            reach.setdefault(key, Node(key, text, "reach"))
            edges.append((role_key, key))
        rows.append(
            [
                link(f"/console/roles/{seg(r['RoleName'])}", r["RoleName"]),
                "; ".join(who) or "nobody",
                "; ".join(can) or ("not known (refused)" if refusals else "nothing"),
            ]
        )
    body = Markup(
        "<p>Left: the principals each role's trust policy lets assume it; middle: the roles; right: what the "
        "roles' permission policies allow (statement by statement; a permissions boundary may narrow it). "
        "Select a role to open it.</p>"
    )
    body += _role_filter(prefix, number, pages, first, len(shown), len(found), len(listed))
    if shown:
        picture = svg(
            "Trust graph",
            f"{len(principals)} principals, {len(roles)} roles, {len(reach)} permissions",
            [list(principals.values()), roles, list(reach.values())],
            edges,
        )
        body += Markup(
            f"<figure>{picture}<figcaption>Principals → roles → what the roles can reach"
            "</figcaption></figure>"
        )
    body += table(
        "The same, as a table",
        ["Role", "Who can assume it", "What it can reach"],
        rows,
        empty="no role matches." if prefix else "this account has no role.",
    )
    return page.render("Trust graph", body + notes, current="/console/pictures/trust")


def _role_filter(
    prefix: str, number: int, pages: int, first: int, shown: int, found: int, listed: int
) -> Markup:
    """The trust graph draws MAX_ROLES roles at a time: a role-name prefix to narrow them, and pages."""
    out = Markup(
        '<form method="get" action="/console/pictures/trust" aria-label="Choose the roles to draw">'
        '<div class="filters"><div><label for="f-prefix">Role name starts with</label>'
        f'<input type="text" id="f-prefix" name="prefix" value="{esc(prefix)}"></div>'
        '<div><button type="submit">Draw</button></div></div></form>'
    )
    if not found:
        return out
    which = f" whose name starts with {prefix!r}" if prefix else ""
    status = f"Roles {first + 1}–{first + shown} of {found}{which}" + (
        f" ({listed} in the account)" if prefix else ""
    )
    links = []
    if number > 1:
        links.append(
            link(url("/console/pictures/trust", prefix=prefix, page=number - 1), f"Previous {MAX_ROLES}")
        )
    if number < pages:
        links.append(
            link(url("/console/pictures/trust", prefix=prefix, page=number + 1), f"Next {MAX_ROLES}")
        )
    nav = f'<nav aria-label="Pages of roles" class="pager">{" · ".join(links)}</nav>' if links else ""
    return out + Markup(f"<p class='muted' role='status'>{esc(status)}; page {number} of {pages}.</p>{nav}")


# ---------------------------------------------------------------- instance credential chains


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%MZ")


def _parse_time(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def rotation_time(issued: float, expires: float) -> float:
    lifetime = expires - issued
    return expires - (lifetime / 2 if lifetime < SHORT_LIFETIME else ROTATE_BEFORE)


def last_issued(page: Page, role_arn: str, instance_id: str) -> dict[str, Any] | Refused | None:
    """The newest credentials EC2 issued the instance for the role, from the trail (sts:AssumeRole by
    ec2.amazonaws.com with the instance id as session name)."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}],
        "MaxResults": 50,
    }
    for _ in range(ASSUME_ROLE_PAGES):
        got = page.try_call("cloudtrail", "LookupEvents", params)
        if isinstance(got, Refused):
            return got
        for e in got.get("Events") or []:
            rec = json.loads(e["CloudTrailEvent"])
            asked = rec.get("requestParameters") or {}
            if (
                not rec.get("errorCode")
                and (rec.get("userIdentity") or {}).get("invokedBy") == "ec2.amazonaws.com"
                and asked.get("roleArn") == role_arn
                and asked.get("roleSessionName") == instance_id
            ):
                return rec
        if not got.get("NextToken"):
            break
        params["NextToken"] = got["NextToken"]
    return None


def instance_chains(page: Page) -> HttpResponse:
    page.pipeline.flush_trail()
    described = page.call("ec2", "DescribeInstances", {})
    instances = [i for res in described.get("Reservations") or [] for i in res.get("Instances") or []]
    ttl = page.pipeline.config.instance_credential_ttl
    now = page.pipeline.clock.time()
    body = Markup(
        f"<p>Each running instance with an instance profile gets its role's credentials from its metadata "
        f"endpoint: EC2 (ec2.amazonaws.com) assumes the role, the instance id as session name, for {ttl} "
        f"seconds (--instance-credential-ttl), and renews them {ROTATE_BEFORE // 60} minutes before they "
        "expire (at half-life for lifetimes under ten minutes); old credentials keep working until they "
        "expire.</p>"
    )
    columns: list[list[Node]] = [[], [], [], []]
    edges: list[tuple[str, str]] = []
    rows: list[list[Any]] = []
    notes = Markup("")
    profiles: dict[str, dict[str, Any] | Refused] = {}
    reach: dict[str, str] = {}  # role ARN -> what its policies allow, in words
    for inst in instances:
        iid = inst["InstanceId"]
        state = inst["State"]["Name"]
        profile_arn = (inst.get("IamInstanceProfile") or {}).get("Arn")
        ikey = "i:" + iid
        columns[0].append(Node(ikey, f"{iid} ({state})", "instance", lines=[inst.get("InstanceType", "")]))
        if not profile_arn:
            rows.append([iid, state, "none", "-", "no role: the instance gets no credentials", "nothing"])
            continue
        name = profile_arn.rsplit("/", 1)[-1]
        if name not in profiles:
            profiles[name] = page.try_call("iam", "GetInstanceProfile", {"InstanceProfileName": name})
        profile = profiles[name]
        pkey = "ip:" + profile_arn
        if pkey not in {n.key for n in columns[1]}:
            columns[1].append(Node(pkey, f"instance profile {name}", "profile"))
        edges.append((ikey, pkey))
        if isinstance(profile, Refused):
            notes += refused_note(profile, f"the role of {iid}")
            rows.append([iid, state, name, "not known (refused)", "-", "not known"])
            continue
        role_list = profile["InstanceProfile"].get("Roles") or []
        if not role_list:
            rows.append([iid, state, name, "none", "the profile holds no role: no credentials", "nothing"])
            continue
        role = role_list[0]
        rkey = "r:" + role["Arn"]
        if rkey not in {n.key for n in columns[2]}:
            columns[2].append(
                Node(rkey, f"role {role['RoleName']}", "role", f"/console/roles/{seg(role['RoleName'])}")
            )
        edges.append((pkey, rkey))
        ckey = "c:" + iid
        if state != "running":
            creds_text = [f"none while {state}"]
        else:
            issued = last_issued(page, role["Arn"], iid)
            if isinstance(issued, Refused):
                notes += refused_note(issued, f"the credentials of {iid}")
                creds_text = ["not known (refused)"]
            elif issued is None:
                creds_text = ["not issued yet: issued at the first", "metadata request for them"]
            else:
                creds = (issued.get("responseElements") or {}).get("credentials") or {}
                start = _parse_time(issued.get("eventTime")) or now
                expires = _parse_time(creds.get("expiration")) or start + ttl
                left = "expired" if expires <= now else f"{int(expires - now) // 60} min left"
                creds_text = [
                    f"key {creds.get('accessKeyId', '?')}",
                    f"issued {_iso(start)}",
                    f"expires {_iso(expires)} ({left})",
                    f"renewed from {_iso(rotation_time(start, expires))}",
                ]
        # In the picture, a line a fact (the table beside it has them in full).
        lines = [line.split(" (")[0] for line in creds_text]
        columns[3].append(Node(ckey, "credentials", "credentials", lines=lines))
        edges.append((rkey, ckey))
        if role["Arn"] not in reach:
            full = page.try_call("iam", "GetRole", {"RoleName": role["RoleName"]})
            policies: list[PolicyText | Refused] = (
                role_policies(page, full["Role"]) if not isinstance(full, Refused) else [full]
            )
            refusals = [p for p in policies if isinstance(p, Refused)]
            reach[role["Arn"]] = "; ".join(allowed_reach(policies)) or (
                "not known (refused)" if refusals else "nothing"
            )
        rows.append([iid, state, name, role["RoleName"], "; ".join(creds_text), reach[role["Arn"]]])
    if instances:
        picture = svg(
            "Instance credential chains", f"{len(instances)} instances", [c for c in columns if c], edges
        )
        body += Markup(
            f"<figure>{picture}<figcaption>Instance → instance profile → role → credentials"
            "</figcaption></figure>"
        )
    body += table(
        f"Instances in {page.pipeline.config.region}",
        [
            "Instance",
            "State",
            "Instance profile",
            "Role",
            "Credentials",
            "What it can do (its role's policies)",
        ],
        rows,
        empty="no instance in this region.",
    )
    return page.render("Instance credentials", body + notes, current="/console/pictures/instances")
