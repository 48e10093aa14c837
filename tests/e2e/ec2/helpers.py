"""Shared steps of the EC2 / instance-metadata end-to-end tests."""

from __future__ import annotations

import http.client
import json
import uuid
from dataclasses import dataclass

AMI = "ami-0123456789abcdef0"
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc) -> str:
    return exc.value.response["Error"]["Message"]


def make_profile(srv, role_policy: str | None = None, trust: str = EC2_TRUST) -> tuple[dict, dict]:
    """A role EC2 may assume, in an instance profile of its own: (role, profile)."""
    iam = srv.client("iam")
    name = f"r-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    if role_policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=role_policy)
    profile = iam.create_instance_profile(InstanceProfileName=f"p-{name}")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
    return role, profile


def launch(srv, profile: dict | None = None, ec2=None, **kw) -> dict:
    ec2 = ec2 or srv.client("ec2")
    if profile is not None:
        kw["IamInstanceProfile"] = {"Arn": profile["Arn"]}
    return ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, **kw)["Instances"][0]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


def imds(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    """One request to a metadata endpoint, exactly as given (no client-side defaults added)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("latin-1")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def token(port: int, ttl: int = 21600) -> str:
    answer = imds(port, "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
    assert answer.status == 200, answer
    return answer.text


def instance_credentials(srv, instance_id: str) -> dict:
    """The credentials the instance's metadata endpoint hands out now (IMDSv2)."""
    port = srv.pipeline.services["ec2"].imds.port_of(instance_id)
    t = token(port)
    headers = {"X-aws-ec2-metadata-token": t}
    role = imds(port, "/latest/meta-data/iam/security-credentials/", headers=headers)
    assert role.status == 200, role
    answer = imds(port, f"/latest/meta-data/iam/security-credentials/{role.text}", headers=headers)
    assert answer.status == 200, answer
    return answer.json()


def client_with(srv, service: str, creds: dict):
    return srv.client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"])


def make_user(srv, policy: str) -> dict:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    return iam.create_access_key(UserName=name)["AccessKey"]


def as_user(srv, key: dict, service: str = "ec2"):
    return srv.client(service, key["AccessKeyId"], key["SecretAccessKey"])
