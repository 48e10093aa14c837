"""How long the first signed requests take on a freshly started server (the target is under 20 ms).

    python bench/first_request.py [--repeat 3]

Each round starts `rolecall serve` on a new data dir, waits for /_rolecall/health, and sends, one at a time
on new connections, signed iam:GetRole (as root, on a role that exists), sts:GetCallerIdentity and then
each again. The signatures are made before the server starts, so only the server's time is measured (with
the loopback round trip). Prints the milliseconds of each, per round.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.server_requests import OPERATIONS, ROLE, TRUST_POLICY, replay, signed_requests  # noqa: E402
from tests.servers import Server  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh servers to start (default: %(default)s)")
    args = parser.parse_args(argv)
    for round_ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="rolecall-first-") as tmp:
            server = Server(data_dir=Path(tmp))
            server.start()
            try:
                key = Credentials(server.access_key, server.secret_key)
                server.client("iam").create_role(
                    RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
                )
                signed = {op.name: signed_requests(server.url, key, op, 2) for op in OPERATIONS}
            finally:
                server.stop()
            # The same data dir, a new process: its first requests are the ones timed.
            server.proc = None
            server.start()
            try:
                times = []
                for i in range(2):
                    for name, requests in signed.items():
                        started = time.perf_counter()
                        status, _ = replay(server.url, requests[i])
                        times.append(
                            f"{name}#{i + 1} {1000 * (time.perf_counter() - started):.1f} ms ({status})"
                        )
                print(f"round {round_ + 1}: " + ", ".join(times))
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
