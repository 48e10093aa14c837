"""The AWS CLI against S3 on rolecall: `aws s3` (a 5 MB upload, a download in ranged parts, ls, rm, rb) and
`aws s3api`, for the root user and for a user its policy refuses."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.servers import Server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("s3cli")).start()
    yield s
    s.stop()


def aws(srv, *args: str, config: str | None = None, key=None, secret=None, check=True):
    """The AWS CLI with rolecall's endpoint, optionally with a config file (s3 transfer settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key or srv.access_key,
        AWS_SECRET_ACCESS_KEY=secret or srv.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=srv.url,
        AWS_PAGER="",
    )
    if config:
        env["AWS_CONFIG_FILE"] = config
    out = subprocess.run(
        [sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and out.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {out.stderr}")
    return out


def test_cli_upload_list_download_remove(srv, tmp_path):
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    data = os.urandom(5 * 1000 * 1000)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    aws(srv, "s3", "mb", f"s3://{bucket}")
    aws(srv, "s3", "cp", str(source), f"s3://{bucket}/dir/big file.bin")
    listing = aws(srv, "s3", "ls", f"s3://{bucket}/dir/").stdout
    assert "5000000 big file.bin" in listing
    assert "PRE dir/" in aws(srv, "s3", "ls", f"s3://{bucket}").stdout
    # Downloaded in 1 MB ranged GETs, the way s3transfer fetches large objects.
    config = tmp_path / "config"
    config.write_text("[default]\ns3 =\n  multipart_threshold = 1MB\n  multipart_chunksize = 1MB\n")
    target = tmp_path / "back.bin"
    aws(srv, "s3", "cp", f"s3://{bucket}/dir/big file.bin", str(target), config=str(config))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()
    head = json.loads(
        aws(srv, "s3api", "head-object", "--bucket", bucket, "--key", "dir/big file.bin").stdout
    )
    assert head["ContentLength"] == 5000000 and head["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    listed = json.loads(
        aws(
            srv, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "dir/", "--delimiter", "/"
        ).stdout
    )
    assert [o["Key"] for o in listed["Contents"]] == ["dir/big file.bin"]
    aws(srv, "s3", "rm", f"s3://{bucket}", "--recursive")
    aws(srv, "s3", "rb", f"s3://{bucket}")
    missing = aws(srv, "s3api", "head-bucket", "--bucket", bucket, check=False)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_cli_refused_user(srv, tmp_path):
    iam = srv.client("iam")
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    srv.client("s3").create_bucket(Bucket=bucket)
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="list-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    assert aws(srv, "s3", "ls", f"s3://{bucket}", **creds).returncode == 0
    (tmp_path / "f.txt").write_text("x")
    refused = aws(srv, "s3", "cp", str(tmp_path / "f.txt"), f"s3://{bucket}/f.txt", check=False, **creds)
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr and "s3:PutObject" in refused.stderr
