"""S3 against a real server with boto3: buckets, objects, ranges, listings, copies, bucket policies, virtual-hosted
addressing, presigned URLs, checksums and the trail."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import time
import uuid
import zlib

import botocore.config
import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.servers import InProcessServer

ACCOUNT = "123456789012"


def code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def status(exc) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = InProcessServer(tmp_path_factory.mktemp("s3")).start()
    yield s
    s.stop()


@pytest.fixture
def s3(srv):
    return srv.client("s3")


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_bucket_lifecycle(srv, s3):
    name = f"life-{uuid.uuid4().hex[:8]}"
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    listed = s3.list_buckets()
    assert name in [b["Name"] for b in listed["Buckets"]]
    assert len(listed["Owner"]["ID"]) == 64
    # North Virginia's legacy answer: re-creating your own bucket succeeds.
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert (code(exc), status(exc)) == ("BucketNotEmpty", 409)
    assert exc.value.response["Error"]["BucketName"] == name
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=name)
    assert (code(exc), exc.value.response["Error"]["BucketName"]) == ("NoSuchBucket", name)


def test_bucket_names_and_regions(srv, s3):
    for bad in ("UpperCase", "ab", "a..b", "192.168.1.1", "-leading", "xn--punycode"):
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket=bad)
        assert code(exc) == "InvalidBucketName"
    eu = srv.session().client(
        "s3",
        endpoint_url=srv.url,
        region_name="eu-west-1",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    name = f"eu-{uuid.uuid4().hex[:8]}"
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (code(exc), status(exc)) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as exc:
        eu.create_bucket(Bucket=f"x-{name}")
    assert code(exc) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=f"y-{name}", CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert code(exc) == "InvalidLocationConstraint"


def test_objects_round_trip(s3, bucket):
    body = bytes(range(256)) * 4
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/ä b+c!.bin",
        Body=body,
        ContentType="application/x-test",
        Metadata={"Owner": "alice"},
    )
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    got = s3.get_object(Bucket=bucket, Key="dir/ä b+c!.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "alice"}
    assert got["ContentLength"] == 1024 and got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/ä b+c!.bin")
    assert head["ContentLength"] == 1024 and head["AcceptRanges"] == "bytes"
    s3.put_object(Bucket=bucket, Key="plain", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="plain")["ContentType"] == "binary/octet-stream"
    s3.delete_object(Bucket=bucket, Key="dir/ä b+c!.bin")
    s3.delete_object(Bucket=bucket, Key="dir/ä b+c!.bin")  # deleting what is gone is still 204
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="dir/ä b+c!.bin")
    assert (code(exc), status(exc)) == ("NoSuchKey", 404)
    assert exc.value.response["Error"]["Key"] == "dir/ä b+c!.bin"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="missing")
    assert status(exc) == 404


def test_ranges(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"hello world")
    for header, data, content_range in (
        ("bytes=2-4", b"llo", "bytes 2-4/11"),
        ("bytes=6-", b"world", "bytes 6-10/11"),
        ("bytes=-3", b"rld", "bytes 8-10/11"),
        ("bytes=5-100", b" world", "bytes 5-10/11"),
    ):
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert (got["Body"].read(), got["ContentRange"], got["ContentLength"]) == (
            data,
            content_range,
            len(data),
        )
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=4-2")["Body"].read() == b"hello world"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=11-")
    assert (code(exc), status(exc)) == ("InvalidRange", 416)
    assert exc.value.response["Error"]["ActualObjectSize"] == "11"
    assert s3.head_object(Bucket=bucket, Key="r", Range="bytes=0-0")["ContentLength"] == 1


def test_conditional_requests(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status(exc) == 304
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*")
    assert code(exc) == "PreconditionFailed"


def test_listing_with_delimiter_and_continuation(s3, bucket):
    keys = ["a.txt", "b/1", "b/2", "b/3", "c/x/1", "c/y", "d", "e e+f", "é"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    everything = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in everything["Contents"]] == keys
    assert everything["KeyCount"] == len(keys) and everything["IsTruncated"] is False
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "d", "e e+f", "é"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "c/"]
    under_c = s3.list_objects_v2(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert [o["Key"] for o in under_c["Contents"]] == ["c/y"]
    assert [p["Prefix"] for p in under_c["CommonPrefixes"]] == ["c/x/"]
    # Pages of two, with common prefixes counted against max-keys and never repeated across pages.
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/", MaxKeys=2))
    assert len(pages) == 3
    seen = [o["Key"] for p in pages for o in p.get("Contents", [])]
    seen_prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert seen == ["a.txt", "d", "e e+f", "é"] and seen_prefixes == ["b/", "c/"]
    assert all(p["KeyCount"] <= 2 for p in pages) and pages[0]["IsTruncated"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="c/y")
    assert [o["Key"] for o in after["Contents"]] == ["d", "e e+f", "é"]
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="garbage")
    assert code(exc) == "InvalidArgument"
    owner = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, FetchOwner=True)["Contents"][0]["Owner"]
    assert len(owner["ID"]) == 64
    v1 = s3.list_objects(Bucket=bucket, Prefix="b/")
    assert [o["Key"] for o in v1["Contents"]] == ["b/1", "b/2", "b/3"]


def test_copy_object(s3, bucket):
    other = f"copy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="src key", Body=b"payload", ContentType="text/x", Metadata={"a": "1"})
    result = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src key"})
    assert result["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(b"payload").hexdigest() + '"'
    copied = s3.get_object(Bucket=other, Key="dst")
    assert (copied["Body"].read(), copied["ContentType"], copied["Metadata"]) == (
        b"payload",
        "text/x",
        {"a": "1"},
    )
    s3.copy_object(
        Bucket=other,
        Key="dst",
        CopySource=f"{bucket}/src key",  # botocore URL-encodes a string copy source
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/y",
    )
    replaced = s3.head_object(Bucket=other, Key="dst")
    assert (replaced["Metadata"], replaced["ContentType"]) == ({"b": "2"}, "text/y")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": other, "Key": "dst"})
    assert code(exc) == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "nothing"})
    assert code(exc) == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": "no-such-bucket-here", "Key": "k"})
    assert code(exc) == "NoSuchBucket"


def test_delete_objects(s3, bucket):
    for key in ("x1", "x2", "x3"):
        s3.put_object(Bucket=bucket, Key=key, Body=b".")
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"}, {"Key": "gone"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["gone", "x1", "x2"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x3"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_bucket_policy_crud_and_validation(srv, s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert (code(exc), status(exc)) == ("NoSuchBucketPolicy", 404)
    good = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=good)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(good)
    cases = {
        "Policy has invalid resource": {"Resource": "arn:aws:s3:::some-other-bucket/*"},
        "Policy has invalid action": {"Action": "iam:CreateUser"},
        "Action does not apply to any resource(s) in statement": {"Resource": f"arn:aws:s3:::{bucket}"},
        "Invalid principal in policy": {
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody-by-this-name"}
        },
        "Missing required field Principal": {"Principal": None},
    }
    for message, change in cases.items():
        statement = {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            **change,
        }
        statement = {k: v for k, v in statement.items() if v is not None}
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_policy(Bucket=bucket, Policy=policy(statement))
        assert (code(exc), exc.value.response["Error"]["Message"]) == ("MalformedPolicy", message)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy="{not json")
    assert exc.value.response["Error"]["Message"] == "This policy contains invalid Json"
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(exc) == "NoSuchBucketPolicy"


def test_owner_root_cannot_lock_itself_out(s3, bucket):
    deny_all = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_all)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"")
    assert code(exc) == "AccessDenied"
    assert "with an explicit deny in a resource-based policy" in exc.value.response["Error"]["Message"]
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(deny_all)
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"")


@pytest.fixture
def resolve_localhost_subdomains(monkeypatch):
    """*.localhost resolves to loopback on most systems (RFC 6761); make sure it does here."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_virtual_hosted_style(srv, resolve_localhost_subdomains):
    config = botocore.config.Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1})
    client = srv.session().client("s3", endpoint_url=f"http://localhost:{srv.port}", config=config)
    name = f"virtual-{uuid.uuid4().hex[:8]}"
    seen_hosts = []
    client.meta.events.register("before-send.s3", lambda request, **kw: seen_hosts.append(request.url))
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="dir/file name.txt", Body=b"virtual")
    assert client.get_object(Bucket=name, Key="dir/file name.txt")["Body"].read() == b"virtual"
    listed = client.list_objects_v2(Bucket=name, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/file name.txt"]
    assert all(url.startswith(f"http://{name}.localhost:{srv.port}/") for url in seen_hosts)
    # The same objects are there path-style.
    assert srv.client("s3").get_object(Bucket=name, Key="dir/file name.txt")["Body"].read() == b"virtual"


def test_presigned_urls(srv, s3, bucket):
    signer = srv.session().client(
        "s3", endpoint_url=srv.url, config=botocore.config.Config(signature_version="s3v4")
    )
    http = urllib3.PoolManager()
    put_url = signer.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "p/q r"}, ExpiresIn=300
    )
    assert http.request("PUT", put_url, body=b"presigned body").status == 200
    get_url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p/q r"}, ExpiresIn=300
    )
    got = http.request("GET", get_url)
    assert (got.status, got.data) == (200, b"presigned body")
    ranged = http.request("GET", get_url, headers={"Range": "bytes=0-8"})
    assert (ranged.status, ranged.data) == (206, b"presigned")
    before = srv.clock.time()
    srv.clock.set(time.time() + 301)  # the server's clock stands still unless moved; move it past the expiry
    try:
        expired = http.request("GET", get_url)
        assert expired.status == 403
        assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.data
    finally:
        srv.clock.set(before)
    tampered = http.request("GET", get_url.replace("p/q%20r", "p/other"))
    assert tampered.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.data
    # Anonymous and SigV2 requests are refused (rolecall grants nothing to them), in S3's words.
    legacy = http.request("GET", f"{srv.url}/{bucket}/p/q%20r?AWSAccessKeyId=AKIA&Signature=x&Expires=1")
    assert (
        legacy.status == 403 and b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in legacy.data
    )


def test_clock_skew_and_bad_keys(srv, s3, bucket):
    before = srv.clock.time()
    srv.clock.set(time.time() + 16 * 60)
    try:
        with pytest.raises(ClientError) as exc:
            s3.head_object(Bucket=bucket, Key="k")
        assert status(exc) == 403
        with pytest.raises(ClientError) as exc:
            s3.list_objects_v2(Bucket=bucket)
        assert code(exc) == "RequestTimeTooSkewed"
    finally:
        srv.clock.set(before)
    stranger = srv.client("s3", "AKIA" + "Z" * 16, "x" * 40)
    with pytest.raises(ClientError) as exc:
        stranger.list_buckets()
    assert (code(exc), status(exc)) == ("InvalidAccessKeyId", 403)
    wrong_secret = srv.client("s3", srv.access_key, "y" * 40)
    with pytest.raises(ClientError) as exc:
        wrong_secret.list_buckets()
    assert code(exc) == "SignatureDoesNotMatch"


def test_checksums_and_content_md5(s3, bucket):
    s3.put_object(Bucket=bucket, Key="sum", Body=b"checked", ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checked"  # botocore validates the returned checksum as it reads
    assert got["ChecksumSHA256"]
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="sum", Body=b"checked", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert code(exc) == "BadDigest"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="sum", Body=b"checked", ChecksumCRC32="AAAAAA==")
    assert code(exc) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="sum")["Body"].read() == b"checked"


def test_trail_records_s3_calls(srv, s3, bucket):
    s3.put_object(Bucket=bucket, Key="audited", Body=b"a")
    srv.pipeline.flush_trail()
    events = srv.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "s3.amazonaws.com"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    put = next(
        r for r in records if r["eventName"] == "PutObject" and r["requestParameters"]["key"] == "audited"
    )
    assert put["readOnly"] is False
    assert {"ARN": f"arn:aws:s3:::{bucket}/audited", "accountId": "", "type": "AWS::S3::Object"} in put[
        "resources"
    ]
    assert {"ARN": f"arn:aws:s3:::{bucket}", "accountId": ACCOUNT, "type": "AWS::S3::Bucket"} in put[
        "resources"
    ]
    assert put["requestParameters"]["body"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_boto3_streaming_upload_with_trailing_checksum(s3, bucket):
    """What boto3 sends over HTTPS: an aws-chunked body, STREAMING-UNSIGNED-PAYLOAD-TRAILER, and the CRC32
    after the last chunk. (boto3 does this only over TLS; a hook asks for it here over plain HTTP.)"""

    def checksum_in_trailer(params, **kwargs):
        params["context"]["checksum"]["request_algorithm"]["in"] = "trailer"

    sent = []
    s3.meta.events.register("before-call.s3.PutObject", checksum_in_trailer)
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **kw: sent.append(request.headers))
    body = b"streamed " * 5000
    s3.put_object(Bucket=bucket, Key="streamed", Body=io.BytesIO(body))
    assert sent[0]["X-Amz-Content-SHA256"] == b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent[0]["Content-Encoding"] == b"aws-chunked"
    got = s3.get_object(Bucket=bucket, Key="streamed", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumCRC32"] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert "ContentEncoding" not in got  # aws-chunked is how it travelled, not what it is


# -- members honoured as S3 does, or refused -----------------------------------------------------------------


def test_acls_follow_bucket_owner_enforced(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", ACL="bucket-owner-full-control")
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="public", Body=b"x", ACL="public-read"),
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/ok", ACL="private"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", ACL="authenticated-read"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert (code(exc), status(exc)) == ("AccessControlListNotSupported", 400)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok"]
    name = f"acl-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, ACL="private")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=f"acl-{uuid.uuid4().hex[:8]}", ACL="public-read")
    assert code(exc) == "InvalidBucketAclWithObjectOwnership"


def test_copy_checks_the_source_owner_and_destination_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", ExpectedSourceBucketOwner="210987654321"
        )
    assert (code(exc), status(exc)) == ("AccessDenied", 403)
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", ExpectedSourceBucketOwner=ACCOUNT)
    with pytest.raises(ClientError) as exc:  # the destination exists now
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    etag = s3.head_object(Bucket=bucket, Key="dst")["ETag"]
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfMatch=etag, MetadataDirective="REPLACE"
    )


def test_conditional_delete(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert status(exc) == 404


def test_bucket_policy_content_md5_is_checked(srv, s3, bucket):
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy, ContentMD5=wrong)
    assert (code(exc), status(exc)) == ("BadDigest", 400)
    right = base64.b64encode(hashlib.md5(policy.encode()).digest()).decode()
    s3.put_bucket_policy(Bucket=bucket, Policy=policy, ContentMD5=right)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("Tagging", "team=blue"),
        ("ServerSideEncryption", "aws:kms"),
        ("SSECustomerAlgorithm", "AES256"),
        ("ObjectLockLegalHoldStatus", "ON"),
    ],
)
def test_unimplemented_object_members_are_refused(s3, bucket, member, value):
    extra = {member: value}
    if member == "SSECustomerAlgorithm":
        extra["SSECustomerKey"] = "k" * 32
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="refused", Body=b"x", **extra)
    assert (code(exc), status(exc)) == ("NotImplemented", 501)
    assert f"the member {member} of PutObject" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="refused")  # nothing was written
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x", ServerSideEncryption="AES256")  # what S3 does anyway


def test_versions_other_than_null_are_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"v"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
    assert (code(exc), status(exc)) == ("NotImplemented", 501)
