"""Upgrading a data dir whose S3 objects and multipart uploads a previous rolecall kept as files: at start they
move into the store, and are served from there exactly as before."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import pytest

from tests.e2e import blob_tables
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

MiB = 1024 * 1024


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def srv(request, tmp_path):
    url = None
    if request.param == "postgres":
        if not postgres_available():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        url = create_pg_database()
    s = Server(tmp_path / "data", database_url=url)
    s.data_dir.mkdir()
    yield s
    s.stop()
    if url:
        drop_pg_database(url)


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def old_object(key: str, body: bytes, **description) -> bytes:
    """An object file as rolecall before schema version 4 wrote it: a header line, then the bytes."""
    doc = {
        "Key": key,
        "Size": len(body),
        "ETag": md5_etag(body),
        "LastModified": 1_700_000_000,
        "ContentType": "binary/octet-stream",
        "Metadata": {},
        "Headers": {},
        "Checksums": {},
        "StorageClass": "STANDARD",
        "ChecksumType": "FULL_OBJECT",
        **description,
    }
    header = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return b"rolecall-s3-object/1 " + header + b"\n" + body


def old_part(number: int, body: bytes) -> bytes:
    doc = {"PartNumber": number, "Size": len(body), "ETag": md5_etag(body), "LastModified": 1_700_000_100}
    return b"rolecall-s3-part/1 " + json.dumps(doc, separators=(",", ":")).encode() + b"\n" + body


def test_objects_and_uploads_on_disk_move_into_the_store(srv):
    srv.start()
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="kept-from-before")
    srv.stop()
    ((doc,),) = blob_tables.query(srv, "SELECT doc FROM documents WHERE kind = 's3-bucket'")
    bucket_id = json.loads(doc)["Id"]
    blob_tables.as_previous_version(srv)

    # The previous version's files: two objects, an unfinished write, an upload with two parts, the files of
    # a bucket deleted long ago, and a file that is no object at all.
    small, big = b"hello from the old layout", os.urandom(3 * MiB + 5)
    part1, part2 = os.urandom(5 * MiB), b"the last part"
    upload_id = uuid.uuid4().hex + uuid.uuid4().hex
    bucket_dir = srv.data_dir / "s3" / bucket_id
    (bucket_dir / ".uploads" / upload_id).mkdir(parents=True)
    for key, content in (
        ("docs/a.txt", old_object("docs/a.txt", small, ContentType="text/plain", Metadata={"origin": "v3"})),
        ("big.bin", old_object("big.bin", big)),
    ):
        (bucket_dir / hashlib.sha256(key.encode()).hexdigest()).write_bytes(content)
    (bucket_dir / ".tmp-0123456789abcdef").write_bytes(b"half an object")
    (bucket_dir / "not-an-object").write_bytes(b"garbage")
    upload = {
        "upload_id": upload_id,
        "key": "assembled.bin",
        "initiated": 1_700_000_000.5,
        "initiator_arn": f"arn:aws:iam::{srv.account}:root",
        "owner_account": srv.account,
        "content_type": "application/x-parts",
        "metadata": {},
        "headers": {},
        "storage_class": "STANDARD",
        "checksum_algorithm": None,
        "checksum_type": None,
    }
    (bucket_dir / ".uploads" / upload_id / "upload").write_text(json.dumps(upload))
    (bucket_dir / ".uploads" / upload_id / "1").write_bytes(old_part(1, part1))
    (bucket_dir / ".uploads" / upload_id / "2").write_bytes(old_part(2, part2))
    gone = srv.data_dir / "s3" / ("0" * 32)
    gone.mkdir()
    (gone / hashlib.sha256(b"x").hexdigest()).write_bytes(old_object("x", b"of a deleted bucket"))

    srv.start()
    s3 = srv.client("s3")
    got = s3.get_object(Bucket="kept-from-before", Key="docs/a.txt")
    assert got["Body"].read() == small and got["ETag"] == md5_etag(small)
    assert (got["ContentType"], got["Metadata"]) == ("text/plain", {"origin": "v3"})
    ranged = s3.get_object(Bucket="kept-from-before", Key="big.bin", Range="bytes=1048570-2097160")
    assert ranged["Body"].read() == big[1048570:2097161]
    listed = s3.list_objects_v2(Bucket="kept-from-before")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("big.bin", len(big)), ("docs/a.txt", len(small))]
    (listed_upload,) = s3.list_multipart_uploads(Bucket="kept-from-before")["Uploads"]
    assert (listed_upload["Key"], listed_upload["UploadId"]) == ("assembled.bin", upload_id)
    parts = s3.list_parts(Bucket="kept-from-before", Key="assembled.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, md5_etag(part1), len(part1)),
        (2, md5_etag(part2), len(part2)),
    ]
    s3.complete_multipart_upload(
        Bucket="kept-from-before",
        Key="assembled.bin",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
    )
    assembled = s3.get_object(Bucket="kept-from-before", Key="assembled.bin")
    assert assembled["Body"].read() == part1 + part2 and assembled["ContentType"] == "application/x-parts"

    # Nothing is read from the old files any more: all that is left of them is the one that was no object.
    left = sorted(str(p.relative_to(srv.data_dir)) for p in (srv.data_dir / "s3").rglob("*"))
    assert left == [f"s3/{bucket_id}", f"s3/{bucket_id}/not-an-object"]
    assert "not-an-object" in srv.output()  # named in a warning
    assert blob_tables.orphans(srv) == 0

    # A second start imports nothing twice.
    srv.stop()
    srv.start()
    keys = [o["Key"] for o in srv.client("s3").list_objects_v2(Bucket="kept-from-before")["Contents"]]
    assert keys == ["assembled.bin", "big.bin", "docs/a.txt"]
    assert blob_tables.names(srv, "s3:") == keys and blob_tables.names(srv, "s3-parts:") == []
