"""The EC2 API against a real server with boto3: instances, states, profile associations, PassRole."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ec2_helpers import AMI, EC2_TRUST, code, doc, launch, make_profile, message
from tests.servers import InProcessServer, create_pg_database, drop_pg_database, postgres_available

ACCOUNT = "123456789012"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def srv(tmp_path_factory, request):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = InProcessServer(tmp_path_factory.mktemp("ec2"), database_url=url).start()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


def make_user(srv, policy: str) -> dict:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    return iam.create_access_key(UserName=name)["AccessKey"]


def as_user(srv, key: dict, service: str = "ec2"):
    return srv.client(service, key["AccessKeyId"], key["SecretAccessKey"])


def test_launch_describe_and_state_changes(srv):
    ec2 = srv.client("ec2")
    _, profile = make_profile(srv)
    run = ec2.run_instances(
        ImageId=AMI,
        InstanceType="t3.micro",
        MinCount=2,
        MaxCount=2,
        IamInstanceProfile={"Name": profile["InstanceProfileName"]},
        MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "web"}]}],
        UserData="echo hello",
    )
    assert run["OwnerId"] == ACCOUNT and run["ReservationId"].startswith("r-")
    first, second = run["Instances"]
    assert first["State"] == {"Code": 0, "Name": "pending"}
    assert first["InstanceId"].startswith("i-") and len(first["InstanceId"]) == 19
    assert first["IamInstanceProfile"] == {"Arn": profile["Arn"], "Id": profile["InstanceProfileId"]}
    assert first["PrivateIpAddress"] != second["PrivateIpAddress"]
    assert first["PrivateIpAddress"].startswith("10.0.")
    assert first["MetadataOptions"]["HttpTokens"] == "required"
    assert first["MetadataOptions"]["HttpPutResponseHopLimit"] == 2

    ids = [first["InstanceId"], second["InstanceId"]]
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert [r["ReservationId"] for r in described] == [run["ReservationId"]]
    assert {i["State"]["Name"] for i in described[0]["Instances"]} == {"running"}
    assert described[0]["Instances"][0]["Tags"] == [{"Key": "app", "Value": "web"}]

    stopped = ec2.stop_instances(InstanceIds=[first["InstanceId"]])["StoppingInstances"][0]
    assert (stopped["PreviousState"]["Name"], stopped["CurrentState"]["Name"]) == ("running", "stopping")
    got = ec2.describe_instances(InstanceIds=[first["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert got["State"] == {"Code": 80, "Name": "stopped"}
    assert got["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    started = ec2.start_instances(InstanceIds=[first["InstanceId"]])["StartingInstances"][0]
    assert (started["PreviousState"]["Name"], started["CurrentState"]["Name"]) == ("stopped", "pending")

    gone = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {c["CurrentState"]["Name"] for c in gone} == {"shutting-down"}
    after = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"]
    assert {i["State"]["Name"] for i in after} == {"terminated"}
    assert all("IamInstanceProfile" not in i for i in after)
    with pytest.raises(ClientError) as exc:
        ec2.start_instances(InstanceIds=[first["InstanceId"]])
    assert code(exc) == "IncorrectInstanceState"
    # Termination ended the association launching made.
    assocs = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [first["InstanceId"]]}]
    )["IamInstanceProfileAssociations"]
    assert [a["State"] for a in assocs] == ["disassociated"]


def test_describe_filters_and_pages(srv):
    ec2 = srv.client("ec2")
    _, profile = make_profile(srv)
    tag = uuid.uuid4().hex[:8]
    tagged = [{"ResourceType": "instance", "Tags": [{"Key": "batch", "Value": tag}]}]
    with_profile = launch(srv, profile, TagSpecifications=tagged)
    plain = launch(srv, TagSpecifications=tagged)
    by_tag = [{"Name": "tag:batch", "Values": [tag]}]

    def ids(filters, **kw):
        out = ec2.describe_instances(Filters=filters, **kw)
        return {i["InstanceId"] for r in out["Reservations"] for i in r["Instances"]}

    assert ids(by_tag) == {with_profile["InstanceId"], plain["InstanceId"]}
    assert ids([*by_tag, {"Name": "iam-instance-profile.arn", "Values": [profile["Arn"]]}]) == {
        with_profile["InstanceId"]
    }
    assert ids([{"Name": "instance-id", "Values": [plain["InstanceId"]]}]) == {plain["InstanceId"]}
    assert ids([*by_tag, {"Name": "tag-key", "Values": ["bat*"]}]) == ids(by_tag)
    ec2.stop_instances(InstanceIds=[plain["InstanceId"]])
    assert ids([*by_tag, {"Name": "instance-state-name", "Values": ["stopped"]}]) == {plain["InstanceId"]}
    with pytest.raises(ClientError) as exc:
        ec2.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert code(exc) == "InvalidParameterValue"

    pages = list(
        ec2.get_paginator("describe_instances").paginate(Filters=by_tag, PaginationConfig={"PageSize": 5})
    )
    assert sum(len(r["Instances"]) for p in pages for r in p["Reservations"]) == 2
    with pytest.raises(ClientError) as exc:
        ec2.describe_instances(InstanceIds=[plain["InstanceId"]], MaxResults=5)
    assert code(exc) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as exc:
        ec2.describe_instances(InstanceIds=["i-0000000000000dead"])
    assert (code(exc), message(exc)) == (
        "InvalidInstanceID.NotFound",
        "The instance ID 'i-0000000000000dead' does not exist",
    )
    with pytest.raises(ClientError) as exc:
        ec2.describe_instances(InstanceIds=["bogus"])
    assert code(exc) == "InvalidInstanceID.Malformed"
    # Instances live in the region they were launched in.
    other = srv.session().client("ec2", region_name="eu-west-1", endpoint_url=srv.url)
    assert other.describe_instances(Filters=by_tag)["Reservations"] == []


def test_launch_errors(srv):
    ec2 = srv.client("ec2")
    with pytest.raises(ClientError) as exc:
        launch(srv, IamInstanceProfile={"Name": "no-such-profile"})
    assert (code(exc), message(exc)) == (
        "InvalidParameterValue",
        "Value (no-such-profile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
    )
    arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/nope"
    with pytest.raises(ClientError) as exc:
        launch(srv, IamInstanceProfile={"Arn": arn})
    assert (
        message(exc)
        == f"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
    )
    with pytest.raises(ClientError) as exc:
        ec2.run_instances(ImageId="not-an-ami", MinCount=1, MaxCount=1)
    assert code(exc) == "InvalidAMIID.Malformed"
    with pytest.raises(ClientError) as exc:
        launch(srv, MetadataOptions={"HttpPutResponseHopLimit": 65})
    assert code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        launch(srv, DryRun=True)
    assert code(exc) == "DryRunOperation"


def test_associations_one_per_instance_and_replace(srv):
    ec2 = srv.client("ec2")
    _, first = make_profile(srv)
    _, second = make_profile(srv)
    instance = launch(srv)
    iid = instance["InstanceId"]
    assoc = ec2.associate_iam_instance_profile(
        IamInstanceProfile={"Name": first["InstanceProfileName"]}, InstanceId=iid
    )["IamInstanceProfileAssociation"]
    assert assoc["State"] == "associating" and assoc["AssociationId"].startswith("iip-assoc-")
    with pytest.raises(ClientError) as exc:
        ec2.associate_iam_instance_profile(IamInstanceProfile={"Arn": second["Arn"]}, InstanceId=iid)
    assert (code(exc), message(exc)) == (
        "IncorrectState",
        f"There is an existing association for instance {iid}",
    )

    listed = ec2.describe_iam_instance_profile_associations(AssociationIds=[assoc["AssociationId"]])
    assert listed["IamInstanceProfileAssociations"][0]["State"] == "associated"

    replaced = ec2.replace_iam_instance_profile_association(
        IamInstanceProfile={"Arn": second["Arn"]}, AssociationId=assoc["AssociationId"]
    )["IamInstanceProfileAssociation"]
    assert replaced["State"] == "associating" and replaced["AssociationId"] != assoc["AssociationId"]
    assert replaced["IamInstanceProfile"]["Arn"] == second["Arn"]
    shown = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert shown["IamInstanceProfile"]["Arn"] == second["Arn"]
    states = {
        a["AssociationId"]: a["State"]
        for a in ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [iid]}]
        )["IamInstanceProfileAssociations"]
    }
    assert states == {assoc["AssociationId"]: "disassociated", replaced["AssociationId"]: "associated"}

    with pytest.raises(ClientError) as exc:  # the replaced association is over
        ec2.disassociate_iam_instance_profile(AssociationId=assoc["AssociationId"])
    assert code(exc) == "InvalidAssociationID.NotFound"
    gone = ec2.disassociate_iam_instance_profile(AssociationId=replaced["AssociationId"])[
        "IamInstanceProfileAssociation"
    ]
    assert gone["State"] == "disassociating"
    assert (
        "IamInstanceProfile"
        not in ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    )
    with pytest.raises(ClientError) as exc:
        ec2.describe_iam_instance_profile_associations(AssociationIds=["iip-assoc-0000000000000dead"])
    assert code(exc) == "InvalidAssociationID.NotFound"


def test_one_role_per_profile(srv):
    iam = srv.client("iam")
    _, profile = make_profile(srv)
    other = iam.create_role(RoleName=f"r2-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=EC2_TRUST)
    with pytest.raises(ClientError) as exc:
        iam.add_role_to_instance_profile(
            InstanceProfileName=profile["InstanceProfileName"], RoleName=other["Role"]["RoleName"]
        )
    assert (code(exc), message(exc)) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    )


def test_pass_role_refusal_is_unauthorized_operation_with_a_decodable_message(srv):
    role, profile = make_profile(srv)
    ec2_only = doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
    key = make_user(srv, ec2_only)
    ec2 = as_user(srv, key)
    with pytest.raises(ClientError) as exc:
        launch(srv, profile, ec2=ec2)
    assert code(exc) == "UnauthorizedOperation"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    text = message(exc)
    assert text.startswith("You are not authorized to perform this operation. ")
    assert f"iam:PassRole on resource: {role['Arn']}" in text
    encoded = text.split("Encoded authorization failure message: ", 1)[1]

    decoded = json.loads(
        srv.client("sts").decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    )
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "iam:PassRole"
    assert decoded["context"]["resource"] == role["Arn"]
    conditions = {
        c["key"]: [v["value"] for v in c["values"]["items"]]
        for c in decoded["context"]["conditions"]["items"]
    }
    assert conditions["iam:PassedToService"] == ["ec2.amazonaws.com"]

    # The user may not decode it: that needs sts:DecodeAuthorizationMessage.
    with pytest.raises(ClientError) as exc:
        as_user(srv, key, "sts").decode_authorization_message(EncodedMessage=encoded)
    assert code(exc) == "AccessDenied"

    # Associating a profile later is passing the role too.
    instance = launch(srv, ec2=ec2)
    with pytest.raises(ClientError) as exc:
        ec2.associate_iam_instance_profile(
            IamInstanceProfile={"Arn": profile["Arn"]}, InstanceId=instance["InstanceId"]
        )
    assert code(exc) == "UnauthorizedOperation"

    # PassRole limited to EC2 is enough.
    can_pass = doc(
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role["Arn"],
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        },
    )
    passer = as_user(srv, make_user(srv, can_pass))
    assert launch(srv, profile, ec2=passer)["IamInstanceProfile"]["Arn"] == profile["Arn"]
    passer.associate_iam_instance_profile(
        IamInstanceProfile={"Arn": profile["Arn"]}, InstanceId=instance["InstanceId"]
    )


def test_ec2_actions_are_authorized_on_instance_arns(srv):
    mine = launch(
        srv, TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "owner", "Value": "me"}]}]
    )
    theirs = launch(srv)
    policy = doc(
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "ec2:StopInstances",
            "Resource": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{mine['InstanceId']}",
        },
        {
            "Effect": "Allow",
            "Action": "ec2:ModifyInstanceMetadataOptions",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:ResourceTag/owner": "me"}},
        },
    )
    ec2 = as_user(srv, make_user(srv, policy))
    ec2.stop_instances(InstanceIds=[mine["InstanceId"]])
    with pytest.raises(ClientError) as exc:
        ec2.stop_instances(InstanceIds=[theirs["InstanceId"]])
    assert code(exc) == "UnauthorizedOperation"
    assert (
        f"ec2:StopInstances on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{theirs['InstanceId']}"
        in message(exc)
    )
    ec2.modify_instance_metadata_options(InstanceId=mine["InstanceId"], HttpTokens="required")
    with pytest.raises(ClientError) as exc:
        ec2.modify_instance_metadata_options(InstanceId=theirs["InstanceId"], HttpTokens="required")
    assert code(exc) == "UnauthorizedOperation"
    with pytest.raises(ClientError) as exc:  # a dry run answers whether the call would be allowed
        ec2.stop_instances(InstanceIds=[theirs["InstanceId"]], DryRun=True)
    assert code(exc) == "UnauthorizedOperation"
    with pytest.raises(ClientError) as exc:
        ec2.stop_instances(InstanceIds=[mine["InstanceId"]], DryRun=True)
    assert code(exc) == "DryRunOperation"


def test_modify_metadata_options(srv):
    ec2 = srv.client("ec2")
    iid = launch(srv)["InstanceId"]
    out = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required", HttpEndpoint="disabled")
    assert out["InstanceMetadataOptions"]["State"] == "pending"
    options = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert (options["State"], options["HttpTokens"], options["HttpEndpoint"]) == (
        "applied",
        "required",
        "disabled",
    )
    with pytest.raises(ClientError) as exc:
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=0)
    assert code(exc) == "InvalidParameterValue"


def test_trail_records_ec2_calls(srv):
    iid = launch(srv)["InstanceId"]
    srv.pipeline.trail.flush()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "RunInstances"}]
    )["Events"]
    recs = [json.loads(e["CloudTrailEvent"]) for e in events]
    rec = next(r for r in recs if iid in json.dumps(r.get("responseElements")))
    assert rec["eventSource"] == "ec2.amazonaws.com"
    assert rec["resources"][0]["ARN"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{iid}"


def test_unimplemented_instance_settings_are_refused(srv):
    ec2 = srv.client("ec2")
    # Values that describe what rolecall's instances are anyway are accepted.
    instance = launch(
        srv, DisableApiTermination=False, Monitoring={"Enabled": False}, Placement={"Tenancy": "default"}
    )
    for settings, member in (
        ({"DisableApiTermination": True}, "DisableApiTermination"),
        ({"SubnetId": "subnet-0123456789abcdef0"}, "SubnetId"),
        ({"Placement": {"Tenancy": "dedicated"}}, "Placement.Tenancy"),
    ):
        with pytest.raises(ClientError) as exc:
            launch(srv, **settings)
        assert code(exc) == "NotImplemented"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert f"the member {member} of RunInstances" in message(exc)
    with pytest.raises(ClientError) as exc:
        ec2.stop_instances(InstanceIds=[instance["InstanceId"]], Hibernate=True)
    assert code(exc) == "NotImplemented"
    state = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"  # the refused request changed nothing
    ec2.stop_instances(InstanceIds=[instance["InstanceId"]], Hibernate=False, Force=False)
