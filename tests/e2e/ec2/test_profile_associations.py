"""EC2 instance profile associations against a real server with boto3: associate, replace, disassociate,
describe, and the one role a profile holds."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ec2.helpers import EC2_TRUST, code, launch, make_profile, message


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
