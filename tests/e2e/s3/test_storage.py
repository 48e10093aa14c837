"""S3 on each store: bucket records and object bodies in SQLite or PostgreSQL (none on disk beside the store),
and everything still there after a restart."""

from __future__ import annotations

import json
import uuid

from tests.e2e import blob_tables
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
    assert blob_tables.names(srv, "s3:") == ["a/b.txt"] and blob_tables.chunks(srv, "s3:") == 1
    assert not (srv.data_dir / "s3").exists()
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
    assert blob_tables.names(srv, "s3:") == [] and blob_tables.chunks(srv) == 0
