"""Analyzers, their archive rules and their findings: CreateAnalyzer ... UpdateFindings.

An analyzer is a document of its account (one per Region and name). Its findings are computed when they
are read (rolecall.services.accessanalyzer.findings), so they always describe the account as it is. What
an analyzer keeps is what cannot be recomputed: each finding it has reported, with the status it was given
(by UpdateFindings or an archive rule) and when it was first seen. A finding it has kept that the account
no longer produces is RESOLVED. Archive rules archive the new findings that match them; ApplyArchiveRule
archives the existing ones too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.accessanalyzer.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from rolecall.services.accessanalyzer.findings import (
    DEFAULT_UNUSED_AGE,
    EXTERNAL_TYPES,
    UNUSED_TYPES,
    Finding,
    analyze,
    iso,
)

KIND = "access-analyzer"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,254}")
MAX_ANALYZERS = 50  # per type and Region: more than any account needs here
CRITERIA = ("eq", "neq", "contains", "exists")


def analyzer_arn(ctx: OpContext, name: str) -> str:
    return f"arn:aws:access-analyzer:{ctx.region}:{ctx.account}:analyzer/{name}"


def _key(ctx: OpContext, name: str) -> str:
    return f"{ctx.region}/{name}"


def _by_name(ctx: OpContext, name: str) -> dict[str, Any]:
    found = ctx.tx.get(ctx.account, KIND, _key(ctx, name))
    if found is None:
        raise ResourceNotFoundException(f"Analyzer {name} not found.")
    return found


def _by_arn(ctx: OpContext, arn: str) -> dict[str, Any]:
    prefix = f"arn:aws:access-analyzer:{ctx.region}:{ctx.account}:analyzer/"
    if not arn.startswith(prefix):
        raise ResourceNotFoundException(f"Analyzer {arn} not found.")
    return _by_name(ctx, arn[len(prefix) :])


def _save(ctx: OpContext, analyzer: dict[str, Any]) -> None:
    ctx.tx.update(ctx.account, KIND, _key(ctx, analyzer["name"]), analyzer)


def _analyzer_shape(analyzer: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: analyzer[k] for k in ("arn", "name", "type", "createdAt", "status") if k in analyzer
    }
    for member in ("tags", "configuration", "lastResourceAnalyzed", "lastResourceAnalyzedAt"):
        if analyzer.get(member):
            out[member] = analyzer[member]
    return out


def _name_arn(kind: str) -> Callable[[OpContext, dict[str, Any]], str]:
    def resolve(ctx: OpContext, params: dict[str, Any]) -> str:
        arn = analyzer_arn(ctx, params.get("analyzerName", ""))
        if kind == "rule":
            arn += f"/archive-rule/{params.get('ruleName', '')}"
        return arn

    return resolve


def _param_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return str(params.get("analyzerArn") or "*")


# ---------------------------------------------------------------- filters


def _validate_filter(criteria: dict[str, Any] | None) -> dict[str, Any]:
    for key, criterion in (criteria or {}).items():
        if not isinstance(criterion, dict) or not any(c in criterion for c in CRITERIA):
            raise ValidationException(f"The filter criterion for {key} must set eq, neq, contains or exists.")
    return criteria or {}


def flatten(finding: dict[str, Any]) -> dict[str, list[str]]:
    """A finding as the filter keys see it: "status", "resourceType", "principal.AWS", "condition.x", ..."""
    flat: dict[str, list[str]] = {}
    for key in ("id", "status", "resource", "resourceType", "resourceOwnerAccount", "findingType", "error"):
        if finding.get(key) is not None:
            flat[key] = [str(finding[key])]
    external = finding.get("external") or {}
    if external:
        flat["isPublic"] = ["true" if external.get("isPublic") else "false"]
        flat["action"] = list(external.get("action") or [])
        for kind, value in (external.get("principal") or {}).items():
            flat[f"principal.{kind}"] = [value]
        for key, value in (external.get("condition") or {}).items():
            flat[f"condition.{key}"] = [value]
    return flat


def matches(criteria: dict[str, Any], finding: dict[str, Any]) -> bool:
    flat = flatten(finding)
    for key, criterion in criteria.items():
        values = flat.get(key)
        if "exists" in criterion and bool(values) != bool(criterion["exists"]):
            return False
        if "eq" in criterion and not (values and set(values) & set(criterion["eq"])):
            return False
        if "neq" in criterion and values and set(values) & set(criterion["neq"]):
            return False
        if "contains" in criterion and not (
            values and any(part in value for part in criterion["contains"] for value in values)
        ):
            return False
    return True


# ---------------------------------------------------------------- findings with their status


def current(ctx: OpContext, analyzer: dict[str, Any]) -> list[dict[str, Any]]:
    """The analyzer's findings now: computed ones with their kept status (or the archive rules' verdict
    for new ones), then kept ones the account no longer produces, RESOLVED."""
    now = iso(ctx.clock.now())
    kept: dict[str, Any] = analyzer.get("findings") or {}
    rules = [rule["filter"] for rule in (analyzer.get("archiveRules") or {}).values()]
    out: list[dict[str, Any]] = []
    live: dict[str, Finding] = {f.id: f for f in analyze(ctx, analyzer)}
    for fid, finding in live.items():
        item: dict[str, Any] = {"id": fid, **finding.summary(), "details": finding.details, "analyzedAt": now}
        state = kept.get(fid)
        if state is not None:
            item.update(status=state["status"], createdAt=state["createdAt"], updatedAt=state["updatedAt"])
        else:
            item.update(status="ACTIVE", createdAt=now, updatedAt=now)
            if any(matches(rule, item) for rule in rules):
                item["status"] = "ARCHIVED"
        out.append(item)
    for fid, state in kept.items():
        if fid not in live:
            out.append(
                {
                    "id": fid,
                    **state["summary"],
                    "details": [],
                    "analyzedAt": now,
                    "status": "RESOLVED",
                    "createdAt": state["createdAt"],
                    "updatedAt": state["resolvedAt"] if state.get("resolvedAt") else now,
                }
            )
    return out


def keep(ctx: OpContext, analyzer: dict[str, Any], findings: list[dict[str, Any]]) -> None:
    """Remember the findings as they are now (their first-seen date and status), before a change that
    must not touch them retroactively (a new archive rule) or that sets their status."""
    kept = analyzer.setdefault("findings", {})
    for item in findings:
        if item["status"] == "RESOLVED":
            kept[item["id"]].setdefault("resolvedAt", item["updatedAt"])
            continue
        kept[item["id"]] = {
            "status": item["status"],
            "createdAt": item["createdAt"],
            "updatedAt": item["updatedAt"],
            "summary": {
                k: item[k]
                for k in ("findingType", "resource", "resourceType", "resourceOwnerAccount", "external")
            },
        }


def summary_v1(item: dict[str, Any]) -> dict[str, Any]:
    external = item.get("external") or {}
    out = {
        "id": item["id"],
        "resource": item["resource"],
        "resourceType": item["resourceType"],
        "resourceOwnerAccount": item["resourceOwnerAccount"],
        "condition": external.get("condition") or {},
        "createdAt": item["createdAt"],
        "analyzedAt": item["analyzedAt"],
        "updatedAt": item["updatedAt"],
        "status": item["status"],
    }
    for member in ("principal", "action", "isPublic", "sources"):
        if member in external:
            out[member] = external[member]
    return out


def summary_v2(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: item[k]
        for k in (
            "id",
            "resource",
            "resourceType",
            "resourceOwnerAccount",
            "createdAt",
            "analyzedAt",
            "updatedAt",
            "status",
            "findingType",
        )
    }


def _page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    start = 0
    token = params.get("nextToken")
    if token is not None:
        if not token.isdigit() or int(token) > len(items):
            raise ValidationException("The nextToken is not valid.")
        start = int(token)
    size = params.get("maxResults") or 100
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


def _sorted(items: list[dict[str, Any]], sort: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not sort or not sort.get("attributeName"):
        return sorted(items, key=lambda i: (i["createdAt"], i["id"]))
    name = sort["attributeName"]
    ordered = sorted(items, key=lambda i: (flatten(i).get(name) or [str(i.get(name, ""))], i["id"]))
    return ordered[::-1] if sort.get("orderBy") == "DESC" else ordered


# ---------------------------------------------------------------- the operations


def _param_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return str(params.get("resourceArn") or "*")


def _tag_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("tags") or {}
    keys = list(tags) or list(params.get("tagKeys") or [])
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = keys
    return context


class AnalyzerOperations(Family):
    @operation(
        "access-analyzer:CreateAnalyzer",
        _name_arn("analyzer"),
        unsupported={
            "type": ("ACCOUNT", "ACCOUNT_UNUSED_ACCESS"),
            "configuration.unusedAccess.analysisRule": (),
        },
    )
    def CreateAnalyzer(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["analyzerName"]
        if not _NAME.fullmatch(name):
            raise ValidationException(f"Invalid analyzer name {name}: use letters, digits, '.', '_' and '-'.")
        kind = params["type"]
        existing = [a for a in ctx.tx.list(ctx.account, KIND) if a["arn"].split(":")[3] == ctx.region]
        for other in existing:
            if other["name"] == name:
                token = params.get("clientToken")
                if token and other.get("clientToken") == token and other["type"] == kind:
                    return {"arn": other["arn"]}  # a retry of the same request (the SDKs send a token)
                raise ConflictException(f"Analyzer {name} already exists.")
        if sum(a["type"] == kind for a in existing) >= MAX_ANALYZERS:
            raise ServiceQuotaExceededException(
                f"You have reached the quota of {MAX_ANALYZERS} {kind} analyzers."
            )
        now = iso(ctx.clock.now())
        analyzer: dict[str, Any] = {
            "arn": analyzer_arn(ctx, name),
            "name": name,
            "type": kind,
            "createdAt": now,
            "status": "ACTIVE",
            "tags": params.get("tags") or {},
            "archiveRules": {},
            "findings": {},
            "clientToken": params.get("clientToken"),
        }
        if kind in UNUSED_TYPES:
            age = ((params.get("configuration") or {}).get("unusedAccess") or {}).get("unusedAccessAge")
            age = age or DEFAULT_UNUSED_AGE
            if not 1 <= age <= 365:
                raise ValidationException("unusedAccessAge must be between 1 and 365 days.")
            analyzer["configuration"] = {"unusedAccess": {"unusedAccessAge": age}}
        for rule in params.get("archiveRules") or []:
            analyzer["archiveRules"][rule["ruleName"]] = {
                "ruleName": rule["ruleName"],
                "filter": _validate_filter(rule.get("filter")),
                "createdAt": now,
                "updatedAt": now,
            }
        ctx.tx.insert(ctx.account, KIND, _key(ctx, name), analyzer)
        # The first analysis: its findings are new, so the analyzer's archive rules apply to them.
        findings = current(ctx, analyzer)
        keep(ctx, analyzer, findings)
        if findings:
            analyzer["lastResourceAnalyzed"] = findings[-1]["resource"]
            analyzer["lastResourceAnalyzedAt"] = now
        _save(ctx, analyzer)
        return {"arn": analyzer["arn"]}

    @operation("access-analyzer:GetAnalyzer", _name_arn("analyzer"))
    def GetAnalyzer(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"analyzer": _analyzer_shape(_by_name(ctx, params["analyzerName"]))}

    @operation("access-analyzer:ListAnalyzers")
    def ListAnalyzers(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzers = [
            _analyzer_shape(a)
            for a in sorted(ctx.tx.list(ctx.account, KIND), key=lambda a: a["name"])
            if a["arn"].split(":")[3] == ctx.region
            and (not params.get("type") or a["type"] == params["type"])
        ]
        return _page(analyzers, params, "analyzers")

    @operation("access-analyzer:DeleteAnalyzer", _name_arn("analyzer"))
    def DeleteAnalyzer(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        _by_name(ctx, params["analyzerName"])
        ctx.tx.delete(ctx.account, KIND, _key(ctx, params["analyzerName"]))
        return {}

    @operation(
        "access-analyzer:UpdateAnalyzer",
        _name_arn("analyzer"),
        unsupported=["configuration.unusedAccess.analysisRule"],
    )
    def UpdateAnalyzer(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_name(ctx, params["analyzerName"])
        age = ((params.get("configuration") or {}).get("unusedAccess") or {}).get("unusedAccessAge")
        if params.get("configuration") and analyzer["type"] not in UNUSED_TYPES:
            raise ValidationException("Only unused access analyzers have a configuration to update.")
        if age is not None:
            if not 1 <= age <= 365:
                raise ValidationException("unusedAccessAge must be between 1 and 365 days.")
            analyzer["configuration"] = {"unusedAccess": {"unusedAccessAge": age}}
            _save(ctx, analyzer)
        return {"configuration": analyzer["configuration"]} if analyzer.get("configuration") else {}

    @operation("access-analyzer:TagResource", _param_resource, _tag_context)
    def TagResource(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["resourceArn"])
        analyzer["tags"] = {**(analyzer.get("tags") or {}), **params["tags"]}
        _save(ctx, analyzer)
        return {}

    @operation("access-analyzer:UntagResource", _param_resource, _tag_context)
    def UntagResource(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["resourceArn"])
        analyzer["tags"] = {
            k: v for k, v in (analyzer.get("tags") or {}).items() if k not in params["tagKeys"]
        }
        _save(ctx, analyzer)
        return {}

    @operation("access-analyzer:ListTagsForResource", _param_resource)
    def ListTagsForResource(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": _by_arn(ctx, params["resourceArn"]).get("tags") or {}}


class ArchiveRuleOperations(Family):
    @operation("access-analyzer:CreateArchiveRule", _name_arn("rule"))
    def CreateArchiveRule(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_name(ctx, params["analyzerName"])
        rules = analyzer.setdefault("archiveRules", {})
        if params["ruleName"] in rules:
            token = params.get("clientToken")
            if token and rules[params["ruleName"]].get("clientToken") == token:
                return {}  # a retry of the same request
            raise ConflictException(f"Archive rule {params['ruleName']} already exists.")
        criteria = _validate_filter(params.get("filter"))
        keep(ctx, analyzer, current(ctx, analyzer))  # the rule is for findings found from now on
        now = iso(ctx.clock.now())
        rules[params["ruleName"]] = {
            "ruleName": params["ruleName"],
            "filter": criteria,
            "createdAt": now,
            "updatedAt": now,
            "clientToken": params.get("clientToken"),
        }
        _save(ctx, analyzer)
        return {}

    @operation("access-analyzer:GetArchiveRule", _name_arn("rule"))
    def GetArchiveRule(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"archiveRule": _rule_shape(_rule(_by_name(ctx, params["analyzerName"]), params["ruleName"]))}

    @operation("access-analyzer:ListArchiveRules", _name_arn("analyzer"))
    def ListArchiveRules(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_name(ctx, params["analyzerName"])
        rules = [
            _rule_shape(analyzer["archiveRules"][name]) for name in sorted(analyzer.get("archiveRules") or {})
        ]
        return _page(rules, params, "archiveRules")

    @operation("access-analyzer:UpdateArchiveRule", _name_arn("rule"))
    def UpdateArchiveRule(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_name(ctx, params["analyzerName"])
        rule = _rule(analyzer, params["ruleName"])
        keep(ctx, analyzer, current(ctx, analyzer))
        rule.update(filter=_validate_filter(params.get("filter")), updatedAt=iso(ctx.clock.now()))
        _save(ctx, analyzer)
        return {}

    @operation("access-analyzer:DeleteArchiveRule", _name_arn("rule"))
    def DeleteArchiveRule(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_name(ctx, params["analyzerName"])
        _rule(analyzer, params["ruleName"])
        keep(ctx, analyzer, current(ctx, analyzer))  # what it archived stays archived
        del analyzer["archiveRules"][params["ruleName"]]
        _save(ctx, analyzer)
        return {}

    @operation("access-analyzer:ApplyArchiveRule", _param_arn)
    def ApplyArchiveRule(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["analyzerArn"])
        criteria = _rule(analyzer, params["ruleName"])["filter"]
        findings = current(ctx, analyzer)
        now = iso(ctx.clock.now())
        for item in findings:
            if item["status"] == "ACTIVE" and matches(criteria, item):
                item.update(status="ARCHIVED", updatedAt=now)
        keep(ctx, analyzer, findings)
        _save(ctx, analyzer)
        return {}


def _rule_shape(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: rule[k] for k in ("ruleName", "filter", "createdAt", "updatedAt")}


def _rule(analyzer: dict[str, Any], name: str) -> dict[str, Any]:
    rule: dict[str, Any] | None = (analyzer.get("archiveRules") or {}).get(name)
    if rule is None:
        raise ResourceNotFoundException(f"Archive rule {name} not found.")
    return rule


class FindingOperations(Family):
    @operation("access-analyzer:ListFindings", _param_arn)
    def ListFindings(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["analyzerArn"])
        if analyzer["type"] not in EXTERNAL_TYPES:
            raise ValidationException("ListFindings lists external access findings: use ListFindingsV2.")
        criteria = _validate_filter(params.get("filter"))
        items = [i for i in current(ctx, analyzer) if matches(criteria, i)]
        return _page([summary_v1(i) for i in _sorted(items, params.get("sort"))], params, "findings")

    @operation("access-analyzer:ListFindings", _param_arn)
    def ListFindingsV2(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["analyzerArn"])
        criteria = _validate_filter(params.get("filter"))
        items = [i for i in current(ctx, analyzer) if matches(criteria, i)]
        return _page([summary_v2(i) for i in _sorted(items, params.get("sort"))], params, "findings")

    @operation("access-analyzer:GetFinding", _param_arn)
    def GetFinding(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["analyzerArn"])
        if analyzer["type"] not in EXTERNAL_TYPES:
            raise ValidationException("GetFinding reads external access findings: use GetFindingV2.")
        return {"finding": summary_v1(_finding(ctx, analyzer, params["id"]))}

    @operation("access-analyzer:GetFinding", _param_arn)
    def GetFindingV2(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        item = _finding(ctx, _by_arn(ctx, params["analyzerArn"]), params["id"])
        page = _page(item["details"], params, "findingDetails")
        return {**summary_v2(item), **page}

    @operation("access-analyzer:GetFindingsStatistics", _param_arn)
    def GetFindingsStatistics(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["analyzerArn"])
        items = current(ctx, analyzer)
        totals = {
            f"total{status.capitalize()}Findings": sum(i["status"] == status for i in items)
            for status in ("ACTIVE", "ARCHIVED", "RESOLVED")
        }
        active = [i for i in items if i["status"] == "ACTIVE"]
        if analyzer["type"] in UNUSED_TYPES:
            kinds = sorted({i["findingType"] for i in active})
            statistics = {
                "unusedAccessFindingsStatistics": {
                    "unusedAccessTypeStatistics": [
                        {"unusedAccessType": kind, "total": sum(i["findingType"] == kind for i in active)}
                        for kind in kinds
                    ],
                    **totals,
                }
            }
        else:
            by_type: dict[str, dict[str, int]] = {}
            for item in active:
                entry = by_type.setdefault(
                    item["resourceType"],
                    {"totalActivePublic": 0, "totalActiveCrossAccount": 0, "totalActiveErrors": 0},
                )
                public = bool((item.get("external") or {}).get("isPublic"))
                entry["totalActivePublic" if public else "totalActiveCrossAccount"] += 1
            statistics = {"externalAccessFindingsStatistics": {"resourceTypeStatistics": by_type, **totals}}
        return {"findingsStatistics": [statistics], "lastUpdatedAt": iso(ctx.clock.now())}

    @operation("access-analyzer:UpdateFindings", _param_arn)
    def UpdateFindings(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        analyzer = _by_arn(ctx, params["analyzerArn"])
        ids, resource = params.get("ids") or [], params.get("resourceArn")
        if not ids and not resource:
            raise ValidationException("Specify the ids of the findings to update, or a resourceArn.")
        findings = current(ctx, analyzer)
        known = {i["id"] for i in findings}
        missing = [fid for fid in ids if fid not in known]
        if missing:
            raise ResourceNotFoundException(f"Finding {missing[0]} not found.")
        now = iso(ctx.clock.now())
        for item in findings:
            if item["status"] != "RESOLVED" and (item["id"] in ids or item["resource"] == resource):
                item.update(status=params["status"], updatedAt=now)
        keep(ctx, analyzer, findings)
        _save(ctx, analyzer)
        return {}


def _finding(ctx: OpContext, analyzer: dict[str, Any], fid: str) -> dict[str, Any]:
    for item in current(ctx, analyzer):
        if item["id"] == fid:
            return item
    raise ResourceNotFoundException(f"Finding {fid} not found.")
