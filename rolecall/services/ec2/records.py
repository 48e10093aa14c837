"""What EC2's operations share: errors, identifiers, the stored instance and association documents, filters.

Instances are documents of kind "instance" named by their id; instance-profile associations are documents
of kind "iip_association" named by their id. An instance document carries its current association
(`IamInstanceProfile`, `AssociationId`) so that the metadata service reads one document per request.
Private IPv4 addresses are data only: nothing ever sends traffic to them.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rolecall.core.context import OpContext
from rolecall.errors import InvalidParameterValue, MissingParameter
from rolecall.services.ec2.errors import (
    DryRunOperation,
    InvalidAssociationIDNotFound,
    InvalidInstanceIDMalformed,
    InvalidInstanceIDNotFound,
)
from rolecall.store import Tx

INSTANCE = "instance"
ASSOCIATION = "iip_association"

# State codes as EC2 reports them (the high byte is internal to AWS and always 0 here).
STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}
# Terminated instances and ended associations stay visible this long, as on AWS (about an hour).
GONE_VISIBLE_FOR = 3600
USER_DATA_MAX = 16 * 1024
DEFAULT_INSTANCE_TYPE = "m1.small"


def _hex_id(prefix: str) -> str:
    return prefix + secrets.token_hex(9)[:17]


def new_instance_id() -> str:
    return _hex_id("i-")


def new_reservation_id() -> str:
    return _hex_id("r-")


def new_association_id() -> str:
    return _hex_id("iip-assoc-")


def instance_arn(region: str, account: str, instance_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def check_dry_run(params: dict[str, Any]) -> None:
    """Reached only after authorization succeeded, which is what a dry run asks."""
    if params.get("DryRun"):
        raise DryRunOperation("Request would have succeeded, but DryRun flag is set.")


# -- instances -------------------------------------------------------------------------------------------


def check_instance_id(instance_id: str) -> None:
    if not (instance_id.startswith("i-") and len(instance_id) > 2 and instance_id[2:].isalnum()):
        raise InvalidInstanceIDMalformed(f'Invalid id: "{instance_id}"')


def visible(doc: dict[str, Any], ctx: OpContext) -> bool:
    """In this request's region, and not terminated so long ago that EC2 has forgotten it."""
    if doc.get("Region") != ctx.region:
        return False
    ended = doc.get("TerminatedAt")
    return ended is None or ctx.clock.time() - ended < GONE_VISIBLE_FOR


def get_instances(ctx: OpContext, instance_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The instances named, in order; InvalidInstanceID.NotFound naming every id that is not there."""
    ids = list(dict.fromkeys(instance_ids))
    for instance_id in ids:
        check_instance_id(instance_id)
    found, missing = [], []
    for instance_id in ids:
        doc = ctx.tx.get(ctx.account, INSTANCE, instance_id)
        if doc is None or not visible(doc, ctx):
            missing.append(instance_id)
        else:
            found.append(doc)
    if len(missing) == 1:
        raise InvalidInstanceIDNotFound(f"The instance ID '{missing[0]}' does not exist")
    if missing:
        raise InvalidInstanceIDNotFound(f"The instance IDs '{', '.join(missing)}' do not exist")
    return found


def get_instance(ctx: OpContext, instance_id: str) -> dict[str, Any]:
    return get_instances(ctx, [instance_id])[0]


def new_private_ip(tx: Tx, account: str) -> str:
    """A private IPv4 address in 10.0.0.0/16 that no other live instance of the account has."""
    taken = {d.get("PrivateIpAddress") for d in tx.list(account, INSTANCE) if d["State"] != "terminated"}
    while True:
        ip = f"10.0.{secrets.randbelow(256)}.{4 + secrets.randbelow(251)}"
        if ip not in taken:
            return ip


def private_dns_name(ip: str, region: str) -> str:
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def new_mac() -> str:
    return "0e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))


def state(name: str) -> dict[str, Any]:
    return {"Code": STATE_CODES[name], "Name": name}


def decode_user_data(encoded: str | None) -> bytes | None:
    if encoded is None:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
    if len(raw) > USER_DATA_MAX:
        raise InvalidParameterValue(f"User data is limited to {USER_DATA_MAX} bytes")
    return raw


def instance_shape(doc: dict[str, Any], shown_state: str | None = None) -> dict[str, Any]:
    """The Instance structure of DescribeInstances / RunInstances."""
    name = shown_state or doc["State"]
    live = doc["State"] != "terminated"
    out: dict[str, Any] = {
        "InstanceId": doc["InstanceId"],
        "ImageId": doc["ImageId"],
        "State": state(name),
        "PrivateDnsName": private_dns_name(doc["PrivateIpAddress"], doc["Region"]) if live else "",
        "PublicDnsName": "",
        "StateTransitionReason": doc.get("StateTransitionReason", ""),
        "AmiLaunchIndex": doc.get("AmiLaunchIndex", 0),
        "ProductCodes": [],
        "InstanceType": doc["InstanceType"],
        "LaunchTime": doc["LaunchTime"],
        "Placement": {"AvailabilityZone": doc["AvailabilityZone"], "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": "disabled"},
        "Architecture": "x86_64",
        "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/xvda",
        "BlockDeviceMappings": [],
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "ClientToken": doc.get("ClientToken", ""),
        "EbsOptimized": False,
        "EnaSupport": True,
        "SourceDestCheck": True,
        "SecurityGroups": [],
        "NetworkInterfaces": [],
        "MetadataOptions": dict(doc["MetadataOptions"], State="applied"),
    }
    if live:
        out["PrivateIpAddress"] = doc["PrivateIpAddress"]
    if doc.get("KeyName"):
        out["KeyName"] = doc["KeyName"]
    if doc.get("StateReason"):
        out["StateReason"] = doc["StateReason"]
    if doc.get("IamInstanceProfile"):
        out["IamInstanceProfile"] = dict(doc["IamInstanceProfile"])
    if doc.get("Tags"):
        out["Tags"] = [dict(t) for t in doc["Tags"]]
    return out


# -- instance profiles -----------------------------------------------------------------------------------


def find_profile(tx: Tx, account: str, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The instance profile an IamInstanceProfile specification names (Arn wins over Name), or None."""
    if not spec:
        return None
    arn = spec.get("Arn")
    if arn:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or parts[4] != account:
            return None
        if not parts[5].startswith("instance-profile/"):
            return None
        doc = tx.get(account, "instance_profile", parts[5].rsplit("/", 1)[-1])
        return doc if doc is not None and doc["Arn"] == arn else None
    if spec.get("Name"):
        return tx.get(account, "instance_profile", spec["Name"])
    return None


def require_profile(tx: Tx, account: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    if not spec or not (spec.get("Arn") or spec.get("Name")):
        raise MissingParameter("The request must contain the parameter IamInstanceProfile.Name or .Arn")
    doc = find_profile(tx, account, spec)
    if doc is not None:
        return doc
    if spec.get("Arn"):
        raise InvalidParameterValue(
            f"Value ({spec['Arn']}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
        )
    raise InvalidParameterValue(
        f"Value ({spec['Name']}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
    )


def profile_role(tx: Tx, account: str, profile: dict[str, Any] | None) -> dict[str, Any] | None:
    """The role in an instance profile (a profile holds at most one), or None."""
    if not profile or not profile.get("Roles"):
        return None
    return tx.get(account, "role", profile["Roles"][0])


# -- associations ----------------------------------------------------------------------------------------


def association_shape(doc: dict[str, Any], shown_state: str | None = None) -> dict[str, Any]:
    return {
        "AssociationId": doc["AssociationId"],
        "InstanceId": doc["InstanceId"],
        "IamInstanceProfile": dict(doc["IamInstanceProfile"]),
        "State": shown_state or doc["State"],
        "Timestamp": doc["Timestamp"],
    }


def new_association(ctx: OpContext, instance: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Record an association of `profile` with `instance` and make it the instance's current one."""
    doc = {
        "AssociationId": new_association_id(),
        "InstanceId": instance["InstanceId"],
        "IamInstanceProfile": {"Arn": profile["Arn"], "Id": profile["InstanceProfileId"]},
        "State": "associated",
        "Timestamp": iso(ctx.clock.time()),
        "Region": instance["Region"],
    }
    ctx.tx.insert(ctx.account, ASSOCIATION, doc["AssociationId"], doc)
    instance["IamInstanceProfile"] = dict(doc["IamInstanceProfile"])
    instance["AssociationId"] = doc["AssociationId"]
    return doc


def end_association(ctx: OpContext, instance: dict[str, Any]) -> dict[str, Any] | None:
    """Mark the instance's current association disassociated (the caller saves the instance)."""
    assoc_id = instance.pop("AssociationId", None)
    instance.pop("IamInstanceProfile", None)
    doc = ctx.tx.get(ctx.account, ASSOCIATION, assoc_id) if assoc_id else None
    if doc is not None:
        doc["State"] = "disassociated"
        doc["EndedAt"] = ctx.clock.time()
        ctx.tx.update(ctx.account, ASSOCIATION, assoc_id, doc)
    return doc


def get_live_association(ctx: OpContext, association_id: str) -> dict[str, Any]:
    doc = ctx.tx.get(ctx.account, ASSOCIATION, association_id)
    if doc is None or doc.get("Region") != ctx.region or doc["State"] != "associated":
        raise InvalidAssociationIDNotFound(f"The association ID '{association_id}' does not exist")
    return doc


def association_visible(doc: dict[str, Any], ctx: OpContext) -> bool:
    if doc.get("Region") != ctx.region:
        return False
    ended = doc.get("EndedAt")
    return ended is None or ctx.clock.time() - ended < GONE_VISIBLE_FOR


# -- filters and pages -----------------------------------------------------------------------------------

Extractor = Callable[[dict[str, Any]], list[str]]


def _tag_values(doc: dict[str, Any], key: str) -> list[str]:
    return [t["Value"] for t in doc.get("Tags") or [] if t["Key"] == key]


def _profile_field(field: str) -> Extractor:
    return lambda d: [d["IamInstanceProfile"][field]] if d.get("IamInstanceProfile") else []


def _option(field: str) -> Extractor:
    return lambda d: [str(d["MetadataOptions"].get(field, ""))]


INSTANCE_FILTERS: dict[str, Extractor] = {
    "instance-id": lambda d: [d["InstanceId"]],
    "instance-state-name": lambda d: [d["State"]],
    "instance-state-code": lambda d: [str(STATE_CODES[d["State"]])],
    "instance-type": lambda d: [d["InstanceType"]],
    "image-id": lambda d: [d["ImageId"]],
    "reservation-id": lambda d: [d["ReservationId"]],
    "availability-zone": lambda d: [d["AvailabilityZone"]],
    "private-ip-address": lambda d: [d["PrivateIpAddress"]] if d["State"] != "terminated" else [],
    "iam-instance-profile.arn": _profile_field("Arn"),
    "iam-instance-profile.id": _profile_field("Id"),
    "metadata-options.http-tokens": _option("HttpTokens"),
    "metadata-options.http-endpoint": _option("HttpEndpoint"),
    "metadata-options.http-put-response-hop-limit": _option("HttpPutResponseHopLimit"),
    "tag-key": lambda d: [t["Key"] for t in d.get("Tags") or []],
    "tag-value": lambda d: [t["Value"] for t in d.get("Tags") or []],
}

ASSOCIATION_FILTERS: dict[str, Extractor] = {
    "instance-id": lambda d: [d["InstanceId"]],
    "state": lambda d: [d["State"]],
}


def matcher(
    filters: list[dict[str, Any]] | None, table: dict[str, Extractor]
) -> Callable[[dict[str, Any]], bool]:
    """A predicate for EC2 filters: every filter must match; a filter matches when any of its values (which
    may hold * and ? wildcards) matches any of the document's values for that name."""
    compiled: list[tuple[Extractor, list[str]]] = []
    for f in filters or []:
        name = f.get("Name") or ""
        if name.startswith("tag:") and table is INSTANCE_FILTERS:
            key = name[4:]
            extract: Extractor = functools.partial(_tag_values, key=key)
        elif name in table:
            extract = table[name]
        else:
            raise InvalidParameterValue(f"The filter '{name}' is invalid")
        compiled.append((extract, list(f.get("Values") or [])))

    def matches(doc: dict[str, Any]) -> bool:
        for extract, patterns in compiled:
            values = extract(doc)
            if not any(fnmatch.fnmatchcase(v, p) for v in values for p in patterns):
                return False
        return True

    return matches


def page(items: list[Any], params: dict[str, Any], *, lowest: int = 5) -> tuple[list[Any], str | None]:
    """One page of `items` by MaxResults / NextToken (an opaque offset)."""
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise InvalidParameterValue(f"Invalid value '{token}' for nextToken") from None
    limit = params.get("MaxResults")
    if limit is None:
        return items[start:], None
    if not lowest <= limit <= 1000:
        raise InvalidParameterValue(
            f"Value ( {limit} ) for parameter maxResults is invalid. Expecting a value between {lowest} and 1000."
        )
    end = start + limit
    more = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], more


def trail_resource(ctx: OpContext, doc: dict[str, Any]) -> dict[str, str]:
    """An instance as the trail lists it among a request's resources."""
    return {
        "ARN": instance_arn(doc["Region"], ctx.account, doc["InstanceId"]),
        "accountId": ctx.account,
        "type": "AWS::EC2::Instance",
    }
