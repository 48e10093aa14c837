"""Two `rolecall serve` nodes on one PostgreSQL database, each with a data dir of its own: they share S3 objects
and multipart uploads through the database alone, writes commit whole (the last one wins), deletes and refused
or failed writes leave no chunk behind, and a large object streams through a node without its memory growing
by the object's size."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e import blob_tables
from tests.servers import Server, create_pg_database, drop_pg_database, postgres_available

pytestmark = pytest.mark.postgres

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = create_pg_database()
    a = Server(tmp_path_factory.mktemp("node-a"), database_url=url, master_key="shared-by-both-nodes")
    b = Server(
        tmp_path_factory.mktemp("node-b"),
        database_url=url,
        access_key=a.access_key,
        secret_key=a.secret_key,
        master_key="shared-by-both-nodes",
    )
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()
        drop_pg_database(url)


@pytest.fixture
def bucket(nodes):
    a, _ = nodes
    name = f"shared-{uuid.uuid4().hex[:10]}"
    a.client("s3").create_bucket(Bucket=name)
    return name


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def files_under(srv: Server) -> list[str]:
    """What a node keeps in its data dir besides its log: nothing of S3."""
    return sorted(str(p.relative_to(srv.data_dir)) for p in srv.data_dir.rglob("*") if "s3" in p.parts)


def test_put_on_one_node_get_and_range_on_the_other(nodes, bucket):
    a, b = nodes
    body = os.urandom(3 * MiB + 123)  # four chunks
    put = a.client("s3").put_object(Bucket=bucket, Key="dir/obj.bin", Body=body, Metadata={"by": "a"})
    s3b = b.client("s3")
    got = s3b.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert got["Body"].read() == body and got["ETag"] == put["ETag"] and got["Metadata"] == {"by": "a"}
    ranged = s3b.get_object(Bucket=bucket, Key="dir/obj.bin", Range=f"bytes={MiB - 10}-{2 * MiB + 9}")
    assert ranged["Body"].read() == body[MiB - 10 : 2 * MiB + 10]
    assert ranged["ContentRange"] == f"bytes {MiB - 10}-{2 * MiB + 9}/{len(body)}"
    assert s3b.get_object(Bucket=bucket, Key="dir/obj.bin", Range="bytes=-5")["Body"].read() == body[-5:]
    assert [o["Key"] for o in s3b.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]] == [
        "dir/obj.bin"
    ]
    assert files_under(a) == [] and files_under(b) == []


def test_multipart_upload_split_across_nodes(nodes, bucket):
    a, b = nodes
    s3a, s3b = a.client("s3"), b.client("s3")
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), b"the tail"]
    upload_id = s3a.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = []
    for number, (client, body) in enumerate(zip([s3a, s3b, s3a], parts, strict=True), 1):
        etags.append(
            client.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=body)[
                "ETag"
            ]
        )
    listed = s3b.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == list(enumerate(etags, 1))
    done = s3b.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    got = s3a.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts) and got["ETag"] == done["ETag"]
    assert (
        s3a.get_object(Bucket=bucket, Key="mp", Range="bytes=5242870-5242889")["Body"].read()
        == (b"".join(parts)[5242870:5242890])
    )
    with pytest.raises(ClientError) as exc:  # completed on B: gone for A too
        s3a.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=4, Body=b"late")
    assert code(exc) == "NoSuchUpload"
    assert blob_tables.names(a, "s3-parts:") == [] and blob_tables.names(a, "s3-uploads:") == []


def test_delete_on_one_node_is_gone_on_the_other_with_its_chunks(nodes, bucket):
    a, b = nodes
    s3a, s3b = a.client("s3"), b.client("s3")
    s3a.put_object(Bucket=bucket, Key="doomed", Body=os.urandom(2 * MiB + 1))
    s3a.put_object(Bucket=bucket, Key="copied-from", Body=b"source")
    s3b.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "copied-from"})
    upload_id = s3a.create_multipart_upload(Bucket=bucket, Key="abandoned")["UploadId"]
    s3b.upload_part(Bucket=bucket, Key="abandoned", UploadId=upload_id, PartNumber=1, Body=b"p" * 1000)
    space = f"s3:{bucket_id(a, bucket)}"
    assert blob_tables.chunks(a, space) == 5  # doomed: 3, copied-from: 1, copy: 1
    s3b.delete_object(Bucket=bucket, Key="doomed")
    with pytest.raises(ClientError) as exc:
        s3a.head_object(Bucket=bucket, Key="doomed")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert blob_tables.chunks(a, space) == 2
    s3b.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copied-from"}, {"Key": "copy"}]})
    assert "Contents" not in s3a.list_objects_v2(Bucket=bucket)
    s3b.delete_bucket(Bucket=bucket)  # the upload in progress goes with it
    with pytest.raises(ClientError) as exc:
        s3a.list_objects_v2(Bucket=bucket)
    assert code(exc) == "NoSuchBucket"
    assert blob_tables.chunks(a, space) == 0
    assert blob_tables.names(a, "s3-uploads:") == [] and blob_tables.names(a, "s3-parts:") == []
    assert blob_tables.orphans(a) == 0


def bucket_id(srv: Server, name: str) -> str:
    rows = blob_tables.query(srv, "SELECT doc FROM documents WHERE kind = 's3-bucket'")
    return next(d["Id"] for d in (json.loads(doc) for (doc,) in rows) if d["Name"] == name)


def test_refused_and_failed_writes_leave_no_chunks(nodes, bucket):
    a, b = nodes
    s3a, s3b = a.client("s3"), b.client("s3")
    s3a.put_object(Bucket=bucket, Key="exists", Body=b"first")
    before = blob_tables.chunks(a)
    iam = a.client("iam")
    user = f"reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    stranger = b.client("s3", key["AccessKeyId"], key["SecretAccessKey"])
    body = os.urandom(2 * MiB)
    with pytest.raises(ClientError) as exc:  # refused by IAM
        stranger.put_object(Bucket=bucket, Key="refused", Body=body)
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # refused: the body is not what its Content-MD5 says
        s3b.put_object(
            Bucket=bucket,
            Key="bad",
            Body=body,
            ContentMD5=base64.b64encode(hashlib.md5(b"x").digest()).decode(),
        )
    assert code(exc) == "BadDigest"
    with pytest.raises(ClientError) as exc:  # refused: a conditional write on a key that exists
        s3b.put_object(Bucket=bucket, Key="exists", Body=body, IfNoneMatch="*")
    assert code(exc) == "PreconditionFailed"
    upload_id = s3a.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3b.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=body)
    with pytest.raises(ClientError) as exc:  # failed: names a part that was never uploaded
        s3b.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}, {"PartNumber": 2, "ETag": '"0"'}]
            },
        )
    assert code(exc) == "InvalidPart"
    assert blob_tables.chunks(a) == before + 2  # the part, still there for a corrected completion
    s3a.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert blob_tables.chunks(a) == before and blob_tables.orphans(a) == 0
    assert s3b.get_object(Bucket=bucket, Key="exists")["Body"].read() == b"first"


def test_concurrent_writers_of_one_key_last_commit_wins_whole(nodes, bucket):
    """A and B overwrite one key over and over while both read it: every read is one whole body (its ETag
    matching its bytes), and at the end the key holds one body's chunks and nothing else is left."""
    a, b = nodes
    bodies = {n: bytes([n]) * (2 * MiB + n) for n in range(1, 9)}  # 3 chunks each, told apart by their bytes
    etags = {f'"{hashlib.md5(v).hexdigest()}"': v for v in bodies.values()}
    a.client("s3").put_object(Bucket=bucket, Key="hot", Body=bodies[1])
    failures: list[str] = []
    writing = threading.Event()

    def write(srv: Server, numbers: list[int]) -> None:
        s3 = srv.client("s3")
        for n in numbers:
            s3.put_object(Bucket=bucket, Key="hot", Body=bodies[n])

    def read(srv: Server) -> None:
        s3 = srv.client("s3")
        while writing.is_set():
            got = s3.get_object(Bucket=bucket, Key="hot")
            data = got["Body"].read()
            if etags.get(got["ETag"]) != data:
                failures.append(f"read {len(data)} bytes that are not the body of {got['ETag']}")

    writing.set()
    readers = [threading.Thread(target=read, args=(srv,)) for srv in (a, b)]
    writers = [
        threading.Thread(target=write, args=(a, [1, 2, 3, 4] * 3)),
        threading.Thread(target=write, args=(b, [5, 6, 7, 8] * 3)),
    ]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(120)
    writing.clear()
    for t in readers:
        t.join(60)
    assert failures == []
    final = a.client("s3").get_object(Bucket=bucket, Key="hot")
    assert b.client("s3").get_object(Bucket=bucket, Key="hot")["ETag"] == final["ETag"]
    assert etags[final["ETag"]] == final["Body"].read()
    assert blob_tables.chunks(a, f"s3:{bucket_id(a, bucket)}") == 3 and blob_tables.orphans(a) == 0


def memory_kib(srv: Server) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a node's server process: its resident memory now, and at its peak so far."""
    assert srv.proc is not None
    with open(f"/proc/{srv.proc.pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def test_a_64_mb_object_streams_through_a_node(nodes, bucket):
    """A 64 MiB object goes up in parts through B, is completed on B and read back whole from B: B's resident
    memory, now and at its peak, grows by far less than the object (it never holds it). Holding it (say, a GET
    answered from memory) shows as a peak some 120 MB higher."""
    a, b = nodes
    s3b = b.client("s3")
    part_size, count = 8 * MiB, 8

    def roundtrip(key: str, part_body: bytes, parts: int) -> str:
        upload_id = s3b.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etags = [
            s3b.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part_body)["ETag"]
            for n in range(1, parts + 1)
        ]
        s3b.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
        )
        digest = hashlib.md5()
        body = s3b.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in iter(lambda: body.read(MiB), b""):
            digest.update(chunk)
        return digest.hexdigest()

    part = os.urandom(part_size)
    roundtrip("warm-up", part, 2)  # every code path once: what it costs to serve one part is in the baseline
    rss_before, peak_before = memory_kib(b)
    assert roundtrip("big", part, count) == hashlib.md5(part * count).hexdigest()
    rss_after, peak_after = memory_kib(b)
    print(f"node B: RSS {rss_before} -> {rss_after} KiB, peak {peak_before} -> {peak_after} KiB")
    object_kib = part_size * count // 1024
    assert peak_after - peak_before < object_kib // 2, (peak_before, peak_after)
    assert rss_after - rss_before < object_kib // 2, (rss_before, rss_after)
