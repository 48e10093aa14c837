"""On-Demand vCPU quotas, as EC2 enforces them on RunInstances and StartInstances.

AWS's rules (Amazon EC2 User Guide, "On-Demand Instance quotas" and "Troubleshoot Amazon EC2 instance
launch issues"; the RunInstances API reference for MinCount / MaxCount):
- Quotas are per account and per Region, counted in vCPUs, one quota per *instance bucket*: Standard
  (A, C, D, H, I, M, R, T, Z), F, G and VT, Inf, P, X, DL, Trn, High Memory (U) and HPC. Any mix of
  instance types of a bucket may use its vCPUs.
- What counts is the vCPUs of the account's running On-Demand instances in the Region (and pending ones,
  which are on their way to running). Stopped and terminated instances use none, so starting a stopped
  instance is refused like a launch when its vCPUs do not fit.
- A request that does not fit is refused with VcpuLimitExceeded and changes nothing.
- RunInstances launches MaxCount instances, or as many as fit if that is fewer, as long as at least
  MinCount fit.
- An instance type EC2 does not have is InvalidParameterValue "Invalid value 'x' for InstanceType." (the EC2
  codec refuses it: botocore's model lists every type EC2 has).
- Mac instances run only on Dedicated Hosts, whose quotas count hosts: no On-Demand vCPU quota applies.

Each type's vCPUs come from the table below, or, for the types it leaves out, from EC2's size ladder.

Every bucket gets the one limit ServerConfig.ec2_vcpu_limit names (AWS sets each bucket's quota on its
own; a local server needs one knob). Launches and starts in one account and Region take a lock row first,
so two concurrent launches on several nodes cannot both fit into the same last vCPUs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from rolecall.core.context import OpContext
from rolecall.errors import InvalidParameterValue
from rolecall.services.ec2.errors import VcpuLimitExceeded
from rolecall.services.ec2.records import INSTANCE
from rolecall.store import Conflict, Tx
from rolecall.wire.models import service_model

# Instance states that hold vCPUs (rolecall's instances pass through pending at once, but a store written
# by another node mid-launch could show it).
USING_VCPUS = ("pending", "running")
LOCK_KIND = "ec2-vcpu-quota"  # one document per Region of an account: the row launches lock

STANDARD = "Standard"

# Instance families by bucket, with the sizes each family has. A size stands for its vCPUs by EC2's size
# ladder -- large 2, xlarge 4, Nxlarge 4N, metal-Nxl 4N -- unless given as size=vCPUs (small sizes, the
# one-vCPU-per-core "medium" of Graviton and 7th-generation AMD, metal, and the odd sizes that break the
# ladder, such as c4.8xlarge's 36).
_M5 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"
_M6I = _M5 + " 32xlarge"
_M6A = _M6I + " 48xlarge"
_M7I = _M5 + " 48xlarge metal-24xl metal-48xl"
_GRAVITON = "medium=1 large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"
_BURSTABLE = "nano=2 micro=2 small=2 medium=2 large xlarge 2xlarge"
_FAMILIES: dict[str, dict[str, str]] = {
    STANDARD: {
        "a1": "medium=1 large xlarge 2xlarge 4xlarge metal=16",
        "t1": "micro=1",
        "t2": "nano=1 micro=1 small=1 medium=2 large xlarge 2xlarge",
        "t3": _BURSTABLE,
        "t3a": _BURSTABLE,
        "t4g": _BURSTABLE,
        "m1": "small=1 medium=1 large xlarge",
        "m2": "xlarge=2 2xlarge=4 4xlarge=8",
        "m3": "medium=1 large xlarge 2xlarge",
        "m4": "large xlarge 2xlarge 4xlarge 10xlarge 16xlarge",
        "m5": _M5 + " metal=96",
        "m5d": _M5 + " metal=96",
        "m5n": _M5 + " metal=96",
        "m5dn": _M5 + " metal=96",
        "m5a": _M5,
        "m5ad": _M5,
        "m5zn": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge metal=48",
        "m6i": _M6I + " metal=128",
        "m6id": _M6I + " metal=128",
        "m6in": _M6I + " metal=128",
        "m6idn": _M6I + " metal=128",
        "m6a": _M6A + " metal=192",
        "m6g": _GRAVITON + " metal=64",
        "m6gd": _GRAVITON + " metal=64",
        "m7g": _GRAVITON + " metal=64",
        "m7gd": _GRAVITON + " metal=64",
        "m7i": _M7I,
        "m7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge",
        "m7a": "medium=1 " + _M6A + " metal-48xl",
        "c1": "medium=2 xlarge=8",
        "c3": "large xlarge 2xlarge 4xlarge 8xlarge",
        "c4": "large xlarge 2xlarge 4xlarge 8xlarge=36",
        "c5": "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal=96",
        "c5d": "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal=96",
        "c5n": "large xlarge 2xlarge 4xlarge 9xlarge 18xlarge metal=72",
        "c5a": _M5,
        "c5ad": _M5,
        "c6i": _M6I + " metal=128",
        "c6id": _M6I + " metal=128",
        "c6in": _M6I + " metal=128",
        "c6a": _M6A + " metal=192",
        "c6g": _GRAVITON + " metal=64",
        "c6gd": _GRAVITON + " metal=64",
        "c6gn": _GRAVITON,
        "c7g": _GRAVITON + " metal=64",
        "c7gd": _GRAVITON + " metal=64",
        "c7gn": _GRAVITON + " metal=64",
        "c7i": _M7I,
        "c7a": "medium=1 " + _M6A + " metal-48xl",
        "r3": "large xlarge 2xlarge 4xlarge 8xlarge",
        "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
        "r5": _M5 + " metal=96",
        "r5b": _M5 + " metal=96",
        "r5d": _M5 + " metal=96",
        "r5n": _M5 + " metal=96",
        "r5dn": _M5 + " metal=96",
        "r5a": _M5,
        "r5ad": _M5,
        "r6i": _M6I + " metal=128",
        "r6id": _M6I + " metal=128",
        "r6a": _M6A + " metal=192",
        "r6g": _GRAVITON + " metal=64",
        "r6gd": _GRAVITON + " metal=64",
        "r7g": _GRAVITON + " metal=64",
        "r7gd": _GRAVITON + " metal=64",
        "r7i": _M7I,
        "r7a": "medium=1 " + _M6A + " metal-48xl",
        "i3": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge metal=72",
        "i3en": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 24xlarge metal=96",
        "i4i": _M6I + " metal=128",
        "i4g": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
        "d2": "xlarge 2xlarge 4xlarge 8xlarge=36",
        "d3": "xlarge 2xlarge 4xlarge 8xlarge",
        "d3en": "xlarge 2xlarge 4xlarge 6xlarge 8xlarge 12xlarge",
        "h1": "2xlarge 4xlarge 8xlarge 16xlarge",
        "z1d": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge metal=48",
    },
    "F": {"f1": "2xlarge 4xlarge 16xlarge"},
    "G and VT": {
        "g3": "4xlarge 8xlarge 16xlarge",
        "g3s": "xlarge",
        "g4dn": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal=96",
        "g4ad": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
        "g5": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
        "g5g": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge metal=64",
        "g6": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
        "vt1": "3xlarge 6xlarge 24xlarge",
    },
    "Inf": {"inf1": "xlarge 2xlarge 6xlarge 24xlarge", "inf2": "xlarge 8xlarge 24xlarge 48xlarge"},
    "P": {
        "p2": "xlarge 8xlarge 16xlarge",
        "p3": "2xlarge 8xlarge 16xlarge",
        "p3dn": "24xlarge",
        "p4d": "24xlarge",
        "p5": "48xlarge",
    },
    "X": {
        "x1": "16xlarge 32xlarge",
        "x1e": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge",
        "x2idn": "16xlarge 24xlarge 32xlarge metal=128",
        "x2iedn": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge 32xlarge metal=128",
        "x2iezn": "2xlarge 4xlarge 6xlarge 8xlarge 12xlarge metal=48",
    },
    "DL": {"dl1": "24xlarge"},
    "Trn": {"trn1": "2xlarge 32xlarge", "trn1n": "32xlarge"},
    "High Memory": {
        "u-6tb1": "56xlarge 112xlarge metal=448",
        "u-9tb1": "112xlarge metal=448",
        "u-12tb1": "112xlarge metal=448",
    },
    "HPC": {
        "hpc6a": "48xlarge=96",
        "hpc6id": "32xlarge=64",
        "hpc7a": "12xlarge=24 24xlarge=48 48xlarge=96 96xlarge=192",
        "hpc7g": "4xlarge=64 8xlarge=64 16xlarge=64",
    },
}

_LADDER = re.compile(r"(?:(\d+)?xlarge|metal-(\d+)xl)")
_BUCKET_PREFIXES = (("u", "High Memory"), ("hpc", "HPC"), ("inf", "Inf"), ("trn", "Trn"), ("dl", "DL"))
_BUCKET_LETTERS = {"f": "F", "g": "G and VT", "v": "G and VT", "p": "P", "x": "X"}
NO_QUOTA = ""  # the bucket of instances no On-Demand vCPU quota counts (Mac instances, on Dedicated Hosts)


def _ladder(size: str) -> int:
    if size == "large":
        return 2
    match = _LADDER.fullmatch(size)
    if match is None:
        raise ValueError(f"size {size!r} needs its vCPUs given")
    return 4 * int(match.group(1) or match.group(2) or 1)


def bucket_of(family: str) -> str:
    """The quota bucket of an instance family, by the letters AWS names the buckets with."""
    if family.startswith("mac"):
        return NO_QUOTA
    for prefix, bucket in _BUCKET_PREFIXES:
        if family.startswith(prefix):
            return bucket
    return _BUCKET_LETTERS.get(family[:1], STANDARD)


@dataclass(frozen=True)
class InstanceKind:
    name: str
    bucket: str
    vcpus: int


def _table() -> dict[str, InstanceKind]:
    kinds: dict[str, InstanceKind] = {}
    for bucket, families in _FAMILIES.items():
        for family, sizes in families.items():
            for entry in sizes.split():
                size, _, given = entry.partition("=")
                name = f"{family}.{size}"
                kinds[name] = InstanceKind(name, bucket, int(given) if given else _ladder(size))
    return kinds


INSTANCE_TYPES = _table()


@cache
def offered() -> dict[str, list[str]]:
    """Every instance type EC2 has, from botocore's model: family -> sizes."""
    families: dict[str, list[str]] = {}
    for name in service_model("ec2").shape_for("InstanceType").enum:
        family, _, size = name.partition(".")
        families.setdefault(family, []).append(size)
    return families


@cache
def _by_rule(name: str) -> InstanceKind:
    """A type the table leaves out: vCPUs by the size ladder; nano, micro and small have 2 (as in every
    burstable family since T3), medium 1 (one core, as in the Graviton and 7th-generation AMD families),
    metal the vCPUs of the family's largest size (the whole host), and HPC sizes half the ladder."""
    family, _, size = name.partition(".")
    bucket = bucket_of(family)
    if bucket == NO_QUOTA:
        return InstanceKind(name, bucket, 0)
    if size in ("nano", "micro", "small"):
        return InstanceKind(name, bucket, 2)
    if size == "medium":
        return InstanceKind(name, bucket, 1)
    if size == "metal":
        sized = [_ladder(s) for s in offered().get(family, []) if s != "metal" and _LADDER.fullmatch(s)]
        return InstanceKind(name, bucket, max(sized, default=0))
    if bucket == "HPC":  # HPC instances run one thread per core: half the ladder
        return InstanceKind(name, bucket, _ladder(size) // 2)
    return InstanceKind(name, bucket, _ladder(size))


def instance_kind(name: str) -> InstanceKind:
    """The bucket and vCPUs of an instance type; InvalidParameterValue for a type EC2 does not have."""
    kind = INSTANCE_TYPES.get(name)
    if kind is not None:
        return kind
    family, dot, size = name.partition(".")
    if not dot or size not in offered().get(family, ()):
        raise InvalidParameterValue(f"Invalid value '{name}' for InstanceType.")
    return _by_rule(name)


def _refusal(limit: int) -> VcpuLimitExceeded:
    return VcpuLimitExceeded(
        f"You have requested more vCPU capacity than your current vCPU limit of {limit} allows for the "
        "instance bucket that the specified instance type belongs to. Please visit "
        "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."
    )


def _hold(tx: Tx, account: str, region: str) -> None:
    """Wait for, then hold until commit, the account's quota row in `region`: rewriting it takes its row lock
    (PostgreSQL runs READ COMMITTED, so without it two launches could both count the same free vCPUs;
    SQLite serializes writers anyway)."""
    if tx.get(account, LOCK_KIND, region) is None:
        try:
            tx.insert(account, LOCK_KIND, region, {"Region": region})
            return
        except Conflict:  # another launch made the row first, and has committed: lock it below
            pass
    tx.update(account, LOCK_KIND, region, {"Region": region})


def _used(tx: Tx, account: str, region: str) -> Counter[str]:
    """vCPUs held per bucket by the account's pending and running instances in `region`."""
    used: Counter[str] = Counter()
    for doc in tx.list(account, INSTANCE):
        if doc.get("Region") == region and doc["State"] in USING_VCPUS:
            kind = _kind_of(doc)
            if kind is not None:
                used[kind.bucket] += kind.vcpus
    return used


def _kind_of(doc: dict[str, Any]) -> InstanceKind | None:
    """A stored instance's kind; None for a type no longer known (an older botocore's), which counts nothing
    rather than stopping every launch."""
    try:
        return instance_kind(doc["InstanceType"])
    except InvalidParameterValue:
        return None


def launchable(ctx: OpContext, kind: InstanceKind, low: int, high: int) -> int:
    """How many instances of `kind` RunInstances launches for MinCount `low`, MaxCount `high`: as many as
    fit, up to `high`; VcpuLimitExceeded when not even `low` fit. Holds the quota row until commit."""
    if kind.bucket == NO_QUOTA or not kind.vcpus:
        return high
    limit = ctx.config.ec2_vcpu_limit
    _hold(ctx.tx, ctx.account, ctx.region)
    free = limit - _used(ctx.tx, ctx.account, ctx.region)[kind.bucket]
    fit = min(high, max(free, 0) // kind.vcpus)
    if fit < low:
        raise _refusal(limit)
    return fit


def check_start(ctx: OpContext, docs: Iterable[dict[str, Any]]) -> None:
    """Refuse (VcpuLimitExceeded) starting these stopped instances when their vCPUs do not all fit."""
    wanted: Counter[str] = Counter()
    for doc in docs:
        kind = _kind_of(doc)
        if kind is not None and kind.bucket != NO_QUOTA:
            wanted[kind.bucket] += kind.vcpus
    if not wanted:
        return
    limit = ctx.config.ec2_vcpu_limit
    _hold(ctx.tx, ctx.account, ctx.region)
    used = _used(ctx.tx, ctx.account, ctx.region)
    if any(used[bucket] + vcpus > limit for bucket, vcpus in wanted.items()):
        raise _refusal(limit)
