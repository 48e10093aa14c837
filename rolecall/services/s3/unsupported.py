"""Request members S3 operations do not implement, declared per operation; rolecall.wire.member_guard refuses
a request that sets one (with a value other than those that mean what rolecall does anyway).

RequestPayer is honoured as S3 honours it for a bucket that is not Requester Pays (none is here): accepted.
ACLs follow Object Ownership's BucketOwnerEnforced default (conditions.check_object_acl); explicit grants are
not kept.
"""

from __future__ import annotations

from typing import Any


def refused(*names: str, **accepted: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """Member path -> the values accepted because they mean what rolecall does anyway (none for `names`)."""
    return {name: () for name in names} | accepted


GRANTS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")
SSE_C = ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")
SSE_KMS = refused("SSEKMSKeyId", "SSEKMSEncryptionContext", ServerSideEncryption=("AES256",)) | {
    "BucketKeyEnabled": (False,)
}
OBJECT_LOCK = (
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "ObjectLockLegalHoldStatus",
    "ObjectLockEventHold",
    "ObjectLockEventHoldDurationDays",
    "ObjectLockEventHoldDurationYears",
)
# Checksums rolecall can neither verify nor keep (it keeps CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512).
UNKEPT_CHECKSUMS = ("ChecksumMD5", "ChecksumXXHASH64", "ChecksumXXHASH3", "ChecksumXXHASH128")
# Object writes: tags, encryption other than S3's default, Object Lock, grants.
WRITE_REFUSED = refused(*GRANTS, *SSE_C, *OBJECT_LOCK, "Tagging") | SSE_KMS
# Versioning is not implemented: the only version of an object is "null", as in an unversioned bucket.
VERSION = {"VersionId": ("null",)}
CREATE_BUCKET = refused(
    *GRANTS,
    "GrantWrite",
    "BucketNamespace",
    "CreateBucketConfiguration.Location",
    "CreateBucketConfiguration.Bucket",
    "CreateBucketConfiguration.Tags",
    ObjectLockEnabledForBucket=(False,),
    ObjectOwnership=("BucketOwnerEnforced",),
)
READ = refused(*SSE_C, "PartNumber") | VERSION
# MFA delete and governance retention belong to versioning and Object Lock; the last two conditions are for
# directory buckets.
DELETE = (
    refused("MFA", "IfMatchLastModifiedTime", "IfMatchSize", BypassGovernanceRetention=(False,)) | VERSION
)
DELETE_MANY = refused(
    "MFA",
    "Delete.Objects.ETag",
    "Delete.Objects.LastModifiedTime",
    "Delete.Objects.Size",
    BypassGovernanceRetention=(False,),
) | {"Delete.Objects.VersionId": ("null",)}
COPY = WRITE_REFUSED | refused(
    *(f"CopySource{name}" for name in SSE_C),
    "ChecksumAlgorithm",
    "AnnotationDirective",
    TaggingDirective=("COPY",),
)
