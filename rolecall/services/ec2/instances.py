"""EC2 instances: launch, describe, start, stop, terminate, and their metadata options.

State changes complete at once: the response shows the transition EC2 reports (pending, stopping,
shutting-down) and the next Describe shows where it ends. A running instance has a metadata endpoint of
its own (rolecall.services.ec2.imds), opened and closed with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import InvalidParameterValue, MissingParameter
from rolecall.services.ec2.arns import (
    AMI_ID,
    DEFAULT_METADATA_OPTIONS,
    instance_arns,
    instance_context,
    launch_tags,
    one_instance,
    run_context,
    run_extra,
    run_resources,
)
from rolecall.services.ec2.errors import (
    IncorrectInstanceState,
    InsufficientInstanceCapacity,
    InvalidAMIIDMalformed,
    InvalidParameterCombination,
    TagLimitExceeded,
)
from rolecall.services.ec2.launch_templates import with_template
from rolecall.services.ec2.quotas import check_start, instance_kind, launchable
from rolecall.services.ec2.records import (
    DEFAULT_INSTANCE_TYPE,
    INSTANCE,
    INSTANCE_FILTERS,
    check_dry_run,
    decode_user_data,
    end_association,
    get_instance,
    get_instances,
    instance_shape,
    iso,
    matcher,
    new_association,
    new_instance_id,
    new_mac,
    new_private_ip,
    new_reservation_id,
    page,
    require_profile,
    state,
    trail_resource,
    visible,
)

if TYPE_CHECKING:
    from rolecall.services.ec2 import EC2

    pass


def _metadata_options(requested: dict[str, Any] | None, base: dict[str, Any]) -> dict[str, Any]:
    options = dict(base)
    options.update({k: v for k, v in (requested or {}).items() if v is not None})
    hops = options["HttpPutResponseHopLimit"]
    if not 1 <= hops <= 64:
        raise InvalidParameterValue(
            f"Value ({hops}) for parameter httpPutResponseHopLimit is invalid. Valid values are 1 through 64."
        )
    return options


def _validated_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    if len(tags) > 50:
        raise TagLimitExceeded("The maximum number of tags for a resource is 50.")
    for t in tags:
        if t["Key"].lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
        if not 1 <= len(t["Key"]) <= 128 or len(t["Value"]) > 256:
            raise InvalidParameterValue(f"Tag key or value for '{t['Key']}' is too long")
    return tags


def _user_initiated(ctx: OpContext) -> str:
    return f"User initiated ({ctx.clock.now().strftime('%Y-%m-%d %H:%M:%S')} GMT)"


def _no_capacity(instance_type: str, zone: str) -> InsufficientInstanceCapacity:
    """EC2's answer when it has no room for an instance. Here the room is descriptors: each running instance's
    metadata endpoint is one, and a process that ran out of them could not answer anything any more."""
    return InsufficientInstanceCapacity(
        f"We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested "
        f"({zone}). Our system will be working on provisioning additional capacity."
    )


def _change(doc: dict[str, Any], previous: str, shown: str) -> dict[str, Any]:
    return {"InstanceId": doc["InstanceId"], "CurrentState": state(shown), "PreviousState": state(previous)}


# RunInstances members rolecall's instances do not have -- storage, networking, CPU and market options, launch
# templates, placement beyond the zone -- refused (rolecall.wire.member_guard) unless given the value that describes
# the instance DescribeInstances shows anyway (Monitoring disabled, not EBS-optimized, default tenancy, ...).
RUN_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    name: ()
    for name in (
        "BlockDeviceMappings",
        "Ipv6AddressCount",
        "Ipv6Addresses",
        "KernelId",
        "RamdiskId",
        "SecurityGroupIds",
        "SecurityGroups",
        "SubnetId",
        "ElasticGpuSpecification",
        "ElasticInferenceAccelerators",
        "InstanceMarketOptions",
        "CreditSpecification",
        "CpuOptions",
        "CapacityReservationSpecification",
        "HibernationOptions",
        "LicenseSpecifications",
        "EnclaveOptions",
        "PrivateDnsNameOptions",
        "MaintenanceOptions",
        "EnablePrimaryIpv6",
        "NetworkPerformanceOptions",
        "Operator",
        "SecondaryInterfaces",
        "AdditionalInfo",
        "NetworkInterfaces",
        "PrivateIpAddress",
        "Monitoring.MetricCategoryIds",
        "Placement.AvailabilityZoneId",
        "Placement.Affinity",
        "Placement.PartitionNumber",
        "Placement.HostId",
        "Placement.SpreadDomain",
        "Placement.HostResourceGroupArn",
        "Placement.GroupId",
    )
} | {
    "Monitoring.Enabled": (False,),
    "EbsOptimized": (False,),
    "DisableApiTermination": (False,),  # TerminateInstances would have to refuse
    "DisableApiStop": (False,),  # StopInstances would have to refuse
    "InstanceInitiatedShutdownBehavior": ("stop",),
    "Placement.GroupName": ("",),
    "Placement.Tenancy": ("default",),
}
# Stopping and terminating are immediate here: there is no OS to skip, hibernate or force.
SHUTDOWN_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "Hibernate": (False,),
    "SkipOsShutdown": (False,),
    "Force": (False,),
}


class InstanceOperations(Family):
    service: EC2

    @operation("ec2:RunInstances", run_resources, run_context, extra=run_extra, unsupported=RUN_UNSUPPORTED)
    def RunInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        params = with_template(ctx, params)  # a launch template fills in what the request leaves unset
        image_id = params.get("ImageId")
        if not image_id:
            raise MissingParameter("The request must contain the parameter ImageId")
        if not AMI_ID.fullmatch(image_id):
            raise InvalidAMIIDMalformed(f'Invalid id: "{image_id}" (expecting "ami-...")')
        low, high = params["MinCount"], params["MaxCount"]
        if low < 1:
            raise InvalidParameterValue(
                f"Value ({low}) for parameter minCount is invalid. Expected a positive integer."
            )
        if high < low:
            raise InvalidParameterValue(
                f"Value ({high}) for parameter maxCount is invalid. Expected a value greater than or equal to minCount."
            )
        kind = instance_kind(params.get("InstanceType") or DEFAULT_INSTANCE_TYPE)
        spec = params.get("IamInstanceProfile")
        profile = require_profile(ctx.tx, ctx.account, spec) if spec else None
        options = _metadata_options(params.get("MetadataOptions"), DEFAULT_METADATA_OPTIONS)
        tags = _validated_tags(launch_tags(params))
        decode_user_data(params.get("UserData"))
        zone = (params.get("Placement") or {}).get("AvailabilityZone") or ctx.region + "a"
        if not (zone.startswith(ctx.region) and len(zone) == len(ctx.region) + 1):
            raise InvalidParameterValue(f"Invalid availability zone: [{zone}]")
        check_dry_run(params)
        count = launchable(ctx, kind, low, high)  # a dry run is not checked against the quota, as on AWS
        imds = self.service.imds
        room = imds.room() if imds is not None else None
        if room is not None and room < count:  # as many as there is capacity for, if MinCount fit
            if room < low:
                raise _no_capacity(kind.name, zone)
            count = room

        now = ctx.clock.time()
        reservation_id = new_reservation_id()
        opened: list[str] = []
        instances = []
        try:
            for index in range(count):
                doc: dict[str, Any] = {
                    "InstanceId": new_instance_id(),
                    "ReservationId": reservation_id,
                    "Region": ctx.region,
                    "ImageId": image_id,
                    "InstanceType": kind.name,
                    "State": "running",
                    "LaunchTime": iso(now),
                    "Launched": now,
                    "AmiLaunchIndex": index,
                    "AvailabilityZone": zone,
                    "PrivateIpAddress": new_private_ip(ctx.tx, ctx.account),
                    "MacAddress": new_mac(),
                    "MetadataOptions": dict(options),
                    "Tags": [dict(t) for t in tags],
                    "UserData": params.get("UserData"),
                    "KeyName": params.get("KeyName"),
                    "ClientToken": params.get("ClientToken", ""),
                }
                if profile is not None:
                    new_association(ctx, doc, profile)
                if imds is not None:
                    doc["ImdsPort"] = imds.open(ctx.account, doc["InstanceId"])
                    opened.append(doc["InstanceId"])
                ctx.tx.insert(ctx.account, INSTANCE, doc["InstanceId"], doc)
                instances.append(doc)
        except BaseException:
            for instance_id in opened:
                self.service.close_endpoint(instance_id)
            raise
        ctx.trail_resources = [trail_resource(ctx, d) for d in instances]
        return {
            "ReservationId": reservation_id,
            "OwnerId": ctx.account,
            "Groups": [],
            "Instances": [instance_shape(d, "pending") for d in instances],
        }

    @operation("ec2:DescribeInstances")
    def DescribeInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        check_dry_run(params)
        ids = params.get("InstanceIds")
        if ids and params.get("MaxResults") is not None:
            raise InvalidParameterCombination(
                "The parameter instancesSet cannot be used with the parameter maxResults"
            )
        keep = matcher(params.get("Filters"), INSTANCE_FILTERS)
        if ids:
            docs = get_instances(ctx, ids)
        else:
            docs = [d for d in ctx.tx.list(ctx.account, INSTANCE) if visible(d, ctx)]
            docs.sort(key=lambda d: (d.get("Launched", 0), d["ReservationId"], d.get("AmiLaunchIndex", 0)))
        chosen, next_token = page([d for d in docs if keep(d)], params)
        reservations: dict[str, dict[str, Any]] = {}
        for doc in chosen:
            reservation = reservations.setdefault(
                doc["ReservationId"],
                {
                    "ReservationId": doc["ReservationId"],
                    "OwnerId": ctx.account,
                    "Groups": [],
                    "Instances": [],
                },
            )
            reservation["Instances"].append(instance_shape(doc))
        out: dict[str, Any] = {"Reservations": list(reservations.values())}
        if next_token:
            out["NextToken"] = next_token
        return out

    @operation("ec2:StartInstances", instance_arns, unsupported=["AdditionalInfo"])
    def StartInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        docs = get_instances(ctx, params["InstanceIds"])
        for doc in docs:
            if doc["State"] == "terminated":
                raise IncorrectInstanceState(
                    f"The instance '{doc['InstanceId']}' is not in a state from which it can be started."
                )
        check_dry_run(params)
        starting = [doc for doc in docs if doc["State"] != "running"]
        check_start(ctx, starting)
        imds = self.service.imds
        room = imds.room() if imds is not None else None
        if starting and room is not None and room < len(starting):
            raise _no_capacity(starting[0]["InstanceType"], starting[0]["AvailabilityZone"])
        changes = []
        for doc in docs:
            previous = doc["State"]
            if previous == "running":
                changes.append(_change(doc, previous, "running"))
                continue
            now = ctx.clock.time()
            doc.update(State="running", LaunchTime=iso(now), StateTransitionReason="")
            doc.pop("StateReason", None)
            if imds is not None:
                doc["ImdsPort"] = imds.open(ctx.account, doc["InstanceId"], doc.get("ImdsPort") or 0)
            ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
            changes.append(_change(doc, previous, "pending"))
        return {"StartingInstances": changes}

    def _shut_down(self, ctx: OpContext, doc: dict[str, Any], final: str, transition: str) -> dict[str, Any]:
        """Stop or terminate one instance (a no-op when it is already there); its state change for the answer."""
        previous = doc["State"]
        if previous == final:
            return _change(doc, previous, final)
        if final == "terminated":
            end_association(ctx, doc)  # a terminated instance keeps no instance profile
            doc["TerminatedAt"] = ctx.clock.time()
        doc.update(
            State=final,
            StateTransitionReason=_user_initiated(ctx),
            StateReason={
                "Code": "Client.UserInitiatedShutdown",
                "Message": "Client.UserInitiatedShutdown: User initiated shutdown",
            },
        )
        self.service.close_endpoint(doc["InstanceId"])
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        return _change(doc, previous, transition)

    @operation("ec2:StopInstances", instance_arns, unsupported=SHUTDOWN_UNSUPPORTED)
    def StopInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        docs = get_instances(ctx, params["InstanceIds"])
        for doc in docs:
            if doc["State"] == "terminated":
                raise IncorrectInstanceState(
                    f"This instance '{doc['InstanceId']}' is not in a state from which it can be stopped."
                )
        check_dry_run(params)
        changes = [self._shut_down(ctx, doc, "stopped", "stopping") for doc in docs]
        return {"StoppingInstances": changes}

    @operation(
        "ec2:TerminateInstances",
        instance_arns,
        unsupported={k: v for k, v in SHUTDOWN_UNSUPPORTED.items() if k != "Hibernate"},
    )
    def TerminateInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        docs = get_instances(ctx, params["InstanceIds"])
        check_dry_run(params)
        changes = [self._shut_down(ctx, doc, "terminated", "shutting-down") for doc in docs]
        return {"TerminatingInstances": changes}

    @operation("ec2:ModifyInstanceMetadataOptions", one_instance, instance_context)
    def ModifyInstanceMetadataOptions(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance(ctx, params["InstanceId"])
        if doc["State"] == "terminated":
            raise IncorrectInstanceState(
                f"The instance '{doc['InstanceId']}' is not in a valid state for this operation."
            )
        requested = {
            k: params.get(k)
            for k in (
                "HttpTokens",
                "HttpPutResponseHopLimit",
                "HttpEndpoint",
                "HttpProtocolIpv6",
                "InstanceMetadataTags",
            )
        }
        options = _metadata_options(requested, doc["MetadataOptions"])
        check_dry_run(params)
        doc["MetadataOptions"] = options
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        return {"InstanceId": doc["InstanceId"], "InstanceMetadataOptions": dict(options, State="pending")}
