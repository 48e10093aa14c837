"""On-Demand vCPU quotas as EC2 enforces them: per account, Region and instance bucket, on RunInstances
(MinCount / MaxCount) and on StartInstances, with AWS's errors; stopped instances hold no vCPUs."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from rolecall.core.config import ServerConfig
from rolecall.credentials.accounts import create_account
from rolecall.services.ec2.quotas import INSTANCE_TYPES, bucket_of, instance_kind, offered
from tests.e2e.ec2.helpers import AMI, code, message
from tests.servers import InProcessServer, create_pg_database, drop_pg_database, postgres_available

ACCOUNT = "123456789012"


def refusal(limit: int) -> str:
    return (
        f"You have requested more vCPU capacity than your current vCPU limit of {limit} allows for the "
        "instance bucket that the specified instance type belongs to. Please visit "
        "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(tmp_path_factory, request):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = InProcessServer(tmp_path_factory.mktemp("quotas"), database_url=url).start()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


@pytest.fixture
def limit(srv):
    """The server's limit, restored after the test (tests that change it say so)."""
    before = srv.config.ec2_vcpu_limit
    yield before
    srv.config.ec2_vcpu_limit = before


# Each test works in a Region of its own: quotas are per Region, so the tests cannot crowd each other.
def ec2_in(srv, region: str):
    return srv.session().client("ec2", region_name=region, endpoint_url=srv.url)


def run(ec2, instance_type: str, low: int = 1, high: int | None = None, **kw) -> list[dict]:
    return ec2.run_instances(
        ImageId=AMI, InstanceType=instance_type, MinCount=low, MaxCount=high or low, **kw
    )["Instances"]


def ids_in(ec2) -> dict[str, str]:
    """Every instance of the Region: id -> state."""
    reservations = ec2.describe_instances()["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}


def test_the_default_limit_is_32_vcpus_per_bucket(srv):
    assert ServerConfig.ec2_vcpu_limit == 32 and srv.config.ec2_vcpu_limit == 32


def test_a_launch_that_does_not_fit_is_refused_and_launches_nothing(srv, limit):
    ec2 = ec2_in(srv, "eu-west-1")
    first = run(ec2, "c5.4xlarge", 2)  # 2 x 16 vCPUs: the whole Standard limit of 32
    assert len(first) == 2
    with pytest.raises(ClientError) as exc:
        run(ec2, "t3.nano")  # 2 more vCPUs
    assert (code(exc), message(exc)) == ("VcpuLimitExceeded", refusal(32))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert set(ids_in(ec2)) == {i["InstanceId"] for i in first}

    ec2.terminate_instances(InstanceIds=[first[0]["InstanceId"]])  # frees 16 vCPUs
    with pytest.raises(ClientError) as exc:
        run(ec2, "m5.2xlarge", 3)  # MinCount 3 x 8 = 24 > 16: none is launched, not two
    assert code(exc) == "VcpuLimitExceeded"
    assert len(ids_in(ec2)) == 2
    assert len(run(ec2, "m5.2xlarge", 2)) == 2  # 2 x 8 = 16 fits exactly


def test_max_count_launches_as_many_as_fit(srv, limit):
    ec2 = ec2_in(srv, "eu-west-2")
    launched = run(ec2, "m5.xlarge", 1, 20)  # 4 vCPUs each: 8 fit in 32
    assert len(launched) == 8
    assert [i["AmiLaunchIndex"] for i in launched] == list(range(8))
    assert len({i["InstanceId"] for i in launched}) == 8
    with pytest.raises(ClientError) as exc:
        run(ec2, "t2.micro", 1, 5)
    assert code(exc) == "VcpuLimitExceeded"
    assert len(ids_in(ec2)) == 8


def test_buckets_and_regions_have_quotas_of_their_own(srv, limit):
    ec2 = ec2_in(srv, "eu-west-3")
    run(ec2, "m5.8xlarge")  # 32 vCPUs: Standard is full
    run(ec2, "g4dn.8xlarge")  # 32 vCPUs of G and VT
    run(ec2, "p3.8xlarge")  # 32 vCPUs of P
    for full in ("t2.nano", "g4dn.xlarge", "p3.2xlarge"):
        with pytest.raises(ClientError) as exc:
            run(ec2, full)
        assert code(exc) == "VcpuLimitExceeded", full
    run(ec2, "inf1.xlarge")  # Inf is still empty
    run(ec2_in(srv, "eu-north-1"), "m5.8xlarge")  # another Region: its own 32 Standard vCPUs
    other = create_account(srv.store, srv.config.secret_box, None)  # another account: its own quotas
    theirs = srv.session(other.access_key_id, other.secret_access_key).client(
        "ec2", region_name="eu-west-3", endpoint_url=srv.url
    )
    run(theirs, "m5.8xlarge")
    assert len(ids_in(ec2)) == 4 and len(ids_in(theirs)) == 1


def test_stopped_instances_hold_no_vcpus_and_starting_one_must_fit(srv, limit):
    ec2 = ec2_in(srv, "ca-central-1")
    big = run(ec2, "m5.8xlarge")[0]["InstanceId"]  # 32 vCPUs
    ec2.stop_instances(InstanceIds=[big])
    small = [i["InstanceId"] for i in run(ec2, "m5.4xlarge", 2)]  # 2 x 16: fits while `big` is stopped
    with pytest.raises(ClientError) as exc:
        ec2.start_instances(InstanceIds=[big])
    assert (code(exc), message(exc)) == ("VcpuLimitExceeded", refusal(32))
    assert ids_in(ec2)[big] == "stopped"
    assert srv.pipeline.services["ec2"].imds.port_of(big) is None

    # Several at once: all of them must fit, or none starts.
    ec2.stop_instances(InstanceIds=small)
    ec2.start_instances(InstanceIds=[big])
    with pytest.raises(ClientError) as exc:
        ec2.start_instances(InstanceIds=small)
    assert code(exc) == "VcpuLimitExceeded"
    assert {ids_in(ec2)[i] for i in small} == {"stopped"}

    ec2.terminate_instances(InstanceIds=[big])  # terminated instances hold nothing either
    changes = ec2.start_instances(InstanceIds=small)["StartingInstances"]
    assert {c["CurrentState"]["Name"] for c in changes} == {"pending"}
    # Starting an instance that is already running asks for nothing more.
    assert ec2.start_instances(InstanceIds=small)["StartingInstances"][0]["CurrentState"]["Name"] == "running"


def test_the_limit_is_the_servers_setting(srv, limit):
    ec2 = ec2_in(srv, "ap-south-1")
    srv.config.ec2_vcpu_limit = 4
    with pytest.raises(ClientError) as exc:
        run(ec2, "m5.2xlarge")
    assert message(exc) == refusal(4)
    assert len(run(ec2, "m1.small", 1, 10)) == 4  # m1.small, EC2's default type, has 1 vCPU
    srv.config.ec2_vcpu_limit = 6
    default_type = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=5)["Instances"]
    assert [i["InstanceType"] for i in default_type] == ["m1.small", "m1.small"]


def test_an_instance_type_ec2_does_not_have_is_refused(srv, limit):
    ec2 = ec2_in(srv, "ap-northeast-1")
    for bad in ("t3.huge", "m5", "m5.", "t2.micro ", "M5.LARGE", "m99.large", "c4.16xlarge"):
        with pytest.raises(ClientError) as exc:
            run(ec2, bad)
        assert (code(exc), message(exc)) == (
            "InvalidParameterValue",
            f"Invalid value '{bad}' for InstanceType.",
        ), bad
    with pytest.raises(ClientError) as exc:  # parameters are checked before a dry run answers
        run(ec2, "t3.huge", DryRun=True)
    assert code(exc) == "InvalidParameterValue"
    assert ids_in(ec2) == {}


def test_a_dry_run_is_not_held_to_the_quota(srv, limit):
    ec2 = ec2_in(srv, "ap-northeast-2")
    with pytest.raises(ClientError) as exc:
        run(ec2, "m5.16xlarge", DryRun=True)  # 64 vCPUs
    assert code(exc) == "DryRunOperation"
    with pytest.raises(ClientError) as exc:
        run(ec2, "m5.16xlarge")
    assert code(exc) == "VcpuLimitExceeded"


def test_concurrent_launches_never_overshoot_the_quota(srv, limit):
    """Eight launches of 8 vCPUs race for 32: exactly four win, on SQLite and on PostgreSQL alike."""
    region = "sa-east-1"
    clients = [ec2_in(srv, region) for _ in range(8)]
    start = threading.Barrier(len(clients))
    outcomes: list[str] = []

    def launch(ec2) -> None:
        start.wait()
        try:
            run(ec2, "m5.2xlarge")
            outcomes.append("launched")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=launch, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["VcpuLimitExceeded"] * 4 + ["launched"] * 4
    assert len(ids_in(clients[0])) == 4


def test_vcpus_by_instance_type():
    expected = {
        "m1.small": ("Standard", 1),  # EC2's default instance type
        "t2.micro": ("Standard", 1),
        "t3.micro": ("Standard", 2),
        "t4g.nano": ("Standard", 2),
        "m5.large": ("Standard", 2),
        "m5.xlarge": ("Standard", 4),
        "m5.24xlarge": ("Standard", 96),
        "m5.metal": ("Standard", 96),
        "c4.8xlarge": ("Standard", 36),
        "c5.9xlarge": ("Standard", 36),
        "m6g.medium": ("Standard", 1),
        "m7a.medium": ("Standard", 1),
        "m7i.metal-48xl": ("Standard", 192),
        "z1d.3xlarge": ("Standard", 12),
        "i3.metal": ("Standard", 72),
        "f1.2xlarge": ("F", 8),
        "g5.xlarge": ("G and VT", 4),
        "vt1.3xlarge": ("G and VT", 12),
        "p4d.24xlarge": ("P", 96),
        "inf2.xlarge": ("Inf", 4),
        "trn1.32xlarge": ("Trn", 128),
        "x2iedn.xlarge": ("X", 4),
        "dl1.24xlarge": ("DL", 96),
        "u-6tb1.metal": ("High Memory", 448),
        "hpc7g.16xlarge": ("HPC", 64),  # hpc, not h: its own bucket
    }
    # Types the table leaves out follow EC2's size ladder (checked against the published figures).
    expected |= {
        "m8g.medium": ("Standard", 1),
        "c8g.24xlarge": ("Standard", 96),
        "r8g.metal-48xl": ("Standard", 192),
        "x2gd.metal": ("X", 64),  # metal: the family's largest size
        "g6e.xlarge": ("G and VT", 4),
        "trn2.3xlarge": ("Trn", 12),
        "p5e.48xlarge": ("P", 192),
        "u7i-12tb.224xlarge": ("High Memory", 896),
        "hpc8a.96xlarge": ("HPC", 192),  # one thread per core
        "mac2.metal": ("", 0),  # Dedicated Hosts only: no On-Demand vCPU quota
    }
    assert {name: (instance_kind(name).bucket, instance_kind(name).vcpus) for name in expected} == expected
    # The table holds only types EC2 has (botocore's model lists them), each in the bucket its name says.
    assert all(
        kind.vcpus > 0 and kind.name.split(".")[1] in offered()[kind.name.split(".")[0]]
        for kind in INSTANCE_TYPES.values()
    )
    assert all(bucket_of(name.split(".")[0]) == kind.bucket for name, kind in INSTANCE_TYPES.items())
