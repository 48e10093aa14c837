"""Regenerate rolecall/data/known_members.json: the input members rolecall's handlers were written against.

Run it after a botocore upgrade, once every member it reports as added is honoured by its handler or
declared `unsupported` on its @operation (rolecall.wire.member_guard refuses the rest at run time).
"""

from __future__ import annotations

import argparse
import json

from rolecall.services import all_services
from rolecall.wire.member_guard import SNAPSHOT_PATH, build_snapshot, member_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/refresh_known_members.py",
        description="Regenerate rolecall/data/known_members.json from the installed botocore's models. "
        "Run it only once the handlers honour, or declare unsupported, every member it reports as added.",
    )
    parser.add_argument("--check", action="store_true", help="only report the difference; write nothing")
    args = parser.parse_args(argv)
    fresh = build_snapshot(all_services())
    old = json.loads(SNAPSHOT_PATH.read_text(encoding="utf-8")) if SNAPSHOT_PATH.exists() else {}
    before, after = member_paths(old), member_paths(fresh)
    for line in sorted(after - before):
        print("added:  ", line)
    for line in sorted(before - after):
        print("removed:", line)
    if not args.check:
        SNAPSHOT_PATH.parent.mkdir(exist_ok=True)
        SNAPSHOT_PATH.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {SNAPSHOT_PATH} (botocore {fresh['botocore']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
