"""Each running instance's metadata endpoint: IMDSv1/IMDSv2 rules, metadata, and the role credentials it serves."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from rolecall.app import build_pipeline
from tests.e2e.ec2.helpers import (
    AMI,
    client_with,
    code,
    doc,
    imds,
    instance_credentials,
    launch,
    make_profile,
)
from tests.servers import InProcessServer

ACCOUNT = "123456789012"
LIST_ROLES = {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("imds")).start()
    yield s
    s.stop()


def port_of(srv, instance: dict) -> int:
    return srv.pipeline.services["ec2"].imds.port_of(instance["InstanceId"])


def test_metadata_paths(srv):
    _, profile = make_profile(srv)
    instance = launch(srv, profile, UserData="#!/bin/sh\necho hi\n")
    port = port_of(srv, instance)
    answer = imds(port, "/latest/meta-data/instance-id")
    assert (answer.status, answer.text) == (200, instance["InstanceId"])
    assert answer.headers["content-type"] == "text/plain"
    listing = imds(port, "/latest/meta-data/").text.split("\n")
    assert {
        "ami-id",
        "hostname",
        "iam/",
        "instance-id",
        "instance-type",
        "local-ipv4",
        "mac",
        "placement/",
    } <= set(listing)
    assert listing == sorted(listing)
    assert imds(port, "/latest/meta-data/iam").text == "info\nsecurity-credentials/"
    assert imds(port, "/latest/meta-data/local-ipv4").text == instance["PrivateIpAddress"]
    assert imds(port, "/latest/meta-data/ami-id").text == AMI
    assert imds(port, "/latest/meta-data/placement/availability-zone").text == "us-east-1a"
    assert imds(port, "/latest/meta-data/placement/region").text == "us-east-1"
    assert imds(port, "/latest/user-data").text == "#!/bin/sh\necho hi\n"
    identity = imds(port, "/latest/dynamic/instance-identity/document").json()
    assert (identity["instanceId"], identity["accountId"], identity["privateIp"]) == (
        instance["InstanceId"],
        ACCOUNT,
        instance["PrivateIpAddress"],
    )
    info = imds(port, "/latest/meta-data/iam/info").json()
    assert info["Code"] == "Success"
    assert (info["InstanceProfileArn"], info["InstanceProfileId"]) == (
        profile["Arn"],
        profile["InstanceProfileId"],
    )
    assert imds(port, "/latest/meta-data/no-such-thing").status == 404
    assert imds(port, "/latest/meta-data/instance-id/").status == 404
    assert imds(port, "/nope/meta-data/instance-id").status == 404


def test_imdsv2_token_rules(srv):
    instance = launch(srv, MetadataOptions={"HttpTokens": "required"})
    port = port_of(srv, instance)
    path = "/latest/meta-data/instance-id"
    assert imds(port, path).status == 401  # IMDSv1 refused when tokens are required
    for bad in ("0", "21601", "-5", "ten"):
        assert (
            imds(port, "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": bad}).status
            == 400
        )
    assert imds(port, "/latest/api/token", "PUT").status == 400
    assert (
        imds(port, "/2021-01-03/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}).status
        == 403
    )
    forwarded = {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "203.0.113.9"}
    assert imds(port, "/latest/api/token", "PUT", forwarded).status == 403

    issued = imds(port, "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "30"})
    assert issued.status == 200 and issued.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "30"
    good = imds(port, path, headers={"X-aws-ec2-metadata-token": issued.text})
    assert (good.status, good.text) == (200, instance["InstanceId"])
    assert imds(port, path, headers={"X-aws-ec2-metadata-token": issued.text + "x"}).status == 401
    assert (
        imds(
            port, path, headers={"X-aws-ec2-metadata-token": issued.text, "X-Forwarded-For": "10.1.1.1"}
        ).status
        == 403
    )

    # A token is bound to its instance.
    other = launch(srv)
    assert imds(port_of(srv, other), path, headers={"X-aws-ec2-metadata-token": issued.text}).status == 401

    # Tokens expire by the server's clock.
    srv.clock.advance(31)
    try:
        assert imds(port, path, headers={"X-aws-ec2-metadata-token": issued.text}).status == 401
    finally:
        srv.clock.advance(-31)


def test_optional_tokens_still_check_a_token_that_is_sent(srv):
    port = port_of(srv, launch(srv))
    assert imds(port, "/latest/meta-data/instance-id").status == 200
    assert (
        imds(port, "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": "forged"}).status
        == 401
    )


def test_disabled_endpoint_refuses_everything(srv):
    instance = launch(srv, MetadataOptions={"HttpEndpoint": "disabled"})
    port = port_of(srv, instance)
    assert imds(port, "/latest/meta-data/instance-id").status == 403
    assert (
        imds(port, "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}).status == 403
    )
    srv.client("ec2").modify_instance_metadata_options(
        InstanceId=instance["InstanceId"], HttpEndpoint="enabled"
    )
    assert imds(port, "/latest/meta-data/instance-id").status == 200


def test_credentials_are_the_roles_with_the_instance_as_session(srv):
    role, profile = make_profile(srv, doc(LIST_ROLES))
    instance = launch(srv, profile)
    creds = instance_credentials(srv, instance["InstanceId"])
    assert set(creds) == {
        "Code",
        "LastUpdated",
        "Type",
        "AccessKeyId",
        "SecretAccessKey",
        "Token",
        "Expiration",
    }
    assert (creds["Code"], creds["Type"]) == ("Success", "AWS-HMAC")
    assert creds["AccessKeyId"].startswith("ASIA")
    assert len(creds["Expiration"]) == 20 and creds["Expiration"].endswith("Z")
    ident = client_with(srv, "sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{instance['InstanceId']}"
    client_with(srv, "iam", creds).list_roles()
    with pytest.raises(ClientError) as exc:
        client_with(srv, "iam", creds).list_users()
    assert code(exc) == "AccessDenied"

    srv.pipeline.trail.flush()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
    )["Events"]
    recs = [json.loads(e["CloudTrailEvent"]) for e in events]
    assumed = next(
        r for r in recs if (r["requestParameters"] or {}).get("roleSessionName") == instance["InstanceId"]
    )
    assert assumed["userIdentity"] == {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    assert creds["SecretAccessKey"] not in json.dumps(recs)


def test_no_profile_no_credentials_and_untrusted_role(srv):
    port = port_of(srv, launch(srv))
    assert imds(port, "/latest/meta-data/iam/").status == 404
    assert imds(port, "/latest/meta-data/iam/security-credentials/").status == 404
    assert "iam/" not in imds(port, "/latest/meta-data/").text.split("\n")

    nobody = doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role, profile = make_profile(srv, trust=nobody)
    port = port_of(srv, launch(srv, profile))
    answer = imds(port, f"/latest/meta-data/iam/security-credentials/{role['RoleName']}")
    assert answer.status == 200
    failure = answer.json()
    assert failure["Code"] == "AssumeRoleUnauthorizedAccess"
    assert failure["Message"].startswith(f"EC2 cannot assume the role {role['RoleName']}.")
    assert "AccessKeyId" not in failure


def test_replace_and_disassociate_take_effect_on_the_next_request(srv):
    first_role, first = make_profile(srv)
    second_role, second = make_profile(srv)
    instance = launch(srv, profile=first)
    iid = instance["InstanceId"]
    port = port_of(srv, instance)
    listing = "/latest/meta-data/iam/security-credentials/"
    assert imds(port, listing).text == first_role["RoleName"]
    before = instance_credentials(srv, iid)

    ec2 = srv.client("ec2")
    assoc = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [iid]}]
    )["IamInstanceProfileAssociations"][0]
    replaced = ec2.replace_iam_instance_profile_association(
        IamInstanceProfile={"Arn": second["Arn"]}, AssociationId=assoc["AssociationId"]
    )["IamInstanceProfileAssociation"]
    assert imds(port, listing).text == second_role["RoleName"]
    assert imds(port, listing + first_role["RoleName"]).status == 404
    after = instance_credentials(srv, iid)
    assert (
        client_with(srv, "sts", after)
        .get_caller_identity()["Arn"]
        .endswith(f"/{second_role['RoleName']}/{iid}")
    )
    # The first role's credentials are not revoked: they run until they expire, as on AWS.
    assert (
        client_with(srv, "sts", before)
        .get_caller_identity()["Arn"]
        .endswith(f"/{first_role['RoleName']}/{iid}")
    )

    ec2.disassociate_iam_instance_profile(AssociationId=replaced["AssociationId"])
    assert imds(port, listing).status == 404
    assert imds(port, "/latest/meta-data/iam/info").status == 404


def test_one_instance_cannot_read_anothers_credentials(srv):
    role, profile = make_profile(srv)
    one, two = launch(srv, profile), launch(srv)
    two_port = port_of(srv, two)
    assert port_of(srv, one) != two_port
    assert imds(two_port, f"/latest/meta-data/iam/security-credentials/{role['RoleName']}").status == 404
    assert imds(two_port, "/latest/meta-data/instance-id").text == two["InstanceId"]


def test_a_policy_can_pin_the_role_to_one_instance(srv):
    role, profile = make_profile(srv)
    pinned, other = launch(srv, profile), launch(srv, profile)
    pinned_arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{pinned['InstanceId']}"
    srv.client("iam").put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="pinned",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {"ec2:SourceInstanceARN": pinned_arn},
                    "IpAddress": {"aws:Ec2InstanceSourcePrivateIPv4": "10.0.0.0/16"},
                },
            }
        ),
    )
    client_with(srv, "iam", instance_credentials(srv, pinned["InstanceId"])).list_roles()
    with pytest.raises(ClientError) as exc:
        client_with(srv, "iam", instance_credentials(srv, other["InstanceId"])).list_roles()
    assert code(exc) == "AccessDenied"
    assert f"assumed-role/{role['RoleName']}/{other['InstanceId']}" in exc.value.response["Error"]["Message"]


def test_role_delivery_follows_http_tokens(srv):
    role, profile = make_profile(
        srv,
        doc(
            {
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*",
                "Condition": {"NumericGreaterThanEquals": {"ec2:RoleDelivery": "2.0"}},
            }
        ),
    )
    v2 = launch(srv, profile, MetadataOptions={"HttpTokens": "required"})
    v1 = launch(srv, profile)
    v2_creds = instance_credentials(srv, v2["InstanceId"])
    client_with(srv, "iam", v2_creds).list_roles()
    with pytest.raises(ClientError):
        client_with(srv, "iam", instance_credentials(srv, v1["InstanceId"])).list_roles()
    srv.pipeline.trail.flush()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": v2_creds["AccessKeyId"]}]
    )["Events"]
    identity = json.loads(events[0]["CloudTrailEvent"])["userIdentity"]
    assert identity["sessionContext"]["ec2RoleDelivery"] == "2.0"


def test_stopped_and_terminated_instances_have_no_endpoint(srv):
    ec2 = srv.client("ec2")
    instance = launch(srv)
    iid = instance["InstanceId"]
    port = port_of(srv, instance)
    ec2.stop_instances(InstanceIds=[iid])
    assert srv.pipeline.services["ec2"].imds.port_of(iid) is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    ec2.start_instances(InstanceIds=[iid])
    assert imds(port_of(srv, instance), "/latest/meta-data/instance-id").text == iid
    port = port_of(srv, instance)
    ec2.terminate_instances(InstanceIds=[iid])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_concurrent_requests_share_one_set_of_credentials(srv):
    _, profile = make_profile(srv)
    iid = launch(srv, profile)["InstanceId"]
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: instance_credentials(srv, iid)["AccessKeyId"], range(16)))
    assert len(keys) == 1


def test_a_second_node_leaves_a_live_endpoint_to_the_node_serving_it(srv):
    _, profile = make_profile(srv)
    iid = launch(srv, profile)["InstanceId"]
    port = srv.pipeline.services["ec2"].imds.port_of(iid)
    second = build_pipeline(srv.store, srv.config, clock=srv.clock)  # another node starting on the same store
    try:
        assert second.services["ec2"].imds.port_of(iid) is None
        assert second.services["ec2"].imds.ensure(ACCOUNT, iid) == port
    finally:
        second.close()
    assert imds(port, "/latest/meta-data/instance-id").text == iid
