"""What the tests that keep the README honest share: its text, and the user's own resources it creates."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.servers import Server

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"


def section(heading: str) -> str:
    """The README's text from `heading` (a whole line, e.g. "## Using it") to the next heading of its level."""
    text = README.read_text()
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    end = re.search(rf"\n{level} ", text[start + 1 :])
    return text[start : start + 1 + end.start()] if end else text[start:]


def code_blocks(text: str, info: str = "") -> list[str]:
    """The fenced code blocks of `text` whose info string is `info` ("" for plain ```), in order."""
    blocks: list[tuple[str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            if not inside:
                blocks.append((line[3:].strip(), []))
            inside = not inside
        elif inside:
            blocks[-1][1].append(line)
    return ["".join(f"{line}\n" for line in lines) for kind, lines in blocks if kind == info]


def console_sample(heading: str, prompt: str) -> list[str]:
    """The output lines shown after the line `$ {prompt}...` in a plain code block of a README section."""
    for block in code_blocks(section(heading)):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if line.startswith(f"$ {prompt}"):
                return lines[i + 1 :]
    raise AssertionError(f"no `$ {prompt}` block under {heading!r}")


# What differs between runs: ids, request ids, log stream names, timings.
VARIABLE = [
    (re.compile(r"\bi-[0-9a-f]{17}\b"), "i-ID"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "UUID"),
    (re.compile(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}"), "STREAM"),
    (re.compile(r"\d+(\.\d+)? (ms|MB)\b"), r"N \2"),
]


def normalise(lines: list[str]) -> list[str]:
    """Lines with what varies between runs replaced, and runs of whitespace (tabs included) as one space."""
    out = []
    for line in lines:
        for pattern, replacement in VARIABLE:
            line = pattern.sub(replacement, line)
        out.append(" ".join(line.split()))
    return out


# -- the README's own instance role ("Instance roles"), which the examples must leave alone -----------------

README_ROLE = "S3-Read-Role"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def create_readme_instance_role(srv: Server) -> str:
    """What "Instance roles" has a user create: S3-Read-Role, its profile, and an instance; the instance id."""
    iam, ec2 = srv.client("iam"), srv.client("ec2")
    iam.create_role(RoleName=README_ROLE, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.attach_role_policy(RoleName=README_ROLE, PolicyArn=S3_READ_ONLY)
    iam.create_instance_profile(InstanceProfileName=README_ROLE)
    iam.add_role_to_instance_profile(InstanceProfileName=README_ROLE, RoleName=README_ROLE)
    iid = ec2.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": README_ROLE},
        MetadataOptions={"HttpTokens": "required"},
    )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return iid


def assert_readme_instance_role_intact(srv: Server, iid: str) -> None:
    """The user's role, its policy, its profile and its instance are as created, and the instance works."""
    iam, ec2 = srv.client("iam"), srv.client("ec2")
    role = iam.get_role(RoleName=README_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"] == EC2_TRUST
    attached = iam.list_attached_role_policies(RoleName=README_ROLE)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [S3_READ_ONLY]
    assert iam.list_role_policies(RoleName=README_ROLE)["PolicyNames"] == []
    profile = iam.get_instance_profile(InstanceProfileName=README_ROLE)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [README_ROLE]
    instance = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running"
    assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"]
    # The instance still gets its role's credentials from its metadata endpoint.
    check = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
    where = ("--endpoint-url", srv.url, "--data-dir", str(srv.data_dir))
    ran = srv.rolecall("ec2", "exec", iid, *where, "--", sys.executable, "-c", check)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout == f"arn:aws:sts::{srv.account}:assumed-role/{README_ROLE}/{iid}\n"
