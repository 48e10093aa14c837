"""The application on the instance in examples/s3_read_role_instance.py: plain boto3, no keys anywhere.

It is given no credentials: boto3's default chain finds none in the environment or in files, and falls
through to the instance's metadata service, which hands it the instance role's temporary credentials.
Run it "on" an instance with:

    rolecall ec2 exec INSTANCE_ID -- python examples/instance_app.py BUCKET KEY OTHER_BUCKET OTHER_KEY

It reads KEY from BUCKET, and shows what its role does not let it do: write to BUCKET, or read from
OTHER_BUCKET. Exit status 0 when its role allowed exactly that: the reads, and neither of the others.
"""

from __future__ import annotations

import sys

import boto3
from botocore.exceptions import ClientError


def attempt(label: str, call, show=lambda result: "", expect_allowed: bool = True) -> bool:
    """Run `call` and print one line saying whether the role allowed it; True when that was expected.

    A refusal counts as expected only when it is S3's AccessDenied (not, say, NoSuchBucket).
    """
    try:
        result = call()
    except ClientError as exc:
        error = exc.response["Error"]
        print(f"  refused  {label}: {error['Code']}")
        held = not expect_allowed and error["Code"] == "AccessDenied"
    else:
        print(f"  allowed  {label}{show(result)}")
        held = expect_allowed
    if not held:
        print(f"  UNEXPECTED: the role should {'' if expect_allowed else 'not '}be allowed to {label}")
    return held


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bucket, key, other_bucket, other_key = argv
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        print("  no credentials: is this running under `rolecall ec2 exec` on an instance with a role?")
        return 1
    identity = session.client("sts").get_caller_identity()
    print(f"  identity:    {identity['Arn']}")
    # "iam-role" is boto3's name for the instance-metadata provider; "env" or "shared-credentials-file"
    # here would mean that keys were lying around after all.
    print(f"  credentials: {credentials.method} (temporary key {credentials.access_key[:4]}...)")
    if credentials.method != "iam-role":
        print("  UNEXPECTED: the credentials did not come from the instance's metadata service")
    s3 = session.client("s3")
    prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    new_key = f"{prefix}written-by-the-instance.txt"
    held = [
        credentials.method == "iam-role",
        attempt(
            f"list s3://{bucket}/{prefix}",
            lambda: s3.list_objects_v2(Bucket=bucket, Prefix=prefix),
            lambda r: ": " + ", ".join(o["Key"] for o in r.get("Contents", [])),
        ),
        attempt(
            f"read s3://{bucket}/{key}",
            lambda: s3.get_object(Bucket=bucket, Key=key),
            lambda r: f": {r['Body'].read().decode()!r}",
        ),
        attempt(
            f"write s3://{bucket}/{new_key}",
            lambda: s3.put_object(Bucket=bucket, Key=new_key, Body=b"should not be stored"),
            expect_allowed=False,
        ),
        attempt(
            f"read s3://{other_bucket}/{other_key}",
            lambda: s3.get_object(Bucket=other_bucket, Key=other_key),
            expect_allowed=False,
        ),
    ]
    return 0 if all(held) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
