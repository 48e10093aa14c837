"""Amazon EC2, as far as instance roles need it: instances, their states, and instance-profile associations.

Launching with, associating or replacing an instance profile passes its role to EC2, which needs
iam:PassRole on the role with iam:PassedToService = ec2.amazonaws.com. EC2 reports every denial as
UnauthorizedOperation with an encoded authorization message (sts:DecodeAuthorizationMessage reads it).

State changes complete at once: the response shows the transition EC2 reports (pending, stopping,
shutting-down, associating, disassociating) and the next Describe shows where it ends. Each running
instance has a metadata endpoint of its own (rolecall.imds), started and stopped with the instance.
"""

from __future__ import annotations

import re
from typing import Any

from rolecall.authz import Check, denial, encode_authorization_message
from rolecall.errors import AwsError, InvalidParameterValue, MissingParameter
from rolecall.services.base import OpContext, Service, operation
from rolecall.services.ec2_common import (
    ASSOCIATION,
    ASSOCIATION_FILTERS,
    DEFAULT_INSTANCE_TYPE,
    INSTANCE,
    INSTANCE_FILTERS,
    MAX_INSTANCES_PER_LAUNCH,
    IncorrectInstanceState,
    IncorrectState,
    InstanceLimitExceeded,
    InvalidAMIIDMalformed,
    InvalidAssociationIDNotFound,
    InvalidParameterCombination,
    UnauthorizedOperation,
    association_shape,
    association_visible,
    check_dry_run,
    decode_user_data,
    end_association,
    find_profile,
    get_instance,
    get_instances,
    get_live_association,
    instance_arn,
    instance_shape,
    iso,
    matcher,
    new_association,
    new_instance_id,
    new_mac,
    new_private_ip,
    new_reservation_id,
    page,
    profile_role,
    require_profile,
    state,
    visible,
)
from rolecall.services.iam_common import resource_tag_context

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


def _any_instance(ctx: OpContext) -> str:
    return instance_arn(ctx.region, ctx.account, "*")


def _instance_arns(ctx: OpContext, params: dict[str, Any]) -> list[str]:
    return [instance_arn(ctx.region, ctx.account, i) for i in params.get("InstanceIds") or []]


def _one_instance(ctx: OpContext, params: dict[str, Any]) -> str:
    return instance_arn(ctx.region, ctx.account, params["InstanceId"])


def _association_instance(ctx: OpContext, params: dict[str, Any]) -> str:
    doc = ctx.tx.get(ctx.account, ASSOCIATION, params.get("AssociationId") or "")
    return instance_arn(ctx.region, ctx.account, doc["InstanceId"] if doc else "*")


def _run_resources(ctx: OpContext, params: dict[str, Any]) -> list[str]:
    return [_any_instance(ctx), f"arn:aws:ec2:{ctx.region}::image/{params.get('ImageId') or '*'}"]


def _launch_tags(params: dict[str, Any]) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") == "instance":
            tags.extend({"Key": t["Key"], "Value": t.get("Value", "")} for t in spec.get("Tags") or [])
    return tags


def _run_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
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
    tags = _launch_tags(params)
    if tags:
        keys["aws:TagKeys"] = [t["Key"] for t in tags]
        keys.update({f"aws:RequestTag/{t['Key']}": t["Value"] for t in tags})
    return keys


def _pass_role(
    ctx: OpContext, params: dict[str, Any], instance: str
) -> list[tuple[str, str, dict[str, Any]]]:
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


def _run_extra(ctx: OpContext, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    more = _pass_role(ctx, params, _any_instance(ctx))
    if _launch_tags(params):  # tagging at launch is ec2:CreateTags with ec2:CreateAction = RunInstances
        more.append(("ec2:CreateTags", _any_instance(ctx), {"ec2:CreateAction": "RunInstances"}))
    return more


def _instance_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    doc = ctx.tx.get(ctx.account, INSTANCE, params.get("InstanceId") or "")
    if doc is None:
        return {}
    tags = {f"ec2:ResourceTag/{t['Key']}": t["Value"] for t in doc.get("Tags") or []}
    tags.update({f"aws:ResourceTag/{t['Key']}": t["Value"] for t in doc.get("Tags") or []})
    return tags


def _profile_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = _instance_context(ctx, params)
    profile = find_profile(ctx.tx, ctx.account, params.get("IamInstanceProfile"))
    if profile is not None:
        keys["ec2:NewInstanceProfile"] = profile["Arn"]
    return keys


# -- helpers for the handlers ------------------------------------------------------------------------------


def _imds(ctx: OpContext) -> Any:
    pipeline = (ctx.config.extra if ctx.config is not None else {}).get("pipeline")
    return getattr(pipeline, "imds", None)


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
        raise AwsError("The maximum number of tags for a resource is 50.", code="TagLimitExceeded")
    for t in tags:
        if t["Key"].lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
        if not 1 <= len(t["Key"]) <= 128 or len(t["Value"]) > 256:
            raise InvalidParameterValue(f"Tag key or value for '{t['Key']}' is too long")
    return tags


def _user_initiated(ctx: OpContext) -> str:
    return f"User initiated ({ctx.clock.now().strftime('%Y-%m-%d %H:%M:%S')} GMT)"


def _change(doc: dict[str, Any], previous: str, shown: str) -> dict[str, Any]:
    return {"InstanceId": doc["InstanceId"], "CurrentState": state(shown), "PreviousState": state(previous)}


# RunInstances members rolecall's instances do not have -- storage, networking, CPU and market options, launch
# templates, placement beyond the zone -- refused (rolecall.member_guard) unless given the value that describes
# the instance DescribeInstances shows anyway (Monitoring disabled, not EBS-optimized, default tenancy, ...).
_RUN_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
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
        "LaunchTemplate",
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
_SHUTDOWN_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "Hibernate": (False,),
    "SkipOsShutdown": (False,),
    "Force": (False,),
}


class EC2(Service):
    name = "ec2"
    model = "ec2"

    def denial(self, ctx: OpContext, check: Check, context: dict[str, Any]) -> AwsError:
        """EC2's refusal: UnauthorizedOperation, with the decision sealed for sts:DecodeAuthorizationMessage."""
        encoded = encode_authorization_message(ctx.config.token_box, ctx.caller, check, context)
        reason = denial(ctx.caller, check.action, check.resource, check.decision).message
        return UnauthorizedOperation(
            f"You are not authorized to perform this operation. {reason}. "
            f"Encoded authorization failure message: {encoded}"
        )

    # -- instances ---------------------------------------------------------------------------------------

    @operation(
        "ec2:RunInstances", _run_resources, _run_context, extra=_run_extra, unsupported=_RUN_UNSUPPORTED
    )
    def RunInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
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
        if low > MAX_INSTANCES_PER_LAUNCH:
            raise InstanceLimitExceeded(
                f"You have requested more instances ({low}) than your current instance limit of "
                f"{MAX_INSTANCES_PER_LAUNCH} allows for the specified instance type."
            )
        spec = params.get("IamInstanceProfile")
        profile = require_profile(ctx.tx, ctx.account, spec) if spec else None
        options = _metadata_options(params.get("MetadataOptions"), DEFAULT_METADATA_OPTIONS)
        tags = _validated_tags(_launch_tags(params))
        decode_user_data(params.get("UserData"))
        zone = (params.get("Placement") or {}).get("AvailabilityZone") or ctx.region + "a"
        if not (zone.startswith(ctx.region) and len(zone) == len(ctx.region) + 1):
            raise InvalidParameterValue(f"Invalid availability zone: [{zone}]")
        check_dry_run(params)

        now = ctx.clock.time()
        reservation_id = new_reservation_id()
        imds = _imds(ctx)
        opened: list[str] = []
        instances = []
        try:
            for index in range(min(high, MAX_INSTANCES_PER_LAUNCH)):
                doc: dict[str, Any] = {
                    "InstanceId": new_instance_id(),
                    "ReservationId": reservation_id,
                    "Region": ctx.region,
                    "ImageId": image_id,
                    "InstanceType": params.get("InstanceType") or DEFAULT_INSTANCE_TYPE,
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
                imds.close_instance(instance_id)
            raise
        ctx.trail_resources = [self._trail(ctx, d) for d in instances]
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

    @operation("ec2:StartInstances", _instance_arns, unsupported=["AdditionalInfo"])
    def StartInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        docs = get_instances(ctx, params["InstanceIds"])
        for doc in docs:
            if doc["State"] == "terminated":
                raise IncorrectInstanceState(
                    f"The instance '{doc['InstanceId']}' is not in a state from which it can be started."
                )
        check_dry_run(params)
        imds = _imds(ctx)
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
        self._close_endpoint(ctx, doc)
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        return _change(doc, previous, transition)

    @operation("ec2:StopInstances", _instance_arns, unsupported=_SHUTDOWN_UNSUPPORTED)
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
        _instance_arns,
        unsupported={k: v for k, v in _SHUTDOWN_UNSUPPORTED.items() if k != "Hibernate"},
    )
    def TerminateInstances(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        docs = get_instances(ctx, params["InstanceIds"])
        check_dry_run(params)
        changes = [self._shut_down(ctx, doc, "terminated", "shutting-down") for doc in docs]
        return {"TerminatingInstances": changes}

    @operation("ec2:ModifyInstanceMetadataOptions", _one_instance, _instance_context)
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

    # -- instance profile associations ---------------------------------------------------------------

    @operation(
        "ec2:AssociateIamInstanceProfile",
        _one_instance,
        _profile_context,
        extra=lambda ctx, p: _pass_role(ctx, p, _one_instance(ctx, p)),
    )
    def AssociateIamInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance(ctx, params["InstanceId"])
        if doc["State"] == "terminated":
            raise IncorrectInstanceState(
                f"The instance '{doc['InstanceId']}' is not in a valid state for this operation."
            )
        if doc.get("AssociationId"):
            raise IncorrectState(f"There is an existing association for instance {doc['InstanceId']}")
        profile = require_profile(ctx.tx, ctx.account, params["IamInstanceProfile"])
        association = new_association(ctx, doc, profile)
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        ctx.trail_resources = [self._trail(ctx, doc)]
        return {"IamInstanceProfileAssociation": association_shape(association, "associating")}

    @operation(
        "ec2:ReplaceIamInstanceProfileAssociation",
        _association_instance,
        lambda ctx, p: _profile_context(
            ctx, {**p, "InstanceId": _association_instance(ctx, p).rsplit("/", 1)[-1]}
        ),
        extra=lambda ctx, p: _pass_role(ctx, p, _association_instance(ctx, p)),
    )
    def ReplaceIamInstanceProfileAssociation(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        old = get_live_association(ctx, params["AssociationId"])
        doc = get_instance(ctx, old["InstanceId"])
        if doc["State"] != "running":
            raise IncorrectInstanceState(f"The instance '{doc['InstanceId']}' is not in the 'running' state.")
        profile = require_profile(ctx.tx, ctx.account, params["IamInstanceProfile"])
        end_association(ctx, doc)
        association = new_association(ctx, doc, profile)
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        ctx.trail_resources = [self._trail(ctx, doc)]
        return {"IamInstanceProfileAssociation": association_shape(association, "associating")}

    @operation("ec2:DisassociateIamInstanceProfile", _association_instance)
    def DisassociateIamInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        association = get_live_association(ctx, params["AssociationId"])
        doc = ctx.tx.get(ctx.account, INSTANCE, association["InstanceId"])
        ended = end_association(ctx, doc) if doc is not None else None
        if ended is None:
            raise InvalidAssociationIDNotFound(
                f"The association ID '{params['AssociationId']}' does not exist"
            )
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        ctx.trail_resources = [self._trail(ctx, doc)]
        return {"IamInstanceProfileAssociation": association_shape(ended, "disassociating")}

    @operation("ec2:DescribeIamInstanceProfileAssociations")
    def DescribeIamInstanceProfileAssociations(
        self, ctx: OpContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        ids = params.get("AssociationIds")
        if ids and params.get("MaxResults") is not None:
            raise InvalidParameterCombination(
                "The parameter associationIds cannot be used with the parameter maxResults"
            )
        keep = matcher(params.get("Filters"), ASSOCIATION_FILTERS)
        if ids:
            docs = []
            for association_id in dict.fromkeys(ids):
                doc = ctx.tx.get(ctx.account, ASSOCIATION, association_id)
                if doc is None or not association_visible(doc, ctx):
                    raise InvalidAssociationIDNotFound(
                        f"The association ID '{association_id}' does not exist"
                    )
                docs.append(doc)
        else:
            docs = [d for d in ctx.tx.list(ctx.account, ASSOCIATION) if association_visible(d, ctx)]
            docs.sort(key=lambda d: (d["Timestamp"], d["AssociationId"]))
        chosen, next_token = page([d for d in docs if keep(d)], params)
        out: dict[str, Any] = {"IamInstanceProfileAssociations": [association_shape(d) for d in chosen]}
        if next_token:
            out["NextToken"] = next_token
        return out

    # -- shared --------------------------------------------------------------------------------------

    def _close_endpoint(self, ctx: OpContext, doc: dict[str, Any]) -> None:
        imds = _imds(ctx)
        if imds is not None:
            imds.close_instance(doc["InstanceId"])

    def _trail(self, ctx: OpContext, doc: dict[str, Any]) -> dict[str, str]:
        return {
            "ARN": instance_arn(doc["Region"], ctx.account, doc["InstanceId"]),
            "accountId": ctx.account,
            "type": "AWS::EC2::Instance",
        }
