"""IAM last accessed information: GenerateServiceLastAccessedDetails and its two readers, from the trail.

A report is about a user, group, role or managed policy. It lists every service the entity's policies
allow (the services of the actions their Allow statements grant, from the Service Authorization
Reference) and, for each, when an entity it covers last attempted to use it -- successful or not, as AWS
counts attempts -- from which Region, and how many distinct entities did. The entities a report covers:
the user or role itself (a role through its sessions), a group's members, a policy's users, roles and
groups' members. ACTION_LEVEL reports add, for the services rolecall serves, every allowed action and
when it was last attempted. Records older than the tracking period (400 days) do not count.

The report is computed when it is generated (the job is complete at once) and kept with the account, so
that it reads the same on every page. As on AWS, the newest reads and denials may reach it a moment late
(they are written to the trail in batches).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from rolecall import ids
from rolecall.audit.activity import action_of_record, principal_of, records_since
from rolecall.authz.principals import (
    default_version_text,
    managed_policy_record,
    sources_for_group,
    sources_for_role,
    sources_for_user,
)
from rolecall.authz.service_reference import granted_actions, service_reference
from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.policy import MalformedPolicy, Policy
from rolecall.services.iam.common import NOT_FOUND, iso_now, paginate
from rolecall.services.iam.errors import InvalidInput, NoSuchEntity

JOB_KIND = "last-accessed-report"
TRACKING_DAYS = 400
# Services whose actions the report tracks one by one: the ones rolecall serves (AWS tracks a set too).
TRACKED_SERVICES = ("iam", "sts", "s3", "ec2", "lambda", "logs", "cloudtrail", "access-analyzer")
_ARN = re.compile(
    r"^arn:aws:iam::(?P<account>\d{12}):(?P<kind>user|group|role|policy)(?P<path>/(?:.*/)?)(?P<name>[^/]+)$"
)
_ENTITY_TYPES = {"user": "USER", "role": "ROLE", "group": "GROUP"}
_ID_MEMBER = {"user": "UserId", "role": "RoleId", "group": "GroupId"}
_NAME_MEMBER = {"user": "UserName", "role": "RoleName", "group": "GroupName"}


def _entity_info(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "Arn": doc["Arn"],
        "Name": doc[_NAME_MEMBER[kind]],
        "Type": _ENTITY_TYPES[kind],
        "Id": doc[_ID_MEMBER[kind]],
        "Path": doc.get("Path") or "/",
    }


class _Subject:
    """What a report is about: the policies that say which services count, and the entities covered.

    entities: (kind, document) of each user, role and group the report lists; actors: the ARN of each
    principal whose trail records count (users and roles), mapped to the listed entity it counts for."""

    def __init__(self) -> None:
        self.policies: list[Policy] = []
        self.entities: list[tuple[str, dict[str, Any]]] = []
        self.actors: dict[str, str] = {}
        self.group_members = False  # a group's own report lists its members


def _subject(ctx: OpContext, arn: str) -> _Subject:
    m = _ARN.match(arn)
    if m is None or m["account"] != ctx.account:
        raise InvalidInput(f"ARN {arn} is not valid.")
    kind, name = m["kind"], m["name"]
    subject = _Subject()
    tx, account = ctx.tx, ctx.account
    if kind == "policy":
        record = managed_policy_record(tx, account, arn)
        if record is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        subject.policies.append(Policy.parse(default_version_text(record), max_size=1_000_000))
        for entity_kind in ("user", "role", "group"):
            for doc in tx.list(account, entity_kind):
                if arn in (doc.get("AttachedPolicies") or []):
                    _cover(ctx, subject, entity_kind, doc)
        return subject
    found = tx.get(account, kind, name)
    if found is None or found.get("Arn") != arn:
        raise NoSuchEntity(NOT_FOUND[kind].format(name))
    doc = found
    sources = (
        sources_for_user(tx, account, doc)
        if kind == "user"
        else sources_for_role(tx, account, doc)
        if kind == "role"
        else sources_for_group(tx, account, doc)
    )
    subject.policies.extend(s.policy for s in sources)
    subject.group_members = kind == "group"
    _cover(ctx, subject, kind, doc)
    return subject


def _cover(ctx: OpContext, subject: _Subject, kind: str, doc: dict[str, Any]) -> None:
    """List an entity; a group's members' records count for the group (a policy's report), or for each
    member listed in its own right (the group's own report, which lists its members)."""
    if kind == "group":
        group = doc["GroupName"].lower()
        for user in ctx.tx.list(ctx.account, "user"):
            if group in {g.lower() for g in user.get("Groups") or []}:
                if subject.group_members:
                    subject.entities.append(("user", user))
                    subject.actors.setdefault(user["Arn"], user["Arn"])
                else:
                    subject.actors.setdefault(user["Arn"], doc["Arn"])
        if subject.group_members:
            return
    subject.entities.append((kind, doc))
    if kind != "group":
        subject.actors.setdefault(doc["Arn"], doc["Arn"])


def compute_report(ctx: OpContext, arn: str, granularity: str) -> dict[str, Any]:
    """The services (and actions) the entity's policies allow, with their last attempted use."""
    reference = service_reference()
    subject = _subject(ctx, arn)
    allowed = granted_actions(subject.policies, reference)
    by_lower = {ns.lower(): ns for ns in allowed}
    now = ctx.clock.now()
    # namespace -> [last time, entity, region, {entities}], and (namespace, action) -> [time, entity, region]
    services: dict[str, list[Any]] = {}
    actions: dict[tuple[str, str], list[Any]] = {}
    entity_last: dict[tuple[str, str], str] = {}  # (namespace, entity ARN) -> last time
    for record in records_since(ctx.store, ctx.account, now - timedelta(days=TRACKING_DAYS)):
        entity = subject.actors.get(principal_of(record) or "")
        if entity is None:
            continue
        prefix, _, action_name = action_of_record(record, ctx.host.action_of).partition(":")
        namespace = by_lower.get(prefix.lower())
        if namespace is None:
            continue  # a service the policies do not allow is not in the report
        when, region = record["eventTime"], record.get("awsRegion")
        seen = services.setdefault(namespace, ["", None, None, set()])
        seen[3].add(entity)
        if when > seen[0]:
            seen[:3] = [when, entity, region]
        if when > entity_last.get((namespace, entity), ""):
            entity_last[(namespace, entity)] = when
        key = (namespace, action_name.lower())
        if when > (actions.get(key) or [""])[0]:
            actions[key] = [when, entity, region]
    report: list[dict[str, Any]] = []
    for namespace in sorted(allowed, key=lambda ns: (reference.service_name(ns).lower(), ns)):
        entry: dict[str, Any] = {
            "ServiceName": reference.service_name(namespace),
            "ServiceNamespace": namespace,
            "TotalAuthenticatedEntities": 0,
        }
        last = services.get(namespace)
        if last:
            entry.update(
                LastAuthenticated=last[0],
                LastAuthenticatedEntity=last[1],
                LastAuthenticatedRegion=last[2],
                TotalAuthenticatedEntities=len(last[3]),
            )
        if granularity == "ACTION_LEVEL" and namespace.lower() in TRACKED_SERVICES:
            tracked = []
            for name in sorted(allowed[namespace]):
                item: dict[str, Any] = {"ActionName": name}
                used = actions.get((namespace, name.lower()))
                if used:
                    item.update(
                        LastAccessedTime=used[0], LastAccessedEntity=used[1], LastAccessedRegion=used[2]
                    )
                tracked.append(item)
            entry["TrackedActionsLastAccessed"] = tracked
        report.append(entry)
    entities = [{"EntityInfo": _entity_info(kind, doc)} for kind, doc in subject.entities]
    return {"services": report, "entities": entities, "entity_last": _by_namespace(entity_last)}


def _by_namespace(entity_last: dict[tuple[str, str], str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for (namespace, entity), when in entity_last.items():
        out.setdefault(namespace.lower(), {})[entity] = when
    return out


def _job(ctx: OpContext, job_id: str) -> dict[str, Any]:
    job = ctx.tx.get(ctx.account, JOB_KIND, job_id)
    if job is None:
        raise NoSuchEntity(f"No such job id: {job_id}")
    return job


def _header(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "JobStatus": "COMPLETED",
        "JobCreationDate": job["JobCreationDate"],
        "JobCompletionDate": job["JobCompletionDate"],
    }


class LastAccessedOperations(Family):
    @operation("iam:GenerateServiceLastAccessedDetails", lambda ctx, p: p["Arn"])
    def GenerateServiceLastAccessedDetails(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        granularity = params.get("Granularity") or "SERVICE_LEVEL"
        if granularity not in ("SERVICE_LEVEL", "ACTION_LEVEL"):
            raise InvalidInput(f"Granularity {granularity} is not valid: use SERVICE_LEVEL or ACTION_LEVEL.")
        try:
            report = compute_report(ctx, params["Arn"], granularity)
        except MalformedPolicy as exc:  # a stored policy the engine cannot read: say so, never crash
            raise InvalidInput(f"A policy of {params['Arn']} cannot be read: {exc}") from None
        job_id = ids.request_id()
        now = iso_now(ctx)
        ctx.tx.insert(
            ctx.account,
            JOB_KIND,
            job_id,
            {
                "JobId": job_id,
                "Arn": params["Arn"],
                "JobType": granularity,
                "JobCreationDate": now,
                "JobCompletionDate": now,
                **report,
            },
        )
        return {"JobId": job_id}

    @operation("iam:GetServiceLastAccessedDetails", read_only=True)
    def GetServiceLastAccessedDetails(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        job = _job(ctx, params["JobId"])
        page = paginate(job["services"], params, "ServicesLastAccessed")
        return {**_header(job), "JobType": job["JobType"], **page}

    @operation("iam:GetServiceLastAccessedDetailsWithEntities", read_only=True)
    def GetServiceLastAccessedDetailsWithEntities(
        self, ctx: OpContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        job = _job(ctx, params["JobId"])
        namespace = params["ServiceNamespace"].lower()
        if namespace not in {s["ServiceNamespace"].lower() for s in job["services"]}:
            raise InvalidInput(f"The service namespace {params['ServiceNamespace']} is not in this report.")
        last = job["entity_last"].get(namespace, {})
        entities = []
        for entity in job["entities"]:
            item = {"EntityInfo": entity["EntityInfo"]}
            when = last.get(entity["EntityInfo"]["Arn"])
            if when:
                item["LastAuthenticated"] = when
            entities.append(item)
        page = paginate(entities, params, "EntityDetailsList")
        return {**_header(job), **page}
