"""Policy generation from activity: StartPolicyGeneration, GetGeneratedPolicy, ListPolicyGenerations,
CancelPolicyGeneration.

A job reads the trail of a role (its sessions) or user between startTime and endTime and writes the
least-privilege identity policy of what it did: every action it performed successfully (refused attempts
granted nothing and are left out), on the resource ARNs its records name, or "*" where they name none --
or, with includeResourcePlaceholders, the ARN format of the action's resource type from the Service
Authorization Reference with placeholders ("arn:aws:s3:::${BucketName}"). Actions that share the same
resources share a statement. rolecall keeps one event history per account, so every trail ARN names it;
the job completes when it starts.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rolecall import ids
from rolecall.audit.activity import action_of_record, principal_of, records_since
from rolecall.authz.service_reference import ServiceReference, service_reference
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.accessanalyzer.errors import ResourceNotFoundException, ValidationException
from rolecall.services.accessanalyzer.findings import iso

KIND = "policy-generation"
MAX_RANGE = timedelta(days=90)
_PRINCIPAL = re.compile(r"^arn:aws:iam::(\d{12}):(role|user)/(?:.*/)?([^/]+)$")


def _access_role(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Access Analyzer reads the trail as the access role, which the caller must be allowed to pass."""
    role = ((params.get("cloudTrailDetails") or {}).get("accessRole")) or ""
    if not role:
        return []
    return [("iam:PassRole", role, {"iam:PassedToService": "access-analyzer.amazonaws.com"})]


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def generate(
    ctx: OpContext, principal: str, start: datetime, end: datetime, reference: ServiceReference
) -> tuple[list[tuple[str, list[str]]], bool]:
    """(action, resource ARNs) used by the principal in [start, end], and whether the trail covered it all."""
    used: dict[str, dict[str, None]] = {}
    start_text, end_text = iso(start), iso(end)
    for record in records_since(ctx.store, ctx.account, start):
        if record["eventTime"] > end_text or record["eventTime"] < start_text:
            continue
        if principal_of(record) != principal or record.get("errorCode"):
            continue
        action = action_of_record(record, ctx.host.action_of)
        known = reference.action(action)
        name = known.full_name if known else action
        arns = used.setdefault(name, {})
        for resource in record.get("resources") or []:
            if resource.get("ARN"):
                arns[resource["ARN"]] = None
    return sorted((action, sorted(arns)) for action, arns in used.items()), True


def policy_document(
    used: list[tuple[str, list[str]]], reference: ServiceReference, placeholders: bool, ctx: OpContext
) -> str:
    groups: dict[tuple[str, ...], list[str]] = {}
    for action, arns in used:
        resources = tuple(arns) or _placeholder(action, reference, placeholders, ctx)
        groups.setdefault(resources, []).append(action)
    statements = []
    for resources, actions in sorted(groups.items(), key=lambda g: (g[1][0], g[0])):
        statements.append(
            {
                "Effect": "Allow",
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": list(resources) if len(resources) > 1 else resources[0],
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def _placeholder(action: str, reference: ServiceReference, wanted: bool, ctx: OpContext) -> tuple[str, ...]:
    known = reference.action(action)
    if not wanted or known is None or not known.resource_types:
        return ("*",)
    # The action's main resource type: a required one, else the plainest (fewest placeholders: an S3
    # object's ARN rather than an object's through an access point).
    candidates = []
    for rtype, required in known.resource_types:
        arn = reference.resource_arn(known.service, rtype)
        if arn:
            candidates.append((not required, arn.count("${"), arn))
    formats = [
        arn.replace("${Partition}", "aws").replace("${Account}", ctx.account).replace("${Region}", ctx.region)
        for _, _, arn in sorted(candidates)
    ]
    return tuple(formats[:1]) or ("*",)


def _job(ctx: OpContext, job_id: str) -> dict[str, Any]:
    job = ctx.tx.get(ctx.account, KIND, job_id)
    if job is None:
        raise ResourceNotFoundException(f"Policy generation job {job_id} not found.")
    return job


class PolicyGenerationOperations(Family):
    @operation("access-analyzer:StartPolicyGeneration", extra=_access_role)
    def StartPolicyGeneration(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        principal = params["policyGenerationDetails"]["principalArn"]
        m = _PRINCIPAL.match(principal)
        if m is None:
            raise ValidationException(f"The principal {principal} is not an IAM role or user ARN.")
        if m[1] != ctx.account or ctx.tx.get(ctx.account, m[2], m[3]) is None:
            raise ValidationException(f"The principal {principal} does not exist in account {ctx.account}.")
        trail = params.get("cloudTrailDetails")
        if not trail:
            raise ValidationException(
                "cloudTrailDetails is required: rolecall generates policies from the trail."
            )
        role = trail["accessRole"]
        rm = _PRINCIPAL.match(role)
        if (
            rm is None
            or rm[2] != "role"
            or rm[1] != ctx.account
            or ctx.tx.get(ctx.account, "role", rm[3]) is None
        ):
            raise ValidationException(f"The access role {role} is not a role of account {ctx.account}.")
        now = ctx.clock.now()
        start = _when(trail["startTime"])
        end = _when(trail["endTime"]) if trail.get("endTime") is not None else now
        if start >= end:
            raise ValidationException("startTime must be before endTime.")
        if end - start > MAX_RANGE:
            raise ValidationException("The time range between startTime and endTime cannot exceed 90 days.")
        token = params.get("clientToken")
        if token:
            for job in ctx.tx.list(ctx.account, KIND):
                if job.get("clientToken") == token:
                    return {"jobId": job["jobId"]}  # a retry of the same request (the SDKs send a token)
        reference = service_reference()
        used, complete = generate(ctx, principal, start, end, reference)
        job_id = ids.request_id()
        trails = [
            {k: t[k] for k in ("cloudTrailArn", "regions", "allRegions") if k in t}
            for t in trail.get("trails") or []
        ]
        ctx.tx.insert(
            ctx.account,
            KIND,
            job_id,
            {
                "jobId": job_id,
                "seq": len(ctx.tx.list(ctx.account, KIND)),  # orders jobs started in the same second
                "clientToken": token,
                "principalArn": principal,
                "status": "SUCCEEDED",
                "startedOn": iso(now),
                "completedOn": iso(now),
                "used": used,
                "isComplete": complete,
                "cloudTrailProperties": {
                    "trailProperties": trails,
                    "startTime": iso(start),
                    "endTime": iso(end),
                },
            },
        )
        return {"jobId": job_id}

    @operation("access-analyzer:GetGeneratedPolicy")
    def GetGeneratedPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        job = _job(ctx, params["jobId"])
        details = {k: job[k] for k in ("jobId", "status", "startedOn", "completedOn") if job.get(k)}
        result: dict[str, Any] = {
            "properties": {
                "isComplete": job["isComplete"],
                "principalArn": job["principalArn"],
                "cloudTrailProperties": job["cloudTrailProperties"],
            }
        }
        if job["status"] == "SUCCEEDED":
            used = [(action, list(arns)) for action, arns in job["used"]]
            placeholders = bool(params.get("includeResourcePlaceholders"))
            document = policy_document(used, service_reference(), placeholders, ctx) if used else None
            result["generatedPolicies"] = [{"policy": document}] if document else []
        return {"jobDetails": details, "generatedPolicyResult": result}

    @operation("access-analyzer:ListPolicyGenerations")
    def ListPolicyGenerations(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        jobs = sorted(ctx.tx.list(ctx.account, KIND), key=lambda j: (j["startedOn"], j.get("seq", 0)))
        wanted = params.get("principalArn")
        items = [
            {k: j[k] for k in ("jobId", "principalArn", "status", "startedOn", "completedOn") if j.get(k)}
            for j in jobs
            if not wanted or j["principalArn"] == wanted
        ]
        start = 0
        token = params.get("nextToken")
        if token is not None:
            if not token.isdigit() or int(token) > len(items):
                raise ValidationException("The nextToken is not valid.")
            start = int(token)
        size = params.get("maxResults") or 100
        out: dict[str, Any] = {"policyGenerations": items[start : start + size]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return out

    @operation("access-analyzer:CancelPolicyGeneration")
    def CancelPolicyGeneration(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        job = _job(ctx, params["jobId"])
        if job["status"] == "IN_PROGRESS":  # rolecall's jobs complete at once: nothing is left to cancel
            job["status"] = "CANCELED"
            ctx.tx.update(ctx.account, KIND, job["jobId"], job)
        return {}
