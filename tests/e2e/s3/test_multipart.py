"""S3 multipart uploads against a real server: the low-level calls and S3's checks on them, boto3's managed
transfers and `aws s3 cp` of files large enough to go up in parts, and who may start an upload."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
import zlib

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.e2e import blob_tables
from tests.servers import InProcessServer

MiB = 1024 * 1024


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def multipart_etag(*parts: bytes) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("s3mpu")).start()
    yield s
    s.stop()


@pytest.fixture
def s3(srv):
    return srv.client("s3")


@pytest.fixture
def bucket(s3):
    name = f"mpu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def upload_dirs(srv) -> list[str]:
    """Uploads and parts still in the store (in progress, or leftovers that should not exist)."""
    return blob_tables.names(srv, "s3-uploads:") + blob_tables.names(srv, "s3-parts:")


def test_low_level_upload_complete_and_read_back(srv, s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 17), b"tail bytes"]
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="big/object.bin", ContentType="application/x-test", Metadata={"origin": "mpu"}
    )
    upload_id = created["UploadId"]
    assert (created["Bucket"], created["Key"]) == (bucket, "big/object.bin")
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("big/object.bin", upload_id)]
    etags = []
    for number, body in enumerate(parts, 1):
        etag = s3.upload_part(
            Bucket=bucket, Key="big/object.bin", UploadId=upload_id, PartNumber=number, Body=body
        )["ETag"]
        assert etag == f'"{hashlib.md5(body).hexdigest()}"'
        etags.append(etag)
    # Not an object until completed.
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="big/object.bin")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    listing = s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listing["Parts"]] == [
        (n, e, len(b)) for n, (e, b) in enumerate(zip(etags, parts, strict=True), 1)
    ]
    assert listing["IsTruncated"] is False
    page = s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2] and page["IsTruncated"] is True
    rest = s3.list_parts(
        Bucket=bucket, Key="big/object.bin", UploadId=upload_id, PartNumberMarker=page["NextPartNumberMarker"]
    )
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]

    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big/object.bin",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    assert done["ETag"] == multipart_etag(*parts)
    got = s3.get_object(Bucket=bucket, Key="big/object.bin")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == multipart_etag(*parts)
    assert got["ContentType"] == "application/x-test" and got["Metadata"] == {"origin": "mpu"}
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    assert upload_dirs(srv) == []
    # A completed upload is gone.
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=upload_id)
    assert code(exc) == "NoSuchUpload"


def test_part_subset_and_composite_checksum(s3, bucket):
    """Only the parts named are assembled; a CRC32 upload gets S3's checksum of the parts' checksums."""
    first, unused, last = os.urandom(5 * MiB), b"never used", b"last"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    sent = {}
    for number, body in ((1, first), (2, unused), (3, last)):
        out = s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        sent[number] = (out["ETag"], out["ChecksumCRC32"])
        assert out["ChecksumCRC32"] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": sent[n][0], "ChecksumCRC32": sent[n][1]} for n in (1, 3)]
        },
    )
    joined = b"".join(base64.b64decode(sent[n][1]) for n in (1, 3))
    composite = base64.b64encode(zlib.crc32(joined).to_bytes(4, "big")).decode() + "-2"
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (composite, "COMPOSITE")
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == first + last
    assert got["ETag"] == multipart_etag(first, last) and got["ChecksumCRC32"] == composite


def test_complete_refuses_bad_part_lists(srv, s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"a" * 1000)["ETag"]
    tail = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"b")["ETag"]

    def complete(*parts):
        with pytest.raises(ClientError) as exc:
            s3.complete_multipart_upload(
                Bucket=bucket,
                Key="k",
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )
        return exc

    exc = complete((1, small), (2, '"' + "0" * 32 + '"'))
    assert code(exc) == "InvalidPart" and exc.value.response["Error"]["PartNumber"] == "2"
    assert code(complete((1, small), (3, tail))) == "InvalidPart"  # never uploaded
    exc = complete((2, tail), (1, small))
    assert code(exc) == "InvalidPartOrder" and exc.value.response["Error"]["UploadId"] == upload_id
    exc = complete((1, small), (2, tail))
    assert code(exc) == "EntityTooSmall"
    error = exc.value.response["Error"]
    assert (error["ProposedSize"], error["MinSizeAllowed"], error["PartNumber"]) == ("1000", "5242880", "1")
    # Refusals change nothing: the upload is still there and no object appeared.
    assert len(s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]) == 2
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # A single small part is a valid (last) part.
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small}]},
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"a" * 1000


def test_abort_and_unknown_uploads(srv, s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=1, Body=b"x" * 10)
    other = s3.create_multipart_upload(Bucket=bucket, Key="kept/one")["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in uploads["Uploads"]] == ["gone"]
    assert [p["Prefix"] for p in uploads["CommonPrefixes"]] == ["kept/"]
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [other]
    for call in (
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id),
        lambda: s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=1, Body=b"x"),
        lambda: s3.list_parts(Bucket=bucket, Key="gone", UploadId="not-an-id/../.."),
        # An upload id belongs to its key.
        lambda: s3.list_parts(Bucket=bucket, Key="other-key", UploadId=other),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "NoSuchUpload"
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="kept/one", UploadId=other, PartNumber=10001, Body=b"x")
    assert code(exc) == "InvalidArgument"
    s3.abort_multipart_upload(Bucket=bucket, Key="kept/one", UploadId=other)
    assert upload_dirs(srv) == []


def test_managed_transfer_round_trip(s3, bucket, tmp_path):
    data = os.urandom(20 * 1000 * 1000)
    source, target = tmp_path / "up.bin", tmp_path / "down.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_file(str(source), bucket, "managed.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="managed.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-4"')
    s3.download_file(bucket, "managed.bin", str(target), Config=config)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_cli_copy_large_file(srv, bucket, tmp_path):
    data = os.urandom(20 * 1000 * 1000)
    source, target = tmp_path / "cli-up.bin", tmp_path / "cli-down.bin"
    source.write_bytes(data)
    srv.cli("s3", "cp", str(source), f"s3://{bucket}/cli/large.bin")
    head = json.loads(srv.cli("s3api", "head-object", "--bucket", bucket, "--key", "cli/large.bin").stdout)
    # The CLI's default 8 MiB parts: 8 + 8 + 3.2 MB.
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    srv.cli("s3", "cp", f"s3://{bucket}/cli/large.bin", str(target))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_authorization(srv, s3, bucket):
    iam = srv.client("iam")

    def user(*actions: str):
        name = f"u-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        if actions:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": list(actions), "Resource": f"arn:aws:s3:::{bucket}/*"}
                ],
            }
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return srv.client("s3", key["AccessKeyId"], key["SecretAccessKey"])

    reader = user("s3:GetObject", "s3:ListMultipartUploadParts")
    with pytest.raises(ClientError) as exc:
        reader.create_multipart_upload(Bucket=bucket, Key="k")
    assert code(exc) == "AccessDenied" and "s3:PutObject" in exc.value.response["Error"]["Message"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(ClientError) as exc:
        reader.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert code(exc) == "AccessDenied"
    assert reader.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["UploadId"] == upload_id
    with pytest.raises(ClientError) as exc:
        reader.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert "s3:AbortMultipartUpload" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        reader.list_multipart_uploads(Bucket=bucket)
    assert "s3:ListBucketMultipartUploads" in exc.value.response["Error"]["Message"]

    writer = user("s3:PutObject", "s3:AbortMultipartUpload")
    mine = writer.create_multipart_upload(Bucket=bucket, Key="w")["UploadId"]
    etag = writer.upload_part(Bucket=bucket, Key="w", UploadId=mine, PartNumber=1, Body=b"w")["ETag"]
    with pytest.raises(ClientError) as exc:
        writer.list_parts(Bucket=bucket, Key="w", UploadId=mine)
    assert "s3:ListMultipartUploadParts" in exc.value.response["Error"]["Message"]
    writer.complete_multipart_upload(
        Bucket=bucket, Key="w", UploadId=mine, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    writer.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)


def test_failed_assembly_leaves_the_old_object(srv, s3, bucket):
    """A part that is no longer whole in the store aborts the completion: the previous object stays whole and
    nothing of the failed one is left behind."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"previous")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"p" * 100)["ETag"]
    blob_tables.query(  # lose the part's last bytes, keeping its record
        srv,
        "UPDATE blob_chunks SET data = substr(data, 1, 90) WHERE blob = "
        "(SELECT id FROM blobs WHERE substr(space, 1, 9) = 's3-parts:' AND name = ?)",
        (f"{upload_id}/00001".encode(),),
    )
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
    assert code(exc) == "InvalidPart"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"previous"
    assert blob_tables.orphans(srv) == 0
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)


def test_complete_checks_checksum_type_and_conditions(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"only part")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}]}
    with pytest.raises(ClientError) as exc:  # the upload is COMPOSITE (CRC32's default)
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts, ChecksumType="FULL_OBJECT"
        )
    assert code(exc) == "InvalidRequest"
    s3.put_object(Bucket=bucket, Key="mp", Body=b"already here")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
        )
    assert code(exc) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"already here"
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts, ChecksumType="COMPOSITE"
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"only part"
