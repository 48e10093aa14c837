"""S3's limits and the object headers it keeps, as S3 documents them."""

from __future__ import annotations

import logging
import re

log = logging.getLogger("rolecall.s3")

BUCKET_KIND = "s3-bucket"
MAX_KEY_BYTES = 1024
MAX_LIST_KEYS = 1000
MAX_DELETE_KEYS = 1000
MAX_PARTS = 10000
MAX_LIST_PARTS = 1000
MAX_LIST_UPLOADS = 1000
MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last
# Checksum algorithms by the multipart checksum types S3 allows them with.
FULL_OBJECT_ALGORITHMS = frozenset({"CRC32", "CRC32C", "CRC64NVME"})
COMPOSITE_ALGORITHMS = frozenset({"CRC32", "CRC32C", "SHA1", "SHA256"})

# Object headers kept with the object and returned on GET/HEAD, by member name.
STORED_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
)
# GetObject's response-* overrides: query member -> the response header member it replaces.
RESPONSE_OVERRIDES = {
    "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType",
    "ResponseExpires": "Expires",
}
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
