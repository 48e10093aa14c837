"""The console's pages: home, roles and a role, the trail and one event, and the policy simulator.

Each page reads through `Page.call` (an operation run as the signed-in principal, authorized and recorded);
a refusal of the page's main read becomes the refusal page, a refusal of a side read (say, the instances
using a role) is shown in its place, explained.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rolecall.audit.describe import DENIAL_CODES, describe
from rolecall.console.html import Markup, esc, hidden_csrf, link, pre, seg, table, url
from rolecall.console.page import Page, Refused
from rolecall.console.policies import PolicyText, parse_document, role_policies
from rolecall.console.trust import Grant, trust_in_words
from rolecall.http import HttpResponse

TRAIL_PAGES = 6  # LookupEvents pages (50 records each) a trail view reads at most


def refused_note(refused: Refused, what: str) -> Markup:
    """A side read the principal may not make, in place of what it would have shown."""
    text = (
        f"Not shown: {what} needs {refused.operation}, refused: {refused.error.code}: {refused.error.message}"
    )
    more = ""
    if refused.explanation:
        more = f"<details><summary>Why</summary>{pre(refused.explanation, 'Explanation')}</details>"
    return Markup(f'<div class="card refused"><p>{esc(text)}</p>{more}</div>')


# ---------------------------------------------------------------- home


def home(page: Page) -> HttpResponse:
    me = page.call("sts", "GetCallerIdentity")
    body = Markup(
        f"<p>Account <strong>{esc(me['Account'])}</strong>, signed in as <code>{esc(me['Arn'])}</code>.</p>"
        "<p>Every page acts as you: it calls rolecall's API with your permissions, through the same policy "
        "engine as any client, and the trail records each call.</p><ul class='words'>"
        f"<li>{link('/console/roles', 'Roles')}: who can assume each role, and what it may do.</li>"
        f"<li>{link('/console/trail', 'Trail')}: every request, and why it was allowed or refused "
        f"(also {link('/console/trail?live=1', 'live')}).</li>"
        f"<li>{link('/console/simulator', 'Policy simulator')}: would a principal be allowed an action?</li>"
        f"<li>{link('/console/pictures/trust', 'Trust graph')}: principals, the roles they can assume, and "
        "what those roles can reach.</li>"
        f"<li>{link('/console/pictures/instances', 'Instance credentials')}: instance, instance profile, role "
        "and the credentials the instance gets.</li>"
        f"<li>{link('/console/findings', 'Access Analyzer findings')}: external access to the account's "
        "roles and buckets, and unused access.</li>"
        f"<li>{link('/console/escalation', 'Escalation paths')}: who can become an administrator, and "
        "how, step by step.</li></ul>"
    )
    return page.render("Home", body, current="/console/")


# ---------------------------------------------------------------- roles


def list_all(
    page: Page, service: str, operation: str, key: str, params: dict[str, Any] | None = None
) -> list[Any]:
    """Every item of an IAM listing (Marker / IsTruncated pagination)."""
    items: list[Any] = []
    params = dict(params or {})
    for _ in range(50):
        out = page.call(service, operation, params)
        items += out.get(key) or []
        if not out.get("IsTruncated"):
            break
        params["Marker"] = out["Marker"]
    return items


def roles(page: Page) -> HttpResponse:
    found = list_all(page, "iam", "ListRoles", "Roles")
    rows = []
    for r in found:
        who = "; ".join(
            p + (" (with conditions)" if g.conditions else "")
            for g in trust_in_words(parse_document(r["AssumeRolePolicyDocument"]))
            if g.effect == "Allow"
            for p in g.principals
        )
        rows.append(
            [
                link(f"/console/roles/{seg(r['RoleName'])}", r["RoleName"]),
                r.get("Path"),
                who or "-",
                r.get("CreateDate"),
            ]
        )
    body = table(
        f"{len(found)} role{'' if len(found) == 1 else 's'} in account {page.caller.account}",
        ["Role", "Path", "Who can assume it", "Created"],
        rows,
        empty="this account has no role.",
    )
    return page.render("Roles", body, current="/console/roles")


def grants_html(grants: list[Grant]) -> Markup:
    if not grants:
        return Markup("<p>The trust policy has no statement: nobody can assume this role.</p>")
    items = []
    for g in grants:
        verb = (
            "may"
            if g.effect == "Allow"
            else "may <strong>not</strong> (an explicit deny wins over any allow)"
        )
        who = "everyone except " if g.except_principals else ""
        principals = "".join(f"<li>{esc(p)}</li>" for p in g.principals) or "<li>nobody named</li>"
        cond = ""
        if g.conditions:
            cond = "<p>only when:</p><ul>" + "".join(f"<li>{esc(c)}</li>" for c in g.conditions) + "</ul>"
        sid = f" <span class='muted'>(statement {esc(g.sid)})</span>" if g.sid else ""
        css = "allowed" if g.effect == "Allow" else "refused"
        items.append(
            f'<div class="card {css}"><p><strong>{"Allowed" if g.effect == "Allow" else "Denied"}</strong>{sid}: '
            f"{who}</p><ul>{principals}</ul><p>{verb} {esc(', '.join(g.actions))}</p>{cond}</div>"
        )
    return Markup("".join(items))


def role(page: Page) -> HttpResponse:
    name = page.req.decoded_path.split("/console/roles/", 1)[1].strip("/")
    got = page.call("iam", "GetRole", {"RoleName": name})["Role"]
    trust = parse_document(got["AssumeRolePolicyDocument"])
    last = got.get("RoleLastUsed") or {}
    last_text = (
        f"{last['LastUsedDate']} in {last.get('Region', '-')}" if last.get("LastUsedDate") else "never used"
    )
    facts = table(
        "Role",
        ["Field", "Value"],
        [
            ["ARN", got["Arn"]],
            ["Role ID", got["RoleId"]],
            ["Path", got["Path"]],
            ["Created", got["CreateDate"]],
            ["Description", got.get("Description") or "-"],
            ["Maximum session duration", f"{got.get('MaxSessionDuration', 3600)} seconds"],
            ["Last used", last_text],
            [
                "Permissions boundary",
                (got.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") or "none",
            ],
        ],
    )
    body = Markup(facts)
    body += Markup('<section aria-labelledby="trust"><h2 id="trust">Who can assume this role</h2>')
    body += grants_html(trust_in_words(trust))
    body += Markup(
        f"<details><summary>Trust policy document</summary>{pre(json.dumps(trust, indent=2))}"
        "</details></section>"
    )
    body += Markup('<section aria-labelledby="perms"><h2 id="perms">Permissions</h2>')
    for p in role_policies(page, got):
        if isinstance(p, Refused):
            body += refused_note(p, "part of the role's policies")
            continue
        body += policy_block(p)
    body += Markup("</section>")
    body += last_accessed(page, got["Arn"])
    body += Markup(used_by(page, got))
    return page.render(f"Role {got['RoleName']}", body, current="/console/roles")


def last_accessed(page: Page, arn: str) -> Markup:
    """The services the role's policies allow and when the role last used each, as IAM's Access Advisor
    tab shows them (GenerateServiceLastAccessedDetails, then GetServiceLastAccessedDetails)."""
    out = Markup('<section aria-labelledby="last"><h2 id="last">Services last accessed</h2>')
    page.pipeline.flush_trail()  # the report reads the trail: the role's newest calls must be in it
    job = page.try_call("iam", "GenerateServiceLastAccessedDetails", {"Arn": arn})
    services: list[dict[str, Any]] = []
    if not isinstance(job, Refused):
        params: dict[str, Any] = {"JobId": job["JobId"]}
        for _ in range(20):
            got = page.try_call("iam", "GetServiceLastAccessedDetails", params)
            if isinstance(got, Refused):
                job = got
                break
            services += got.get("ServicesLastAccessed") or []
            if not got.get("IsTruncated"):
                break
            params["Marker"] = got["Marker"]
    if isinstance(job, Refused):
        return out + refused_note(job, "the services the role last accessed") + Markup("</section>")
    used = sorted(
        (s for s in services if s.get("LastAuthenticated")), key=lambda s: str(s["LastAuthenticated"])
    )
    unused = [s for s in services if not s.get("LastAuthenticated")]
    rows = [
        [
            s["ServiceName"],
            s["ServiceNamespace"],
            s["LastAuthenticated"],
            s.get("LastAuthenticatedRegion") or "-",
        ]
        for s in reversed(used)
    ] + [
        [s["ServiceName"], s["ServiceNamespace"], "not accessed in the tracking period", "-"] for s in unused
    ]
    out += Markup(
        "<p class='muted'>The services the role's permission policies allow, and when the role last "
        "called each (from the trail); an allowed service never used is a candidate to remove.</p>"
    )
    out += table(
        f"{len(used)} of {len(services)} allowed services used",
        ["Service", "Namespace", "Last accessed (UTC)", "Region"],
        rows,
        empty="the role's policies allow no service.",
    )
    return out + Markup("</section>")


def policy_block(p: PolicyText) -> Markup:
    kinds = {"inline": "Inline policy", "managed": "Managed policy", "boundary": "Permissions boundary"}
    title = f"{kinds[p.kind]} {p.name}" + (f" ({p.arn})" if p.arn else "")
    if p.refused is not None:
        return Markup(f"<h3>{esc(title)}</h3>") + refused_note(p.refused, "this policy's document")
    note = (
        " <span class='muted'>(limits what the other policies grant; grants nothing itself)</span>"
        if p.kind == "boundary"
        else ""
    )
    return Markup(f"<h3>{esc(title)}{note}</h3>{pre(json.dumps(p.document, indent=2), title)}")


def used_by(page: Page, got: dict[str, Any]) -> Markup:
    out = Markup('<section aria-labelledby="used"><h2 id="used">Used by</h2>')
    profiles = page.try_call("iam", "ListInstanceProfilesForRole", {"RoleName": got["RoleName"]})
    arns: list[str] = []
    if isinstance(profiles, Refused):
        out += refused_note(profiles, "the role's instance profiles")
    else:
        arns = [p["Arn"] for p in profiles["InstanceProfiles"]]
        out += table(
            "Instance profiles",
            ["Instance profile", "ARN", "Created"],
            [[p["InstanceProfileName"], p["Arn"], p["CreateDate"]] for p in profiles["InstanceProfiles"]],
        )
    if arns:
        described = page.try_call(
            "ec2", "DescribeInstances", {"Filters": [{"Name": "iam-instance-profile.arn", "Values": arns}]}
        )
        if isinstance(described, Refused):
            out += refused_note(described, "the instances using the role")
        else:
            rows = [
                [i["InstanceId"], i["State"]["Name"], i["IamInstanceProfile"]["Arn"], i.get("LaunchTime")]
                for res in described.get("Reservations") or []
                for i in res.get("Instances") or []
            ]
            out += table(
                f"Instances in {page.pipeline.config.region}",
                ["Instance", "State", "Instance profile", "Launched"],
                rows,
            )
    functions = all_functions(page)
    if isinstance(functions, Refused):
        out += refused_note(functions, "the Lambda functions using the role")
    else:
        rows = [
            [f["FunctionName"], f.get("Runtime", "-"), f.get("LastModified")]
            for f in functions
            if f.get("Role") == got["Arn"]
        ]
        out += table(
            f"Lambda functions in {page.pipeline.config.region} with this execution role",
            ["Function", "Runtime", "Last modified"],
            rows,
        )
    return out + Markup("</section>")


def all_functions(page: Page) -> list[dict[str, Any]] | Refused:
    """Every Lambda function of the region (ListFunctions' Marker / NextMarker pages)."""
    functions: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for _ in range(50):
        got = page.try_call("lambda", "ListFunctions", params)
        if isinstance(got, Refused):
            return got
        functions += got.get("Functions") or []
        if not got.get("NextMarker"):
            break
        params["Marker"] = got["NextMarker"]
    return functions


# ---------------------------------------------------------------- trail

OUTCOMES = {
    "": "any outcome",
    "allowed": "allowed",
    "refused": "refused (access denied)",
    "failed": "failed (other error)",
}


def outcome_of(rec: dict[str, Any]) -> str:
    code = rec.get("errorCode")
    if not code:
        return "failed" if (rec.get("responseElements") or {}).get("ConsoleLogin") == "Failure" else "allowed"
    return "refused" if code in DENIAL_CODES else "failed"


def _role_and_session(rec: dict[str, Any]) -> tuple[str, str]:
    identity = rec.get("userIdentity") or {}
    if identity.get("type") != "AssumedRole":
        return "", ""
    arn = str(identity.get("arn", ""))
    parts = arn.split(":assumed-role/", 1)[-1].split("/")
    return (parts[0], parts[-1]) if len(parts) >= 2 else ("", "")


def _user_of(rec: dict[str, Any]) -> str:
    identity = rec.get("userIdentity") or {}
    if identity.get("type") == "Root":
        return "root"
    if identity.get("type") == "AWSService":
        return str(identity.get("invokedBy", ""))
    return str(identity.get("userName") or _role_and_session(rec)[1] or identity.get("arn", ""))


def _time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def _matches(rec: dict[str, Any], q: dict[str, str]) -> bool:
    role_name, session = _role_and_session(rec)
    checks = [
        (q.get("user"), _user_of(rec)),
        (q.get("role"), role_name),
        (q.get("session"), session),
        (q.get("event"), str(rec.get("eventName", ""))),
    ]
    for wanted, have in checks:
        if wanted and wanted.strip().lower() not in have.lower():
            return False
    return not q.get("outcome") or outcome_of(rec) == q["outcome"]


def trail(page: Page) -> HttpResponse:
    q = page.query
    params: dict[str, Any] = {"MaxResults": 50}
    start, end = _time(q.get("start", "")), _time(q.get("end", ""))
    if start:
        params["StartTime"] = start
    if end:
        params["EndTime"] = end
    page.pipeline.flush_trail()
    records = []
    for _ in range(TRAIL_PAGES):
        out = page.call("cloudtrail", "LookupEvents", params)
        for e in out.get("Events") or []:
            rec = json.loads(e["CloudTrailEvent"])
            if _matches(rec, q):
                records.append((e, rec))
        if not out.get("NextToken") or len(records) >= 100:
            break
        params["NextToken"] = out["NextToken"]
    live = q.get("live") == "1"
    rows = []
    for e, rec in records[:100]:
        outcome = outcome_of(rec)
        css = {"allowed": "good", "refused": "bad", "failed": "bad"}[outcome]
        role_name, session = _role_and_session(rec)
        rows.append(
            [
                rec.get("eventTime"),
                link(f"/console/trail/events/{seg(e['EventId'])}", rec.get("eventName")),
                str(rec.get("eventSource", "")).split(".", 1)[0],
                _user_of(rec) if not role_name else f"{role_name} / {session}",
                Markup(f'<span class="{css}">{esc(outcome)}</span>'),
                rec.get("errorCode") or "",
            ]
        )
    body = trail_filters(q)
    if live:
        body += Markup(
            "<p class='muted' role='status'>Live: this page reloads every 5 seconds. "
            f"{link(url('/console/trail', **{k: v for k, v in q.items() if k != 'live'}), 'Stop')}</p>"
        )
    else:
        body += Markup(
            f"<p>{link(url('/console/trail', **dict(q, live='1')), 'Watch live')} (reloads every 5 s)</p>"
        )
    body += table(
        "Events, newest first" + (" (the 100 newest that match)" if len(records) >= 100 else ""),
        ["Time (UTC)", "Event", "Service", "User / role session", "Outcome", "Error"],
        rows,
        empty="no event matches.",
    )
    return page.render("Trail", body, current="/console/trail", refresh=5 if live else None)


def trail_filters(q: dict[str, str]) -> Markup:
    def field(name: str, label: str, kind: str = "text") -> str:
        return (
            f'<div><label for="f-{name}">{esc(label)}</label>'
            f'<input type="{kind}" id="f-{name}" name="{name}" value="{esc(q.get(name, ""))}"></div>'
        )

    options = "".join(
        f'<option value="{k}"{" selected" if q.get("outcome", "") == k else ""}>{esc(v)}</option>'
        for k, v in OUTCOMES.items()
    )
    live = '<input type="hidden" name="live" value="1">' if q.get("live") == "1" else ""
    return Markup(
        '<form method="get" action="/console/trail" aria-label="Filter the trail"><div class="filters">'
        + field("user", "User")
        + field("role", "Role")
        + field("session", "Session name")
        + field("event", "Event name")
        + f'<div><label for="f-outcome">Outcome</label><select id="f-outcome" name="outcome">{options}</select></div>'
        + field("start", "From (UTC)", "datetime-local")
        + field("end", "To (UTC)", "datetime-local")
        + f'<div>{live}<button type="submit">Filter</button></div></div></form>'
    )


def trail_event(page: Page) -> HttpResponse:
    event_id = page.req.decoded_path.split("/console/trail/events/", 1)[1].strip("/")
    page.pipeline.flush_trail()
    out = page.call(
        "cloudtrail",
        "LookupEvents",
        {"LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": event_id}], "MaxResults": 1},
    )
    events = out.get("Events") or []
    if not events:
        return page.render(
            "Event not found", Markup(f"<p>No event {esc(event_id)} in this account's trail.</p>")
        )
    rec = json.loads(events[0]["CloudTrailEvent"])
    outcome = outcome_of(rec)
    css = "allowed" if outcome == "allowed" else "refused"
    body = Markup(
        f'<div class="card {css}"><p><strong>{esc(rec.get("eventName"))}</strong> '
        f"({esc(rec.get('eventSource'))}) at {esc(rec.get('eventTime'))}: <strong>{esc(outcome)}</strong></p></div>"
        '<section aria-labelledby="why"><h2 id="why">What happened, and why</h2>'
        f"{pre(describe([(page.caller.account, rec)]), 'The policy engine explanation')}</section>"
        '<section aria-labelledby="record"><h2 id="record">The trail record</h2>'
        f"{pre(json.dumps(rec, indent=2), 'CloudTrail record')}</section>"
        f"{simulate_link(rec)}<p>{link('/console/trail', 'Back to the trail')}</p>"
    )
    return page.render(f"Event {rec.get('eventName')}", body, current="/console/trail")


def simulate_link(rec: dict[str, Any]) -> Markup:
    """A link to the simulator, prefilled with the event's principal (a role session's role) and action."""
    identity = rec.get("userIdentity") or {}
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    principal = issuer if identity.get("type") == "AssumedRole" else identity.get("arn")
    if identity.get("type") not in ("IAMUser", "AssumedRole") or not principal:
        return Markup("")
    action = f"{str(rec.get('eventSource', '')).split('.', 1)[0]}:{rec.get('eventName')}"
    target = url("/console/simulator", principal_arn=principal, actions=action)
    return Markup(f"<p>{link(target, f'Ask the policy simulator about {action} for {principal} now')}</p>")


# ---------------------------------------------------------------- simulator


def _lines(text: str) -> list[str]:
    return [p.strip() for chunk in text.splitlines() for p in chunk.split(",") if p.strip()]


def simulator(page: Page) -> HttpResponse:
    # A GET may come prefilled (a trail event links here with its principal and action); only a POST runs.
    f = page.form if page.req.method == "POST" else page.query
    principals: list[str] = []
    for op, key, item in (("ListUsers", "Users", "Arn"), ("ListRoles", "Roles", "Arn")):
        try:
            principals += [x[item] for x in list_all(page, "iam", op, key)]
        except Refused:
            pass  # the principal can still be typed in
    result = Markup("")
    if page.req.method == "POST":
        result = simulate(page, f)
    chosen = f.get("principal", "")
    options = "".join(
        f'<option value="{esc(a)}"{" selected" if a == chosen else ""}>{esc(a)}</option>' for a in principals
    )
    body = Markup(
        "<p>As IAM's policy simulator: the decision the policy engine would make for a principal's "
        "identity-based policies and permissions boundary (SimulatePrincipalPolicy, run as you).</p>"
        f'<form method="post" action="/console/simulator" class="stack">{hidden_csrf(page.session.csrf)}'
        '<label for="principal">Principal <span class="hint">(a user, group or role of this account)</span></label>'
        f'<select id="principal" name="principal">{options}</select>'
        '<label for="principal_arn">or its ARN</label>'
        f'<input type="text" id="principal_arn" name="principal_arn" value="{esc(f.get("principal_arn", ""))}">'
        '<label for="actions">Actions <span class="hint">(one per line, e.g. s3:GetObject)</span></label>'
        f'<textarea id="actions" name="actions" required>{esc(f.get("actions", ""))}</textarea>'
        '<label for="resources">Resources <span class="hint">(ARNs, one per line; empty: *)</span></label>'
        f'<textarea id="resources" name="resources">{esc(f.get("resources", ""))}</textarea>'
        '<label for="context">Context <span class="hint">(KEY=VALUE per line, e.g. aws:SourceIp=10.0.0.1; '
        "KEY:type=VALUE for numeric, boolean, date, ip)</span></label>"
        f'<textarea id="context" name="context">{esc(f.get("context", ""))}</textarea>'
        '<p><button type="submit">Run simulation</button></p></form>'
    )
    return page.render("Policy simulator", result + body, current="/console/simulator")


def _context_entries(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, value = line.split("=", 1)
        kind = "string"
        if ":" in key and key.rsplit(":", 1)[1].strip().lower() in (
            "numeric",
            "boolean",
            "date",
            "ip",
            "string",
        ):
            key, kind = key.rsplit(":", 1)
        entries.append(
            {
                "ContextKeyName": key.strip(),
                "ContextKeyValues": [value.strip()],
                "ContextKeyType": kind.strip().lower(),
            }
        )
    return entries


def simulate(page: Page, f: dict[str, str]) -> Markup:
    source = f.get("principal_arn", "").strip() or f.get("principal", "").strip()
    actions = _lines(f.get("actions", ""))
    if not source or not actions:
        return Markup(
            '<div class="card refused" role="alert"><p>Give a principal and at least one action.</p></div>'
        )
    params: dict[str, Any] = {"PolicySourceArn": source, "ActionNames": actions}
    if _lines(f.get("resources", "")):
        params["ResourceArns"] = _lines(f.get("resources", ""))
    if _context_entries(f.get("context", "")):
        params["ContextEntries"] = _context_entries(f.get("context", ""))
    got = page.try_call("iam", "SimulatePrincipalPolicy", params)
    if isinstance(got, Refused):
        return (
            Markup('<section aria-labelledby="result"><h2 id="result">Result</h2>')
            + refused_note(got, "the simulation")
            + Markup("</section>")
        )
    rows = []
    for r in got.get("EvaluationResults") or []:
        decision = r["EvalDecision"]
        css = "good" if decision == "allowed" else "bad"
        rows.append(
            [
                r["EvalActionName"],
                r["EvalResourceName"],
                Markup(f'<span class="{css}">{esc(decision)}</span>'),
                simulation_words(r),
            ]
        )
    return (
        Markup(
            f'<section aria-labelledby="result" role="status"><h2 id="result">Result for {esc(source)}</h2>'
        )
        + table("Decisions", ["Action", "Resource", "Decision", "Why"], rows)
        + Markup("</section>")
    )


def _span(statement: dict[str, Any]) -> str:
    """Where a matched statement is in its policy's text, as the simulator reports it."""
    start, end = statement.get("StartPosition"), statement.get("EndPosition")
    if not start or not end:
        return ""
    return f", line {start['Line']} column {start['Column']} to line {end['Line']} column {end['Column']}"


def simulation_words(r: dict[str, Any]) -> str:
    """The engine's reasons for one simulated decision, in words."""
    decision = r["EvalDecision"]
    statements = [
        f"{s.get('SourcePolicyId')} ({s.get('SourcePolicyType')}){_span(s)}"
        for s in r.get("MatchedStatements") or []
    ]
    if decision == "allowed":
        text = "Allowed by " + "; ".join(statements) if statements else "Allowed."
    elif decision == "explicitDeny":
        text = "Explicitly denied by " + "; ".join(statements) if statements else "Explicitly denied."
    else:
        text = "Implicitly denied: no statement of the principal's policies allows it."
    boundary = r.get("PermissionsBoundaryDecisionDetail")
    if boundary is not None and not boundary.get("AllowedByPermissionsBoundary"):
        text += " The permissions boundary does not allow it."
    missing = r.get("MissingContextValues") or [
        k for s in r.get("ResourceSpecificResults") or [] for k in s.get("MissingContextValues") or []
    ]
    if missing:
        text += f" Context keys the policies test but the simulation did not give: {', '.join(missing)}."
    return text
