"""What an instance's metadata endpoint serves: the metadata tree, and the role credentials it rotates.

Credentials come from the one shared step (rolecall.services.sts.service_sessions): ec2.amazonaws.com assumes the
instance profile's role with the instance id as session name, judged by the role's trust policy. EC2 does
not supply aws:SourceArn / aws:SourceAccount to that trust policy (roles that require them cannot be used
as instance roles), so neither do we. The session carries ec2:SourceInstanceARN, ec2:RoleDelivery and
aws:Ec2InstanceSourcePrivateIPv4 into every authorization it is later used for.

Each instance keeps its current credentials until they come close to expiring: less than 5 minutes left,
or, for lifetimes under 10 minutes, less than half. Then the next request gets new ones; the old ones are
never revoked and keep working until they expire.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rolecall.services.ec2.records import private_dns_name, profile_role
from rolecall.services.sts.errors import ServiceCannotAssumeRole
from rolecall.services.sts.service_sessions import ServiceCredentials, assume_role_for_service

if TYPE_CHECKING:
    from rolecall.core.host import Host

EC2_PRINCIPAL = "ec2.amazonaws.com"
ROTATE_BEFORE = 300  # seconds left at which a normal lifetime's credentials are replaced
SHORT_LIFETIME = 600  # below this lifetime, credentials are replaced at half-life instead
TROUBLESHOOT_URL = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html"
    "#troubleshoot_iam-ec2_errors-info-doc"
)

# A metadata tree: keys ending in "/" are directories; leaves are text, or functions producing it on demand.
Leaf = str | Callable[[], str]
Tree = dict[str, Any]


def iso_seconds(t: float) -> str:
    """IMDS's timestamps, exactly as SDKs parse them: YYYY-MM-DDTHH:MM:SSZ."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_json(obj: dict[str, Any]) -> str:
    """IMDS's JSON layout: two-space indent and " : " between key and value."""
    return json.dumps(obj, indent=2, separators=(",", " : "))


def needs_rotation(issued: float, expires: float, now: float) -> bool:
    lifetime = expires - issued
    threshold = lifetime / 2 if lifetime < SHORT_LIFETIME else ROTATE_BEFORE
    return expires - now < threshold


def role_delivery(instance: dict[str, Any]) -> str:
    """ec2:RoleDelivery: 2.0 when the instance only answers IMDSv2 (token) requests, else 1.0."""
    return "2.0" if instance["MetadataOptions"].get("HttpTokens") == "required" else "1.0"


def instance_arn_of(account: str, instance: dict[str, Any]) -> str:
    return f"arn:aws:ec2:{instance['Region']}:{account}:instance/{instance['InstanceId']}"


@dataclass
class Issued:
    role_arn: str
    session_context: dict[str, Any]
    credentials: ServiceCredentials

    @property
    def issued(self) -> float:
        return self.credentials.session.issued

    @property
    def expires(self) -> float:
        return self.credentials.session.expires


class InstanceCredentials:
    """The current role credentials of every instance this server answers for.

    Issuing runs under the instance's own lock, never the shared one: issuing reads the store, and an EC2
    handler that holds the store's write lock may be waiting to `forget` an instance at that moment.
    """

    def __init__(self, host: Host) -> None:
        self.host = host
        self._issued: dict[str, Issued] = {}
        self._issuing: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the two dicts only

    def forget(self, instance_id: str) -> None:
        with self._lock:
            self._issued.pop(instance_id, None)
            self._issuing.pop(instance_id, None)

    def forget_all(self) -> None:
        with self._lock:
            self._issued.clear()
            self._issuing.clear()

    def _fresh(self, instance_id: str, role_arn: str, context: dict[str, Any], now: float) -> Issued | None:
        with self._lock:
            held = self._issued.get(instance_id)
        if (
            held is not None
            and held.role_arn == role_arn
            and held.session_context == context
            and not needs_rotation(held.issued, held.expires, now)
        ):
            return held
        return None

    def current(
        self, account: str, instance: dict[str, Any], role: dict[str, Any]
    ) -> Issued | dict[str, Any]:
        """The instance's credentials for `role`, issuing new ones when due; or EC2's failure document."""
        now = self.host.clock.time()
        context = {
            "ec2:SourceInstanceARN": instance_arn_of(account, instance),
            "ec2:RoleDelivery": role_delivery(instance),
            "aws:Ec2InstanceSourcePrivateIPv4": instance["PrivateIpAddress"],
        }
        instance_id = instance["InstanceId"]
        held = self._fresh(instance_id, role["Arn"], context, now)
        if held is not None:
            return held
        with self._lock:
            issuing = self._issuing.setdefault(instance_id, threading.Lock())
        with issuing:  # one issue per instance at a time; the others then find it fresh
            held = self._fresh(instance_id, role["Arn"], context, now)
            if held is not None:
                return held
            try:
                creds = assume_role_for_service(
                    self.host,
                    service=EC2_PRINCIPAL,
                    role_arn=role["Arn"],
                    session_name=instance_id,
                    duration=int(self.host.config.instance_credential_ttl),
                    session_context=context,
                    region=instance["Region"],
                )
            except ServiceCannotAssumeRole:
                self.forget(instance_id)
                return {
                    "Code": "AssumeRoleUnauthorizedAccess",
                    "Message": f"EC2 cannot assume the role {role['RoleName']}.  "
                    f"Please see documentation at {TROUBLESHOOT_URL}.",
                    "LastUpdated": iso_seconds(now),
                }
            held = Issued(role["Arn"], context, creds)
            with self._lock:
                self._issued[instance_id] = held
            return held


def credentials_document(issued: Issued | dict[str, Any]) -> str:
    if isinstance(issued, dict):
        return aws_json(issued)
    session = issued.credentials.session
    return aws_json(
        {
            "Code": "Success",
            "LastUpdated": iso_seconds(session.issued),
            "Type": "AWS-HMAC",
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "Token": issued.credentials.token,
            "Expiration": iso_seconds(session.expires),
        }
    )


def metadata_tree(
    host: Host,
    credentials: InstanceCredentials,
    account: str,
    instance: dict[str, Any],
) -> Tree:
    """The /latest/ tree of one instance as it is now. Credentials are fetched only when asked for."""
    region = instance["Region"]
    ip = instance["PrivateIpAddress"]
    hostname = private_dns_name(ip, region)
    meta: Tree = {
        "ami-id": instance["ImageId"],
        "ami-launch-index": str(instance.get("AmiLaunchIndex", 0)),
        "hostname": hostname,
        "instance-id": instance["InstanceId"],
        "instance-type": instance["InstanceType"],
        "local-hostname": hostname,
        "local-ipv4": ip,
        "mac": instance["MacAddress"],
        "placement/": {"availability-zone": instance["AvailabilityZone"], "region": region},
        "reservation-id": instance["ReservationId"],
        "services/": {"domain": "amazonaws.com", "partition": "aws"},
    }
    iam = _iam_tree(host, credentials, account, instance)
    if iam is not None:
        meta["iam/"] = iam
    tree: Tree = {
        "dynamic/": {"instance-identity/": {"document": lambda: _identity_document(account, instance)}},
        "meta-data/": meta,
    }
    if instance.get("UserData"):
        tree["user-data"] = lambda: base64.b64decode(instance["UserData"]).decode("latin-1")
    return tree


def _iam_tree(
    host: Host, credentials: InstanceCredentials, account: str, instance: dict[str, Any]
) -> Tree | None:
    profile_ref = instance.get("IamInstanceProfile")
    if not profile_ref:
        return None
    with read_snapshot(host) as tx:
        name = profile_ref["Arn"].rsplit("/", 1)[-1]
        profile = tx.get(account, "instance_profile", name)
        if profile is None or profile["InstanceProfileId"] != profile_ref["Id"]:
            return None  # the profile was deleted (or deleted and made again): nothing to hand out
        role = profile_role(tx, account, profile)

    def info() -> str:
        if role is None:
            updated = iso_seconds(host.clock.time())
        else:
            current = credentials.current(account, instance, role)
            if isinstance(current, dict):
                return aws_json(current)
            updated = iso_seconds(current.issued)
        return aws_json(
            {
                "Code": "Success",
                "LastUpdated": updated,
                "InstanceProfileArn": profile["Arn"],
                "InstanceProfileId": profile["InstanceProfileId"],
            }
        )

    tree: Tree = {"info": info}
    if role is not None:
        tree["security-credentials/"] = {
            role["RoleName"]: lambda: credentials_document(credentials.current(account, instance, role))
        }
    return tree


def _identity_document(account: str, instance: dict[str, Any]) -> str:
    launched = datetime.strptime(instance["LaunchTime"][:19], "%Y-%m-%dT%H:%M:%S")
    return aws_json(
        {
            "accountId": account,
            "architecture": "x86_64",
            "availabilityZone": instance["AvailabilityZone"],
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": instance["ImageId"],
            "instanceId": instance["InstanceId"],
            "instanceType": instance["InstanceType"],
            "kernelId": None,
            "pendingTime": launched.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "privateIp": instance["PrivateIpAddress"],
            "ramdiskId": None,
            "region": instance["Region"],
            "version": "2017-09-30",
        }
    )


def read_snapshot(host: Host):
    store = host.store
    return store.read_transaction()


def lookup(tree: Tree, segments: list[str], directory: bool) -> tuple[str, str] | None:
    """("listing" | "leaf", text) at `segments` below the tree, or None when nothing is there.

    A directory answers with or without its trailing slash; a leaf only without one.
    """
    node: Any = tree
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if not isinstance(node, dict):
            return None
        if segment + "/" in node:
            node = node[segment + "/"]
        elif segment in node and (not last or not directory):
            node = node[segment]
        else:
            return None
    if isinstance(node, dict):
        return "listing", "\n".join(sorted(node))
    return "leaf", node() if callable(node) else node
