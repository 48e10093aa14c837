"""Auto Scaling groups of EC2 instances launched from a launch template.

The caller creates or updates a group; Auto Scaling itself launches and terminates its instances, as
AWS does, through the service-linked role AWSServiceRoleForAutoScaling (created on the account's first
group, with AWS's AutoScalingServiceRolePolicy): after the request has committed, autoscaling.amazonaws.com
assumes that role and calls EC2's RunInstances / TerminateInstances with it, through the whole request
path -- so the launches are authorized by the role's policy (iam:PassRole of the template's role
included) and the trail shows them as the role's AutoScaling session, invoked by autoscaling.amazonaws.com.
Each instance gets the template's instance profile, and with it a metadata endpoint serving the role's
rotating credentials.

Who may do this is checked on the caller when the group is created or updated with a template: the
autoscaling action on the group's ARN, ec2:RunInstances on the launch template, iam:PassRole on the role
in the template's instance profile (iam:PassedToService ec2.amazonaws.com), and
iam:CreateServiceLinkedRole while the account has no Auto Scaling service-linked role.

The group's size changes complete at once (no cooldowns, warm-up or health checks); a launch the role may
not make leaves the group short, the refused RunInstances in the trail saying why.
"""

from __future__ import annotations

import uuid
from typing import Any

from rolecall.authz.authorizer import resource_tag_context
from rolecall.core.context import OpContext
from rolecall.core.host import Host
from rolecall.core.operations import Family, operation
from rolecall.errors import AwsError, ValidationError
from rolecall.services.autoscaling.errors import AlreadyExists, ResourceInUse
from rolecall.services.iam.service_linked_roles import (
    ensure_service_linked_role,
    service_linked_role_name,
)
from rolecall.services.sts.service_sessions import assume_role_for_service

GROUP = "autoscaling-group"
PRINCIPAL = "autoscaling.amazonaws.com"
SESSION_NAME = "AutoScaling"
TEMPLATE = "launch-template"  # EC2's launch template documents, read to learn the role a group passes

# Members rolecall's groups do not have (load balancers, subnets, mixed instances, lifecycle hooks, warm
# pools, ...), refused unless given the value that describes the group rolecall keeps anyway.
_NOT_KEPT = (
    "LaunchConfigurationName",
    "MixedInstancesPolicy",
    "AvailabilityZoneIds",
    "PlacementGroup",
    "VPCZoneIdentifier",
    "TerminationPolicies",
    "ServiceLinkedRoleARN",
    "MaxInstanceLifetime",
    "Context",
    "DesiredCapacityType",
    "DefaultInstanceWarmup",
    "InstanceMaintenancePolicy",
    "AvailabilityZoneDistribution",
    "AvailabilityZoneImpairmentPolicy",
    "SkipZonalShiftValidation",
    "CapacityReservationSpecification",
    "InstanceLifecyclePolicy",
)
_SAME_ANYWAY: dict[str, tuple[Any, ...]] = {
    "HealthCheckType": ("EC2",),
    "NewInstancesProtectedFromScaleIn": (False,),
    "CapacityRebalance": (False,),
    "DeletionProtection": ("none",),
}
UPDATE_UNSUPPORTED: dict[str, tuple[Any, ...]] = {name: () for name in _NOT_KEPT} | _SAME_ANYWAY
CREATE_UNSUPPORTED: dict[str, tuple[Any, ...]] = UPDATE_UNSUPPORTED | {
    name: ()
    for name in (
        "InstanceId",
        "LoadBalancerNames",
        "TargetGroupARNs",
        "LifecycleHookSpecificationList",
        "Tags",
        "TrafficSources",
        "Operator",
    )
}


# -- names, ARNs and what is authorized ---------------------------------------------------------------------


def group_arn(region: str, account: str, group_id: str, name: str) -> str:
    return f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:{group_id}:autoScalingGroupName/{name}"


def _group(ctx: OpContext, name: str) -> dict[str, Any] | None:
    doc = ctx.tx.get(ctx.account, GROUP, name)
    return doc if doc is not None and doc["Region"] == ctx.region and doc["Name"] == name else None


def require_group(ctx: OpContext, name: str) -> dict[str, Any]:
    doc = _group(ctx, name)
    if doc is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    ctx.trail_resources.append(
        {"ARN": doc["ARN"], "accountId": ctx.account, "type": "AWS::AutoScaling::AutoScalingGroup"}
    )
    return doc


def group_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    name = params.get("AutoScalingGroupName") or "*"
    doc = _group(ctx, name)
    return doc["ARN"] if doc else group_arn(ctx.region, ctx.account, "*", name)


def _instance_group(ctx: OpContext, instance_id: str) -> dict[str, Any] | None:
    for doc in ctx.tx.list(ctx.account, GROUP):
        if doc["Region"] == ctx.region and any(i["InstanceId"] == instance_id for i in doc["Instances"]):
            return doc
    return None


def instance_group_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    doc = _instance_group(ctx, params.get("InstanceId") or "")
    return doc["ARN"] if doc else group_arn(ctx.region, ctx.account, "*", "*")


def _template(ctx: OpContext, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if not spec:
        return None
    if spec.get("LaunchTemplateId"):
        doc = ctx.tx.get(ctx.account, TEMPLATE, spec["LaunchTemplateId"])
        return doc if doc is not None and doc["Region"] == ctx.region else None
    name = spec.get("LaunchTemplateName")
    for doc in ctx.tx.list(ctx.account, TEMPLATE):
        if doc["Region"] == ctx.region and doc["LaunchTemplateName"] == name:
            return doc
    return None


def _version(template: dict[str, Any], wanted: str | None) -> dict[str, Any] | None:
    text = wanted or "$Default"
    number = {"$Latest": template["LatestVersionNumber"], "$Default": template["DefaultVersionNumber"]}.get(
        text
    )
    if number is None and text.isdigit():
        number = int(text)
    return next((v for v in template["Versions"] if v["VersionNumber"] == number), None)


def _template_role(
    ctx: OpContext, spec: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the template, the role inside the instance profile its version names) of a LaunchTemplate member."""
    template = _template(ctx, spec)
    if template is None or spec is None:
        return template, None
    version = _version(template, spec.get("Version"))
    profile_spec = (version or {}).get("LaunchTemplateData", {}).get("IamInstanceProfile") or {}
    name = profile_spec.get("Name") or (profile_spec.get("Arn") or "").rsplit("/", 1)[-1]
    profile = ctx.tx.get(ctx.account, "instance_profile", name) if name else None
    if profile is None or not profile.get("Roles"):
        return template, None
    return template, ctx.tx.get(ctx.account, "role", profile["Roles"][0])


def launch_permissions(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """What launching from the group's template needs of the caller: ec2:RunInstances on the template,
    iam:PassRole on its role, and iam:CreateServiceLinkedRole while the account has no Auto Scaling role."""
    more: list[tuple[str, str, dict[str, Any]]] = []
    spec = params.get("LaunchTemplate")
    if spec:
        template, role = _template_role(ctx, spec)
        if template is not None:
            arn = f"arn:aws:ec2:{ctx.region}:{ctx.account}:launch-template/{template['LaunchTemplateId']}"
            more.append(("ec2:RunInstances", arn, {}))
        if role is not None:
            context = {"iam:PassedToService": "ec2.amazonaws.com", **resource_tag_context(role)}
            more.append(("iam:PassRole", role["Arn"], context))
    if ctx.operation == "CreateAutoScalingGroup" and ctx.tx.get(ctx.account, "role", _slr_name()) is None:
        slr = f"arn:aws:iam::{ctx.account}:role/aws-service-role/{PRINCIPAL}/{_slr_name()}"
        more.append(("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": PRINCIPAL}))
    return more


def _slr_name() -> str:
    return service_linked_role_name(PRINCIPAL, None)


# -- shapes -------------------------------------------------------------------------------------------------


def _instance_shape(group: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
    return {
        "InstanceId": instance["InstanceId"],
        "InstanceType": instance["InstanceType"],
        "AvailabilityZone": instance["AvailabilityZone"],
        "LifecycleState": instance["LifecycleState"],
        "HealthStatus": "Healthy",
        "LaunchTemplate": group["LaunchTemplate"],
        "ProtectedFromScaleIn": False,
    }


def group_shape(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": doc["Name"],
        "AutoScalingGroupARN": doc["ARN"],
        "LaunchTemplate": doc["LaunchTemplate"],
        "MinSize": doc["MinSize"],
        "MaxSize": doc["MaxSize"],
        "DesiredCapacity": doc["DesiredCapacity"],
        "DefaultCooldown": doc["DefaultCooldown"],
        "AvailabilityZones": doc["AvailabilityZones"],
        "LoadBalancerNames": [],
        "TargetGroupARNs": [],
        "HealthCheckType": "EC2",
        "HealthCheckGracePeriod": doc["HealthCheckGracePeriod"],
        "Instances": [_instance_shape(doc, i) for i in doc["Instances"]],
        "CreatedTime": doc["CreatedTime"],
        "SuspendedProcesses": [],
        "EnabledMetrics": [],
        "Tags": [],
        "TerminationPolicies": ["Default"],
        "NewInstancesProtectedFromScaleIn": False,
        "ServiceLinkedRoleARN": doc["ServiceLinkedRoleARN"],
        "CapacityRebalance": False,
    }


# -- validation ---------------------------------------------------------------------------------------------


def _sizes(minimum: int, maximum: int, desired: int) -> None:
    if minimum > maximum:
        raise ValidationError(f"Max bound, {maximum}, must be greater than or equal to min bound, {minimum}")
    if not minimum <= desired <= maximum:
        raise ValidationError(
            f"Desired capacity:{desired} must be between the specified min size:{minimum} and max size:{maximum}"
        )


def _template_spec(ctx: OpContext, spec: dict[str, Any]) -> dict[str, Any]:
    """The LaunchTemplate member as the group keeps and shows it: id, name and the version asked for."""
    if bool(spec.get("LaunchTemplateId")) == bool(spec.get("LaunchTemplateName")):
        raise ValidationError("Valid requests must contain either launchTemplateId or LaunchTemplateName")
    template = _template(ctx, spec)
    if template is None:
        shown = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")
        raise ValidationError(
            f"You must use a valid fully-formed launch template. Launch template {shown} does not exist."
        )
    version = spec.get("Version") or "$Default"
    if _version(template, version) is None:
        raise ValidationError(
            f"You must use a valid fully-formed launch template. Could not find launch template version {version} "
            f"for launch template {template['LaunchTemplateId']}"
        )
    return {
        "LaunchTemplateId": template["LaunchTemplateId"],
        "LaunchTemplateName": template["LaunchTemplateName"],
        "Version": version,
    }


def _zones(ctx: OpContext, zones: list[str]) -> list[str]:
    for zone in zones:
        if not (zone.startswith(ctx.region) and len(zone) == len(ctx.region) + 1):
            raise ValidationError(f"The availability zone {zone} is not legally formatted")
    return sorted(set(zones))


# -- the service acting through its role --------------------------------------------------------------------


def _as_service(host: Host, account: str, region: str) -> dict[str, str] | None:
    """Credentials of the AutoScaling session of the account's service-linked role; None when the service
    cannot assume it (the role was deleted): the refused AssumeRole is in the trail, and nothing is done."""
    try:
        creds = _assume(host, account, region)
    except AwsError:
        return None
    return {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "Token")}


def _assume(host: Host, account: str, region: str) -> dict[str, Any]:
    return assume_role_for_service(
        host,
        service=PRINCIPAL,
        role_arn=f"arn:aws:iam::{account}:role/aws-service-role/{PRINCIPAL}/{_slr_name()}",
        session_name=SESSION_NAME,
        duration=3600,
        source_account=account,
        region=region,
    ).as_dict()


def reconcile(host: Host, account: str, region: str, name: str, terminate: list[str] | None = None) -> None:
    """Bring a group to its desired capacity as the service: terminate `terminate` (and the newest instances
    while there are too many), launch while there are too few. Runs after the request's commit."""
    with host.store.transaction() as tx:
        group = tx.get(account, GROUP, name)
    if group is None:
        return
    creds = _as_service(host, account, region)
    if creds is None:
        return
    members = {i["InstanceId"] for i in group["Instances"]}
    going = [i for i in terminate or [] if i in members]
    kept = [
        i for i in group["Instances"] if i["LifecycleState"] == "InService" and i["InstanceId"] not in going
    ]
    while len(kept) > group["DesiredCapacity"]:
        going.append(kept.pop()["InstanceId"])  # the newest first
    if going:
        host.call("ec2", "TerminateInstances", {"InstanceIds": going}, creds, region, user_agent=PRINCIPAL)
    launched: list[dict[str, Any]] = []
    missing = group["DesiredCapacity"] - len(kept)
    if missing > 0:
        result = host.call(
            "ec2",
            "RunInstances",
            {
                "MinCount": missing,
                "MaxCount": missing,
                "LaunchTemplate": {k: group["LaunchTemplate"][k] for k in ("LaunchTemplateId", "Version")},
            },
            creds,
            region,
            user_agent=PRINCIPAL,
        )
        if result.error_code is None:
            launched = [
                {
                    "InstanceId": i["InstanceId"],
                    "InstanceType": i["InstanceType"],
                    "AvailabilityZone": i["Placement"]["AvailabilityZone"],
                    "LifecycleState": "InService",
                }
                for i in result.body.get("Instances", [])
            ]
    with host.store.transaction() as tx:
        current = tx.get(account, GROUP, name)
        if current is None:
            return
        current["Instances"] = [i for i in current["Instances"] if i["InstanceId"] not in going] + launched
        tx.update(account, GROUP, name, current)


class GroupOperations(Family):
    @operation(
        "autoscaling:CreateAutoScalingGroup",
        group_resource,
        extra=launch_permissions,
        unsupported=CREATE_UNSUPPORTED,
    )
    def CreateAutoScalingGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["AutoScalingGroupName"]
        if not params.get("LaunchTemplate"):
            raise ValidationError(
                "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or "
                "MixedInstancesPolicy parameter."
            )
        spec = _template_spec(ctx, params["LaunchTemplate"])
        if not params.get("AvailabilityZones"):
            raise ValidationError("At least one Availability Zone or VPC Subnet is required.")
        zones = _zones(ctx, params["AvailabilityZones"])
        minimum, maximum = params["MinSize"], params["MaxSize"]
        desired = params.get("DesiredCapacity")
        desired = minimum if desired is None else desired
        _sizes(minimum, maximum, desired)
        if ctx.tx.get(ctx.account, GROUP, name) is not None:
            raise AlreadyExists(
                f"AutoScalingGroup by this name already exists - A group with the name {name} already exists"
            )
        role = ensure_service_linked_role(ctx, PRINCIPAL)
        group_id = str(uuid.uuid4())
        doc = {
            "Name": name,
            "ARN": group_arn(ctx.region, ctx.account, group_id, name),
            "Region": ctx.region,
            "LaunchTemplate": spec,
            "MinSize": minimum,
            "MaxSize": maximum,
            "DesiredCapacity": desired,
            "DefaultCooldown": params.get("DefaultCooldown", 300),
            "HealthCheckGracePeriod": params.get("HealthCheckGracePeriod", 0),
            "AvailabilityZones": zones,
            "CreatedTime": ctx.clock.time(),
            "ServiceLinkedRoleARN": role["Arn"],
            "Instances": [],
        }
        ctx.tx.insert(ctx.account, GROUP, name, doc)
        ctx.trail_resources.append(
            {"ARN": doc["ARN"], "accountId": ctx.account, "type": "AWS::AutoScaling::AutoScalingGroup"}
        )
        self._scale_after_commit(ctx, name)
        return {}

    def _scale_after_commit(self, ctx: OpContext, name: str, terminate: list[str] | None = None) -> None:
        host, account, region = ctx.host, ctx.account, ctx.region

        def work() -> None:
            reconcile(host, account, region, name, terminate)

        ctx.defer(work)

    @operation(
        "autoscaling:UpdateAutoScalingGroup",
        group_resource,
        extra=launch_permissions,
        unsupported=UPDATE_UNSUPPORTED,
    )
    def UpdateAutoScalingGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = require_group(ctx, params["AutoScalingGroupName"])
        if params.get("LaunchTemplate"):
            doc["LaunchTemplate"] = _template_spec(ctx, params["LaunchTemplate"])
        if params.get("AvailabilityZones"):
            doc["AvailabilityZones"] = _zones(ctx, params["AvailabilityZones"])
        minimum = params.get("MinSize", doc["MinSize"])
        maximum = params.get("MaxSize", doc["MaxSize"])
        desired = params.get("DesiredCapacity")
        if desired is None:  # a new bound moves the desired capacity inside it, as on AWS
            desired = min(max(doc["DesiredCapacity"], minimum), maximum)
        _sizes(minimum, maximum, desired)
        doc.update(MinSize=minimum, MaxSize=maximum, DesiredCapacity=desired)
        for member in ("DefaultCooldown", "HealthCheckGracePeriod"):
            if params.get(member) is not None:
                doc[member] = params[member]
        ctx.tx.update(ctx.account, GROUP, doc["Name"], doc)
        self._scale_after_commit(ctx, doc["Name"])
        return {}

    @operation("autoscaling:SetDesiredCapacity", group_resource, unsupported={"HonorCooldown": (False,)})
    def SetDesiredCapacity(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = require_group(ctx, params["AutoScalingGroupName"])
        desired = params["DesiredCapacity"]
        if desired > doc["MaxSize"]:
            raise ValidationError(
                f"New SetDesiredCapacity value {desired} is above max value {doc['MaxSize']} for the AutoScalingGroup."
            )
        if desired < doc["MinSize"]:
            raise ValidationError(
                f"New SetDesiredCapacity value {desired} is below min value {doc['MinSize']} for the AutoScalingGroup."
            )
        doc["DesiredCapacity"] = desired
        ctx.tx.update(ctx.account, GROUP, doc["Name"], doc)
        self._scale_after_commit(ctx, doc["Name"])
        return {}

    @operation(
        "autoscaling:DescribeAutoScalingGroups",
        unsupported={"Filters": (), "MaxRecords": (), "NextToken": (), "IncludeInstances": (True,)}
        | {"IncludeManagedResources": ()},
    )
    def DescribeAutoScalingGroups(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("AutoScalingGroupNames")
        docs = [d for d in ctx.tx.list(ctx.account, GROUP) if d["Region"] == ctx.region]
        if names:
            docs = [d for d in docs if d["Name"] in names]
        docs.sort(key=lambda d: d["Name"])
        return {"AutoScalingGroups": [group_shape(d) for d in docs]}

    @operation(
        "autoscaling:DescribeAutoScalingInstances",
        unsupported={"MaxRecords": (), "NextToken": (), "IncludeManagedResources": ()},
    )
    def DescribeAutoScalingInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("InstanceIds")
        out = []
        for doc in sorted(ctx.tx.list(ctx.account, GROUP), key=lambda d: d["Name"]):
            if doc["Region"] != ctx.region:
                continue
            for instance in doc["Instances"]:
                if wanted and instance["InstanceId"] not in wanted:
                    continue
                out.append({**_instance_shape(doc, instance), "AutoScalingGroupName": doc["Name"]})
        return {"AutoScalingInstances": out}

    @operation("autoscaling:DeleteAutoScalingGroup", group_resource)
    def DeleteAutoScalingGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = require_group(ctx, params["AutoScalingGroupName"])
        instances = [i["InstanceId"] for i in doc["Instances"]]
        if instances and not params.get("ForceDelete"):
            raise ResourceInUse(
                "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance "
                "request(s) still in the group."
            )
        ctx.tx.delete(ctx.account, GROUP, doc["Name"])
        if instances:
            host, account, region = ctx.host, ctx.account, ctx.region

            def work() -> None:
                creds = _as_service(host, account, region)
                if creds is None:
                    return
                host.call(
                    "ec2",
                    "TerminateInstances",
                    {"InstanceIds": instances},
                    creds,
                    region,
                    user_agent=PRINCIPAL,
                )

            ctx.defer(work)
        return {}

    @operation(
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        instance_group_resource,
        unsupported=["InstanceIds"],
    )
    def TerminateInstanceInAutoScalingGroup(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        instance_id = params.get("InstanceId")
        if not instance_id:
            raise ValidationError("Instance Id must be specified")
        doc = _instance_group(ctx, instance_id)
        if doc is None:
            raise ValidationError(
                f"Instance Id not found - No managed instance found for instance ID: {instance_id}"
            )
        require_group(ctx, doc["Name"])
        decrement = params["ShouldDecrementDesiredCapacity"]
        if decrement:
            if doc["DesiredCapacity"] - 1 < doc["MinSize"]:
                raise ValidationError(
                    f"Currently, desiredSize equals minSize ({doc['MinSize']}). Terminating instance without "
                    "replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity "
                    "flag to false or lower group's min size."
                )
            doc["DesiredCapacity"] -= 1
        for instance in doc["Instances"]:
            if instance["InstanceId"] == instance_id:
                instance["LifecycleState"] = "Terminating"
        ctx.tx.update(ctx.account, GROUP, doc["Name"], doc)
        self._scale_after_commit(ctx, doc["Name"], terminate=[instance_id])
        cause = (
            f"At {ctx.clock.now().strftime('%Y-%m-%dT%H:%M:%SZ')} instance {instance_id} was taken out of service "
            "in response to a user request" + (", shrinking the capacity." if decrement else ".")
        )
        return {
            "Activity": {
                "ActivityId": str(uuid.uuid4()),
                "AutoScalingGroupName": doc["Name"],
                "Description": f"Terminating EC2 instance: {instance_id}",
                "Cause": cause,
                "StartTime": ctx.clock.time(),
                "StatusCode": "InProgress",
                "Progress": 0,
            }
        }
