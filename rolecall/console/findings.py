"""IAM Access Analyzer's findings in the console: each analyzer of the region with its findings (external
access to a role or bucket from outside the account, unused roles, passwords, keys and permissions), a
finding's detail in words, and archiving or unarchiving one (UpdateFindings, a CSRF-protected POST).

Everything is read and changed through `Page.call`, as the signed-in principal: a user without
access-analyzer:ListAnalyzers gets the refusal page with the engine's explanation.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall.console.html import Markup, esc, hidden_csrf, link, pre, seg, table, url
from rolecall.console.page import SECURITY_HEADERS, Page, Refused
from rolecall.console.pages import refused_note
from rolecall.http import HttpResponse

SERVICE = "access-analyzer"
PAGES = 20  # pages of 100 findings read per analyzer at most
STATUSES = {"": "any status", "ACTIVE": "active", "ARCHIVED": "archived", "RESOLVED": "resolved"}
KINDS = {
    "ExternalAccess": "external access",
    "UnusedIAMRole": "unused role",
    "UnusedIAMUserAccessKey": "unused access key",
    "UnusedIAMUserPassword": "unused password",
    "UnusedPermission": "unused permissions",
}
SOURCES = {"POLICY": "the resource's policy (a role's trust policy, a bucket policy)"}
ANALYZER_KINDS = {
    "ACCOUNT": "external access, the account as zone of trust",
    "ACCOUNT_UNUSED_ACCESS": "unused access",
}


def _analyzers(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for _ in range(PAGES):
        out = page.call(SERVICE, "ListAnalyzers", params)
        found += out.get("analyzers") or []
        if not out.get("nextToken"):
            break
        params["nextToken"] = out["nextToken"]
    return found


def _findings(page: Page, analyzer_arn: str, status: str) -> list[dict[str, Any]] | Refused:
    params: dict[str, Any] = {"analyzerArn": analyzer_arn, "maxResults": 100}
    if status:
        params["filter"] = {"status": {"eq": [status]}}
    found: list[dict[str, Any]] = []
    for _ in range(PAGES):
        out = page.try_call(SERVICE, "ListFindingsV2", params)
        if isinstance(out, Refused):
            return out
        found += out.get("findings") or []
        if not out.get("nextToken"):
            break
        params["nextToken"] = out["nextToken"]
    return found


def _status(value: str) -> Markup:
    css = {"ACTIVE": "bad", "ARCHIVED": "muted", "RESOLVED": "good"}.get(value, "")
    return Markup(f'<span class="{css}">{esc(value.lower())}</span>')


def findings(page: Page) -> HttpResponse:
    status = page.query.get("status", "ACTIVE") if page.query.get("status") in STATUSES else "ACTIVE"
    analyzers = _analyzers(page)
    options = "".join(
        f'<option value="{k}"{" selected" if status == k else ""}>{esc(v)}</option>'
        for k, v in STATUSES.items()
    )
    body = Markup(
        "<p>IAM Access Analyzer's findings for the analyzers of this account in "
        f"{esc(page.pipeline.config.region)}: who outside the account can reach a role or bucket, and which "
        "roles, passwords, access keys and permissions have gone unused. Open a finding for its detail; "
        "archive what you intend.</p>"
        '<form method="get" action="/console/findings" aria-label="Filter the findings"><div class="filters">'
        f'<div><label for="f-status">Status</label><select id="f-status" name="status">{options}</select></div>'
        '<div><button type="submit">Show</button></div></div></form>'
    )
    if not analyzers:
        body += Markup(
            "<p class='empty'>This account has no analyzer in this region: create one (for example "
            "<code>aws accessanalyzer create-analyzer --analyzer-name account --type ACCOUNT</code>) and its "
            "findings show here.</p>"
        )
    for a in analyzers:
        kind = ANALYZER_KINDS.get(a.get("type", ""), a.get("type", ""))
        body += Markup(f'<section aria-labelledby="a-{esc(a["name"])}">')
        body += Markup(f'<h2 id="a-{esc(a["name"])}">Analyzer {esc(a["name"])} <span class="muted">({esc(kind)})'
                       "</span></h2>")  # fmt: skip
        got = _findings(page, a["arn"], status)
        if isinstance(got, Refused):
            body += refused_note(got, "this analyzer's findings")
        else:
            rows = [
                [
                    link(f"/console/findings/{seg(a['name'])}/{seg(f['id'])}", f["resource"]),
                    f.get("resourceType"),
                    KINDS.get(f.get("findingType", ""), f.get("findingType")),
                    _status(f.get("status", "")),
                    f.get("updatedAt"),
                ]
                for f in got
            ]
            shown = STATUSES[status] + " findings" if status else "Findings"
            body += table(
                f"{shown[0].upper()}{shown[1:]}: {len(got)}",
                ["Resource", "Type", "Finding", "Status", "Updated"],
                rows,
                empty="none.",
            )
        body += Markup("</section>")
    return page.render("Access Analyzer findings", body, current="/console/findings")


# ---------------------------------------------------------------- one finding


def _principal_words(principal: dict[str, str]) -> list[str]:
    out = []
    for kind, value in principal.items():
        if value == "*":
            out.append("anyone (public)")
        elif kind == "AWS":
            out.append(f"the AWS principal {value}")
        elif kind == "Federated":
            out.append(f"users of the identity provider {value}")
        elif kind == "Service":
            out.append(f"the service {value}")
        else:
            out.append(f"{kind} {value}")
    return out


def _detail_html(detail: dict[str, Any]) -> Markup:
    """One entry of GetFindingV2's findingDetails, in words."""
    if "externalAccessDetails" in detail:
        d = detail["externalAccessDetails"]
        conditions = d.get("condition") or {}
        rows = [
            ["Who", "; ".join(_principal_words(d.get("principal") or {})) or "-"],
            ["May", ", ".join(d.get("action") or []) or "-"],
            ["Public", "yes: anyone at all" if d.get("isPublic") else "no"],
            [
                "Only when",
                "; ".join(f"{k} is {v}" for k, v in conditions.items()) or "always (no condition)",
            ],
            [
                "Granted by",
                ", ".join(SOURCES.get(s.get("type", ""), s.get("type", "")) for s in d.get("sources") or [])
                or "-",
            ],
        ]
        return table("External access", ["", "Detail"], rows)
    if "unusedPermissionDetails" in detail:
        d = detail["unusedPermissionDetails"]
        actions = [a.get("action", "") for a in d.get("actions") or []]
        if actions:
            text = (
                f"The service {d['serviceNamespace']} was last used {d.get('lastAccessed', '-')}, but these "
                f"allowed actions never: {', '.join(actions)}."
            )
        else:
            text = f"Allowed the service {d['serviceNamespace']}, never used it in the tracking period."
        return Markup(f"<li>{esc(text)}</li>")
    if "unusedIamRoleDetails" in detail:
        last = detail["unusedIamRoleDetails"].get("lastAccessed")
        return Markup(f"<p>The role was {esc(f'last used {last}' if last else 'never used')}.</p>")
    if "unusedIamUserAccessKeyDetails" in detail:
        d = detail["unusedIamUserAccessKeyDetails"]
        used = f"last used {d['lastAccessed']}" if d.get("lastAccessed") else "not used"
        return Markup(
            f"<p>The access key {esc(d.get('accessKeyId'))} was {esc(used)} in the tracking period.</p>"
        )
    if "unusedIamUserPasswordDetails" in detail:
        last = detail["unusedIamUserPasswordDetails"].get("lastAccessed")
        return Markup(
            f"<p>The console password was {esc(f'last used {last}' if last else 'never used')}.</p>"
        )
    return pre(json.dumps(detail, indent=2, default=str))


def _finding_parts(page: Page) -> tuple[str, str]:
    rest = page.req.decoded_path.split("/console/findings/", 1)[1].strip("/")
    name, _, fid = rest.partition("/")
    return name, fid


def finding(page: Page) -> HttpResponse:
    name, fid = _finding_parts(page)
    analyzer = page.call(SERVICE, "GetAnalyzer", {"analyzerName": name})["analyzer"]
    here = f"/console/findings/{seg(name)}/{seg(fid)}"
    if page.req.method == "POST":
        wanted = {"archive": "ARCHIVED", "unarchive": "ACTIVE"}.get(page.form.get("action", ""))
        if wanted:
            page.call(
                SERVICE, "UpdateFindings", {"analyzerArn": analyzer["arn"], "ids": [fid], "status": wanted}
            )
        return HttpResponse(303, [("location", here), *SECURITY_HEADERS], b"")
    got = page.call(SERVICE, "GetFindingV2", {"analyzerArn": analyzer["arn"], "id": fid})
    details = list(got.get("findingDetails") or [])
    params: dict[str, Any] = {"analyzerArn": analyzer["arn"], "id": fid}
    while got.get("nextToken") and len(details) < 1000:
        params["nextToken"] = got["nextToken"]
        got = {**got, **page.call(SERVICE, "GetFindingV2", params)}
        details += got.get("findingDetails") or []
    kind = KINDS.get(got.get("findingType", ""), got.get("findingType", ""))
    status = got.get("status", "")
    facts = table(
        "Finding",
        ["Field", "Value"],
        [
            ["Resource", got.get("resource")],
            ["Resource type", got.get("resourceType")],
            ["Owner account", got.get("resourceOwnerAccount")],
            ["Finding", kind],
            ["Status", _status(status)],
            ["Analyzer", f"{analyzer['name']} ({analyzer['arn']})"],
            ["First seen", got.get("createdAt")],
            ["Updated", got.get("updatedAt")],
            ["Finding ID", fid],
        ],
    )
    body = Markup(facts)
    if got.get("resourceType") == "AWS::IAM::Role":
        role_name = str(got.get("resource", "")).rsplit("/", 1)[-1]
        body += Markup(f"<p>{link(f'/console/roles/{seg(role_name)}', f'Open the role {role_name}')}</p>")
    body += Markup('<section aria-labelledby="detail"><h2 id="detail">What the analyzer found</h2>')
    if status == "RESOLVED":
        body += Markup("<p>Resolved: the account no longer grants this access.</p>")
    items = [_detail_html(d) for d in details]
    lists = [i for i in items if i.startswith("<li>")]
    body += Markup("".join(i for i in items if not i.startswith("<li>")))
    if lists:
        body += Markup(f"<ul class='words'>{''.join(lists)}</ul>")
    body += Markup("</section>")
    if status in ("ACTIVE", "ARCHIVED"):
        action, label = ("archive", "Archive") if status == "ACTIVE" else ("unarchive", "Unarchive")
        hint = (
            "Archiving says this access is intended; the finding stays, archived."
            if status == "ACTIVE"
            else "Unarchiving makes the finding active again."
        )
        body += Markup(
            f'<form method="post" action="{esc(here)}">{hidden_csrf(page.session.csrf)}'
            f'<input type="hidden" name="action" value="{action}"><p class="muted">{esc(hint)}</p>'
            f'<p><button type="submit">{label}</button></p></form>'
        )
    body += Markup(f"<p>{link(url('/console/findings', status=status), 'Back to the findings')}</p>")
    return page.render(f"Finding on {got.get('resource')}", body, current="/console/findings")
