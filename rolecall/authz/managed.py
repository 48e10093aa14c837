"""AWS managed policies (arn:aws:iam::aws:policy/...), with the documents AWS publishes.

They come from a snapshot shipped in rolecall/data/ (rolecall/data/README.md says where it came from
and how scripts/refresh_managed_policies.py regenerates it), in two files: every policy's metadata
and default version, read on first use (a few hundredths of a second), and the older versions'
documents, read only when one is asked for (they are 32 MB once decompressed; xz keeps the
near-identical versions down to 0.3 MB, where gzip would need 3 MB). These policies are never
stored: every account sees the same read-only set.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

AWS_POLICY_ARN_PREFIX = "arn:aws:iam::aws:policy/"
POLICIES_FILE = "aws_managed_policies.json.gz"
VERSIONS_FILE = "aws_managed_policy_versions.json.xz"
_FORMAT = 1
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# The member order AWS uses when it prints a policy (the snapshot has its keys sorted).
_DOCUMENT_ORDER = ("Version", "Id", "Statement")
_STATEMENT_ORDER = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)


class ManagedPolicyDataMissing(RuntimeError):
    """The packaged snapshot of AWS managed policies is missing or unreadable (a broken install)."""


_lock = threading.Lock()
_by_arn: dict[str, dict[str, Any]] | None = None
_sources: dict[str, dict[str, Any]] = {}  # ARN -> the snapshot's default document, parsed
_version_list: dict[str, list[dict[str, str]]] = {}  # ARN -> [{VersionId, CreateDate}], newest first
_versions_digest: str = ""  # the versions file's sha256, as the policies file records it
_older: dict[str, dict[str, str]] | None = None  # policy name -> version id -> compact document text
_rendered: dict[str, list[dict[str, str]]] = {}  # ARN -> aws_managed_policy_versions' answer


def is_aws_managed_arn(arn: str) -> bool:
    return arn.startswith(AWS_POLICY_ARN_PREFIX)


def aws_managed_policy(arn: str) -> dict[str, Any] | None:
    """The AWS managed policy with this ARN, or None.

    {Arn, PolicyName, PolicyId, Path, DefaultVersionId, Document (text), CreateDate, UpdateDate}
    Document is the default version's. Dates are ISO 8601 UTC strings like the stored documents'.
    Callers must not modify the dict.
    """
    if not is_aws_managed_arn(arn):
        return None
    record = _policies().get(arn)
    if record is None:
        return None
    if "Document" not in record:
        # Rendering 1,500 documents up front would waste time nobody asked for; do it per policy.
        with _lock:
            if "Document" not in record:
                record["Document"] = _render(_sources[arn])
    return record


def aws_managed_policy_versions(arn: str) -> list[dict[str, str]] | None:
    """Every version of an AWS managed policy that the snapshot has, newest first, or None.

    [{VersionId, CreateDate, Document (text)}]; the default version is the first. AWS no longer
    answers for some old versions, and neither does this. Callers must not modify the list.
    """
    record = aws_managed_policy(arn)
    if record is None:
        return None
    versions = _rendered.get(arn)
    if versions is None:
        older = _older_documents().get(record["PolicyName"], {})
        versions = [
            {
                "VersionId": v["VersionId"],
                "CreateDate": v["CreateDate"],
                "Document": record["Document"]
                if v["VersionId"] == record["DefaultVersionId"]
                else _render(json.loads(older[v["VersionId"]])),
            }
            for v in _version_list[arn]
        ]
        _rendered[arn] = versions
    return versions


def list_aws_managed_policies() -> list[dict[str, Any]]:
    """Every AWS managed policy's metadata (no Document: aws_managed_policy(arn) has it), ordered by
    lower-cased name, the order IAM lists policies in. The dicts are copies the caller may keep."""
    records = _policies()
    ordered = sorted(records.values(), key=lambda r: r["PolicyName"].lower())
    return [{k: v for k, v in r.items() if k != "Document"} for r in ordered]


def policy_id_for(name: str) -> str:
    """A stable ANPA... id for an AWS managed policy: AWS's real ids are not in the snapshot, and every
    account must see the same id for the same policy."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest(), "big")
    chars = []
    for _ in range(17):
        digest, i = divmod(digest, 32)
        chars.append(_BASE32[i])
    return "ANPA" + "".join(chars)


def check_data() -> None:
    """Load the snapshot and verify the older versions' file against the digest recorded for it, so that
    `rolecall serve` stops at start on a broken install instead of failing its first request that
    names an AWS managed policy. Raises ManagedPolicyDataMissing."""
    _policies()
    blob = _read(VERSIONS_FILE)
    if hashlib.sha256(blob).hexdigest() != _versions_digest:
        raise ManagedPolicyDataMissing(
            f"{_data_dir() / VERSIONS_FILE} is not the file {POLICIES_FILE} was generated with "
            "(its sha256 differs); reinstall rolecall or rerun scripts/refresh_managed_policies.py."
        )
    try:
        import lzma  # noqa: F401  (some Python builds lack it)
    except ImportError as exc:
        raise ManagedPolicyDataMissing(
            f"this Python has no lzma module, needed to read {VERSIONS_FILE}."
        ) from exc


# ---------------------------------------------------------------- loading


def _data_dir() -> Traversable:
    """rolecall/data/ as installed (a directory, or inside a zip or wheel)."""
    return resources.files("rolecall") / "data"


def _read(name: str) -> bytes:
    path = _data_dir() / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ManagedPolicyDataMissing(
            f"AWS managed policy data is unavailable: cannot read {path} ({exc.strerror or exc}); "
            "it is package data that every rolecall install carries: reinstall rolecall."
        ) from exc


def _decode(name: str, blob: bytes, decompress: Any) -> dict[str, Any]:
    try:
        data = json.loads(decompress(blob))
    except Exception as exc:  # gzip's and lzma's errors, truncation, bad JSON: all mean a broken file
        raise ManagedPolicyDataMissing(
            f"AWS managed policy data is unreadable: {_data_dir() / name}: {exc}; reinstall rolecall."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ManagedPolicyDataMissing(
            f"{_data_dir() / name} is not format {_FORMAT} AWS managed policy data; reinstall rolecall."
        )
    return data


def _policies() -> dict[str, dict[str, Any]]:
    global _by_arn
    if _by_arn is None:
        with _lock:
            if _by_arn is None:
                _by_arn = _load()
    return _by_arn


def _load() -> dict[str, dict[str, Any]]:
    global _versions_digest
    data = _decode(POLICIES_FILE, _read(POLICIES_FILE), gzip.decompress)
    out: dict[str, dict[str, Any]] = {}
    for name, entry in data["policies"].items():
        arn = f"{AWS_POLICY_ARN_PREFIX}{entry['Path'][1:]}{name}"
        out[arn] = {
            "Arn": arn,
            "PolicyName": name,
            "PolicyId": policy_id_for(name),
            "Path": entry["Path"],
            "DefaultVersionId": entry["DefaultVersionId"],
            "CreateDate": entry["CreateDate"],
            "UpdateDate": entry["UpdateDate"],
        }
        _sources[arn] = entry["Document"]
        _version_list[arn] = entry["Versions"]
    _versions_digest = data["versions_file"]["sha256"]
    return out


def _older_documents() -> dict[str, dict[str, str]]:
    """The older versions' documents, read on the first request for one (a quarter of a second)."""
    global _older
    if _older is None:
        import lzma

        _policies()
        with _lock:
            if _older is None:
                blob = _read(VERSIONS_FILE)
                _older = _decode(VERSIONS_FILE, blob, lzma.decompress)["documents"]
    return _older


def _ordered(obj: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: obj[k] for k in order if k in obj}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def _render(document: dict[str, Any]) -> str:
    """The document as IAM prints AWS managed policies: Version first, four-space indentation."""
    doc = _ordered(document, _DOCUMENT_ORDER)
    statements = doc.get("Statement")
    if isinstance(statements, list):
        doc["Statement"] = [_ordered(s, _STATEMENT_ORDER) if isinstance(s, dict) else s for s in statements]
    elif isinstance(statements, dict):
        doc["Statement"] = _ordered(statements, _STATEMENT_ORDER)
    return json.dumps(doc, indent=4)
