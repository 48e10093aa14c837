"""EC2 launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion, DescribeLaunchTemplates,
DescribeLaunchTemplateVersions, DeleteLaunchTemplate -- and how RunInstances (and Auto Scaling, through
RunInstances) reads one.

A template is one store document (kind "launch-template", named by its id lt-...) holding its versions.
It may name an instance profile and metadata options; the role inside the profile is passed to EC2 only
when an instance is launched from it, so iam:PassRole is checked then (RunInstances), not here. Template
data rolecall's instances do not have (block devices, networking, market options, ...) is refused.
"""

from __future__ import annotations

import secrets
from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import AwsError, InvalidParameterValue, MissingParameter
from rolecall.services.ec2.errors import (
    InvalidLaunchTemplateIdMalformed,
    InvalidLaunchTemplateIdNotFound,
    InvalidLaunchTemplateIdVersionNotFound,
    InvalidLaunchTemplateNameAlreadyExistsException,
    InvalidLaunchTemplateNameNotFoundException,
)
from rolecall.services.ec2.records import check_dry_run, iso

TEMPLATE = "launch-template"

# Launch template data members rolecall's instances do not have, refused unless given the value that
# describes the instance rolecall launches anyway.
DATA_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    f"LaunchTemplateData.{name}": ()
    for name in (
        "KernelId",
        "BlockDeviceMappings",
        "NetworkInterfaces",
        "Placement",
        "RamDiskId",
        "ElasticGpuSpecifications",
        "ElasticInferenceAccelerators",
        "SecurityGroupIds",
        "SecurityGroups",
        "InstanceMarketOptions",
        "CreditSpecification",
        "CpuOptions",
        "CapacityReservationSpecification",
        "LicenseSpecifications",
        "HibernationOptions",
        "EnclaveOptions",
        "InstanceRequirements",
        "PrivateDnsNameOptions",
        "MaintenanceOptions",
        "Operator",
        "NetworkPerformanceOptions",
        "SecondaryInterfaces",
    )
} | {
    "LaunchTemplateData.Monitoring.Enabled": (False,),
    "LaunchTemplateData.EbsOptimized": (False,),
    "LaunchTemplateData.DisableApiTermination": (False,),
    "LaunchTemplateData.DisableApiStop": (False,),
    "LaunchTemplateData.InstanceInitiatedShutdownBehavior": ("stop",),
}
# The members of RunInstances a launch template fills in when the request does not set them.
FROM_TEMPLATE = ("ImageId", "InstanceType", "IamInstanceProfile", "MetadataOptions", "UserData", "KeyName")


def template_arn(region: str, account: str, template_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:launch-template/{template_id}"


def _by_name(ctx: OpContext, name: str) -> dict[str, Any] | None:
    return next(
        (
            t
            for t in ctx.tx.list(ctx.account, TEMPLATE)
            if t["Region"] == ctx.region and t["LaunchTemplateName"] == name
        ),
        None,
    )


def find_template(ctx: OpContext, spec: dict[str, Any]) -> dict[str, Any]:
    """The template a request names by LaunchTemplateId or LaunchTemplateName (EC2's errors otherwise)."""
    template_id, name = spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")
    if template_id and name:
        raise InvalidParameterValue("Only one of LaunchTemplateId or LaunchTemplateName may be specified.")
    if template_id:
        if not template_id.startswith("lt-"):
            raise InvalidLaunchTemplateIdMalformed(
                f"The specified ID for the launch template is not valid: {template_id}"
            )
        doc = ctx.tx.get(ctx.account, TEMPLATE, template_id)
        if doc is None or doc["Region"] != ctx.region:
            raise InvalidLaunchTemplateIdNotFound(
                f"The specified launch template, with template ID {template_id}, does not exist."
            )
        return doc
    if name:
        doc = _by_name(ctx, name)
        if doc is None:
            raise InvalidLaunchTemplateNameNotFoundException(
                f"The specified launch template, with template name {name}, does not exist."
            )
        return doc
    raise MissingParameter("The request must contain the parameter launchTemplateName or launchTemplateId")


def template_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    """The template's ARN, when the request names one that exists (else the handler reports it)."""
    try:
        doc = find_template(ctx, params)
    except AwsError:
        ident = params.get("LaunchTemplateId") or "*"
        return template_arn(ctx.region, ctx.account, ident)
    return template_arn(ctx.region, ctx.account, doc["LaunchTemplateId"])


def pick_version(doc: dict[str, Any], wanted: str | int | None) -> dict[str, Any]:
    """A version by number, $Latest or $Default (None: the default)."""
    text = str(wanted) if wanted is not None else "$Default"
    if text == "$Latest":
        number = doc["LatestVersionNumber"]
    elif text == "$Default":
        number = doc["DefaultVersionNumber"]
    elif text.isdigit():
        number = int(text)
    else:
        raise InvalidParameterValue(f"The version number '{text}' is not valid.")
    for version in doc["Versions"]:
        if version["VersionNumber"] == number:
            return version
    raise InvalidLaunchTemplateIdVersionNotFound(
        f"Could not find launch template version {text} for launch template {doc['LaunchTemplateId']}"
    )


def with_template(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """RunInstances' parameters with its LaunchTemplate's data filling in what the request leaves unset:
    what the instance is launched with, and authorized with. Without a template, the parameters as given."""
    spec = params.get("LaunchTemplate")
    if not spec:
        return params
    doc = find_template(ctx, spec)
    data = pick_version(doc, spec.get("Version"))["LaunchTemplateData"]
    merged = dict(params)
    for member in FROM_TEMPLATE:
        if merged.get(member) is None and data.get(member) is not None:
            merged[member] = data[member]
    if not merged.get("TagSpecifications") and data.get("TagSpecifications"):
        merged["TagSpecifications"] = data["TagSpecifications"]
    merged["LaunchTemplate"] = {
        "LaunchTemplateId": doc["LaunchTemplateId"],
        "LaunchTemplateName": doc["LaunchTemplateName"],
        "Version": str(pick_version(doc, spec.get("Version"))["VersionNumber"]),
    }
    return merged


def _template_shape(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "LaunchTemplateId": doc["LaunchTemplateId"],
        "LaunchTemplateName": doc["LaunchTemplateName"],
        "CreateTime": doc["CreateTime"],
        "CreatedBy": doc["CreatedBy"],
        "DefaultVersionNumber": doc["DefaultVersionNumber"],
        "LatestVersionNumber": doc["LatestVersionNumber"],
    }


def _version_shape(doc: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    return {
        "LaunchTemplateId": doc["LaunchTemplateId"],
        "LaunchTemplateName": doc["LaunchTemplateName"],
        "VersionNumber": version["VersionNumber"],
        "VersionDescription": version.get("VersionDescription"),
        "CreateTime": version["CreateTime"],
        "CreatedBy": version["CreatedBy"],
        "DefaultVersion": version["VersionNumber"] == doc["DefaultVersionNumber"],
        "LaunchTemplateData": version["LaunchTemplateData"],
    }


def _data(given: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in given.items() if v is not None}
    hops = (data.get("MetadataOptions") or {}).get("HttpPutResponseHopLimit")
    if hops is not None and not 1 <= hops <= 64:
        raise InvalidParameterValue(
            f"Value ({hops}) for parameter httpPutResponseHopLimit is invalid. Valid values are 1 through 64."
        )
    if data.get("MetadataOptions"):
        data["MetadataOptions"] = {**data["MetadataOptions"], "State": "applied"}
    return data


def _trail(ctx: OpContext, doc: dict[str, Any]) -> None:
    ctx.trail_resources.append(
        {
            "ARN": template_arn(ctx.region, ctx.account, doc["LaunchTemplateId"]),
            "accountId": ctx.account,
            "type": "AWS::EC2::LaunchTemplate",
        }
    )


def _all_templates(ctx: OpContext, params: dict[str, Any]) -> str:
    return template_arn(ctx.region, ctx.account, "*")


class LaunchTemplateOperations(Family):
    @operation(
        "ec2:CreateLaunchTemplate",
        _all_templates,
        unsupported={**DATA_UNSUPPORTED, "TagSpecifications": (), "Operator": ()},
    )
    def CreateLaunchTemplate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["LaunchTemplateName"]
        token = params.get("ClientToken")
        if token:
            for earlier in ctx.tx.list(ctx.account, TEMPLATE):
                if earlier.get("ClientToken") == token and earlier["Region"] == ctx.region:
                    return {"LaunchTemplate": _template_shape(earlier)}  # a retry of the same request
        data = _data(params["LaunchTemplateData"])
        check_dry_run(params)
        if _by_name(ctx, name) is not None:
            raise InvalidLaunchTemplateNameAlreadyExistsException("Launch template name already in use.")
        now = iso(ctx.clock.time())
        doc: dict[str, Any] = {
            "LaunchTemplateId": "lt-" + secrets.token_hex(9)[:17],
            "LaunchTemplateName": name,
            "Region": ctx.region,
            "CreateTime": now,
            "CreatedBy": ctx.caller.arn,
            "DefaultVersionNumber": 1,
            "LatestVersionNumber": 1,
            "ClientToken": token,
            "Versions": [
                {
                    "VersionNumber": 1,
                    "VersionDescription": params.get("VersionDescription"),
                    "CreateTime": now,
                    "CreatedBy": ctx.caller.arn,
                    "LaunchTemplateData": data,
                }
            ],
        }
        ctx.tx.insert(ctx.account, TEMPLATE, doc["LaunchTemplateId"], doc)
        _trail(ctx, doc)
        return {"LaunchTemplate": _template_shape(doc)}

    @operation(
        "ec2:CreateLaunchTemplateVersion",
        template_resource,
        unsupported={**DATA_UNSUPPORTED, "ResolveAlias": (False,)},
    )
    def CreateLaunchTemplateVersion(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = find_template(ctx, params)
        token = params.get("ClientToken")
        if token:
            for version in doc["Versions"]:
                if version.get("ClientToken") == token:
                    return {"LaunchTemplateVersion": _version_shape(doc, version)}
        data = _data(params["LaunchTemplateData"])
        if params.get("SourceVersion") is not None:
            base = pick_version(doc, params["SourceVersion"])["LaunchTemplateData"]
            data = {**base, **data}
        check_dry_run(params)
        number = doc["LatestVersionNumber"] + 1
        version = {
            "VersionNumber": number,
            "VersionDescription": params.get("VersionDescription"),
            "CreateTime": iso(ctx.clock.time()),
            "CreatedBy": ctx.caller.arn,
            "LaunchTemplateData": data,
            "ClientToken": token,
        }
        doc["Versions"].append(version)
        doc["LatestVersionNumber"] = number
        ctx.tx.update(ctx.account, TEMPLATE, doc["LaunchTemplateId"], doc)
        _trail(ctx, doc)
        return {"LaunchTemplateVersion": _version_shape(doc, version)}

    @operation(
        "ec2:DescribeLaunchTemplates",
        unsupported=["Filters", "NextToken", "MaxResults", "IncludeManagedResources"],
    )
    def DescribeLaunchTemplates(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        check_dry_run(params)
        ids, names = params.get("LaunchTemplateIds") or [], params.get("LaunchTemplateNames") or []
        if ids or names:
            docs = [find_template(ctx, {"LaunchTemplateId": i}) for i in ids]
            docs += [find_template(ctx, {"LaunchTemplateName": n}) for n in names]
        else:
            docs = [d for d in ctx.tx.list(ctx.account, TEMPLATE) if d["Region"] == ctx.region]
            docs.sort(key=lambda d: (d["CreateTime"], d["LaunchTemplateId"]))
        return {"LaunchTemplates": [_template_shape(d) for d in docs]}

    @operation(
        "ec2:DescribeLaunchTemplateVersions",
        unsupported=[
            "MinVersion",
            "MaxVersion",
            "NextToken",
            "MaxResults",
            "Filters",
            "IncludeManagedResources",
        ]
        + ["ResolveAlias"],
    )
    def DescribeLaunchTemplateVersions(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        check_dry_run(params)
        doc = find_template(ctx, params)
        wanted = params.get("Versions")
        versions = [pick_version(doc, v) for v in wanted] if wanted else list(reversed(doc["Versions"]))
        return {"LaunchTemplateVersions": [_version_shape(doc, v) for v in versions]}

    @operation("ec2:DeleteLaunchTemplate", template_resource)
    def DeleteLaunchTemplate(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = find_template(ctx, params)
        check_dry_run(params)
        ctx.tx.delete(ctx.account, TEMPLATE, doc["LaunchTemplateId"])
        _trail(ctx, doc)
        return {"LaunchTemplate": _template_shape(doc)}
