"""S3 on each store: bucket records in SQLite or PostgreSQL, object bodies on disk under --data-dir for both,
and everything still there after a restart."""

from __future__ import annotations

import json
import uuid

from tests.servers import Server


def test_objects_survive_a_restart(any_server: Server):
    srv = any_server
    s3 = srv.client("s3")
    bucket = f"keep-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"durable", Metadata={"k": "v"})
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": srv.account},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    bodies = [p for p in (srv.data_dir / "s3").rglob("*") if p.is_file()]
    assert len(bodies) == 1 and bodies[0].read_bytes().endswith(b"durable")
    srv.stop()
    srv.start()
    s3 = srv.client("s3")
    got = s3.get_object(Bucket=bucket, Key="a/b.txt")
    assert (got["Body"].read(), got["Metadata"]) == (b"durable", {"k": "v"})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a/b.txt"]
    assert (
        json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Action"] == "s3:GetObject"
    )
    s3.delete_object(Bucket=bucket, Key="a/b.txt")
    s3.delete_bucket(Bucket=bucket)
    assert not [p for p in (srv.data_dir / "s3").rglob("*") if p.is_file()]
