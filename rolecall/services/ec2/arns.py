"""What each EC2 operation is authorized on: instance ARNs, the context keys EC2 supplies (resource
tags, the instance profile), and the iam:PassRole check on a role handed to EC2."""

from __future__ import annotations

import re
from typing import Any

from rolecall.authz.authorizer import resource_tag_context
from rolecall.core.context import OpContext
from rolecall.errors import AwsError
from rolecall.services.ec2.launch_templates import template_arn, with_template
from rolecall.services.ec2.records import (
    ASSOCIATION,
    DEFAULT_INSTANCE_TYPE,
    INSTANCE,
    find_profile,
    instance_arn,
    profile_role,
)

AMI_ID = re.compile(r"ami-[0-9a-f]{8,17}")
DEFAULT_METADATA_OPTIONS = {
    "HttpTokens": "optional",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "HttpProtocolIpv6": "disabled",
    "InstanceMetadataTags": "disabled",
}
EC2_PRINCIPAL = "ec2.amazonaws.com"


# -- what each operation needs authorized ------------------------------------------------------------------


def any_instance(ctx: OpContext) -> str:
    return instance_arn(ctx.region, ctx.account, "*")


def instance_arns(ctx: OpContext, params: dict[str, Any]) -> list[str]:
    return [instance_arn(ctx.region, ctx.account, i) for i in params.get("InstanceIds") or []]


def one_instance(ctx: OpContext, params: dict[str, Any]) -> str:
    return instance_arn(ctx.region, ctx.account, params["InstanceId"])


def association_instance(ctx: OpContext, params: dict[str, Any]) -> str:
    doc = ctx.tx.get(ctx.account, ASSOCIATION, params.get("AssociationId") or "")
    return instance_arn(ctx.region, ctx.account, doc["InstanceId"] if doc else "*")


def _launched_with(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """RunInstances' parameters completed from its launch template (as given when it names none that exists)."""
    try:
        return with_template(ctx, params)
    except AwsError:
        return params


def run_resources(ctx: OpContext, params: dict[str, Any]) -> list[str]:
    merged = _launched_with(ctx, params)
    out = [any_instance(ctx), f"arn:aws:ec2:{ctx.region}::image/{merged.get('ImageId') or '*'}"]
    if merged.get("LaunchTemplate", {}).get("LaunchTemplateId"):
        out.append(template_arn(ctx.region, ctx.account, merged["LaunchTemplate"]["LaunchTemplateId"]))
    return out


def launch_tags(params: dict[str, Any]) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") == "instance":
            tags.extend({"Key": t["Key"], "Value": t.get("Value", "")} for t in spec.get("Tags") or [])
    return tags


def run_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    params = _launched_with(ctx, params)
    options = {**DEFAULT_METADATA_OPTIONS, **(params.get("MetadataOptions") or {})}
    keys: dict[str, Any] = {
        "ec2:InstanceType": params.get("InstanceType") or DEFAULT_INSTANCE_TYPE,
        "ec2:ImageID": params.get("ImageId"),
        "ec2:Region": ctx.region,
        "ec2:MetadataHttpTokens": options["HttpTokens"],
        "ec2:MetadataHttpEndpoint": options["HttpEndpoint"],
        "ec2:MetadataHttpPutResponseHopLimit": str(options["HttpPutResponseHopLimit"]),
    }
    profile = find_profile(ctx.tx, ctx.account, params.get("IamInstanceProfile"))
    if profile is not None:
        keys["ec2:InstanceProfile"] = profile["Arn"]
    tags = launch_tags(params)
    if tags:
        keys["aws:TagKeys"] = [t["Key"] for t in tags]
        keys.update({f"aws:RequestTag/{t['Key']}": t["Value"] for t in tags})
    return keys


def pass_role(ctx: OpContext, params: dict[str, Any], instance: str) -> list[tuple[str, str, dict[str, Any]]]:
    """iam:PassRole on the role inside the profile being handed to an instance."""
    role = profile_role(
        ctx.tx, ctx.account, find_profile(ctx.tx, ctx.account, params.get("IamInstanceProfile"))
    )
    if role is None:
        return []
    context = {
        "iam:PassedToService": EC2_PRINCIPAL,
        "iam:AssociatedResourceArn": instance,
        **resource_tag_context(role),
    }
    return [("iam:PassRole", role["Arn"], context)]


def run_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    params = _launched_with(ctx, params)
    more = pass_role(ctx, params, any_instance(ctx))
    if launch_tags(params):  # tagging at launch is ec2:CreateTags with ec2:CreateAction = RunInstances
        more.append(("ec2:CreateTags", any_instance(ctx), {"ec2:CreateAction": "RunInstances"}))
    return more


def instance_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    doc = ctx.tx.get(ctx.account, INSTANCE, params.get("InstanceId") or "")
    if doc is None:
        return {}
    tags = {f"ec2:ResourceTag/{t['Key']}": t["Value"] for t in doc.get("Tags") or []}
    tags.update({f"aws:ResourceTag/{t['Key']}": t["Value"] for t in doc.get("Tags") or []})
    return tags


def profile_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = instance_context(ctx, params)
    profile = find_profile(ctx.tx, ctx.account, params.get("IamInstanceProfile"))
    if profile is not None:
        keys["ec2:NewInstanceProfile"] = profile["Arn"]
    return keys
