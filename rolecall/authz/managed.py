"""AWS managed policies (arn:aws:iam::aws:policy/...), with the documents AWS publishes.

The documents come from the moto package, which keeps a snapshot of every AWS managed policy in
moto/iam/aws_managed_policies.py (one JSON string, `aws_managed_policies_data`). Importing moto.iam
costs seconds, so the file is located without importing it, its one assignment is read with `ast`,
and the JSON is parsed once, on first use. These policies are never stored: every account sees the
same read-only set.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

AWS_POLICY_ARN_PREFIX = "arn:aws:iam::aws:policy/"
_DATA_MODULE = ("iam", "aws_managed_policies.py")
_DATA_NAME = "aws_managed_policies_data"
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
    """The moto package (which ships AWS's managed-policy documents) is not installed or has moved them."""


_lock = threading.Lock()
_by_arn: dict[str, dict[str, Any]] | None = None
_sources: dict[str, dict[str, Any]] = {}  # ARN -> the snapshot's parsed document


def is_aws_managed_arn(arn: str) -> bool:
    return arn.startswith(AWS_POLICY_ARN_PREFIX)


def aws_managed_policy(arn: str) -> dict[str, Any] | None:
    """The AWS managed policy with this ARN, or None.

    {Arn, PolicyName, PolicyId, Path, DefaultVersionId, Document (text), CreateDate, UpdateDate}
    Dates are ISO 8601 UTC strings like the stored documents'. Callers must not modify the dict.
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


# ---------------------------------------------------------------- loading


def _policies() -> dict[str, dict[str, Any]]:
    global _by_arn
    if _by_arn is None:
        with _lock:
            if _by_arn is None:
                _by_arn = _load()
    return _by_arn


def _data_file() -> Path:
    spec = importlib.util.find_spec("moto")  # a top-level package: found without importing it
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location).joinpath(*_DATA_MODULE)
        if candidate.is_file():
            return candidate
    raise ManagedPolicyDataMissing(
        "AWS managed policy documents are unavailable: rolecall reads them from the moto package "
        "(moto/iam/aws_managed_policies.py); install moto>=5.1,<6."
    )


def _load() -> dict[str, dict[str, Any]]:
    path = _data_file()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == _DATA_NAME
        ):
            raw = json.loads(ast.literal_eval(node.value))
            break
    else:
        raise ManagedPolicyDataMissing(f"{path} no longer assigns {_DATA_NAME}; check the moto version.")
    out: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        path_ = entry.get("Path") or "/"
        arn = f"{AWS_POLICY_ARN_PREFIX}{path_[1:]}{name}"
        out[arn] = {
            "Arn": arn,
            "PolicyName": name,
            "PolicyId": policy_id_for(name),
            "Path": path_,
            "DefaultVersionId": entry.get("DefaultVersionId") or "v1",
            "CreateDate": _iso(entry.get("CreateDate")),
            "UpdateDate": _iso(entry.get("UpdateDate") or entry.get("CreateDate")),
        }
        _sources[arn] = entry["Document"]
    return out


def _iso(value: str | None) -> str:
    """'2015-02-06T18:39:46+00:00' -> '2015-02-06T18:39:46Z' (the form the store's documents use)."""
    if not value:
        return "2015-02-06T18:39:46Z"
    return value.replace("+00:00", "Z")


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
