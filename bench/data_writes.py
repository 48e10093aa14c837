"""What a data-plane write costs the requests after it: signed DynamoDB PutItem and IAM GetRole, alternating.

    python bench/data_writes.py                 # SQLite in a temporary directory, 3 rounds of 400 pairs
    python bench/data_writes.py --postgres      # a scratch PostgreSQL database on 127.0.0.1:5432

The workload is server_requests.py's (the user with 10 policies of 10 statements, the role) plus a table
and a policy that lets the user put items, built in this process on one Pipeline (pipeline_stages.py's
in-process boto3). Each round times the pairs twice, as the store is (DynamoDB items are a volatile kind,
rolecall.store.volatile: their writes leave the store generation alone) and then with the volatile list
emptied, as before that change, when every PutItem moved the generation and so emptied every cache keyed
by it (compiled policies, signing keys, cached documents). Printed per pair: the request thread's CPU time
of the PutItem and of the GetRole after it, the wall time per pair, and how far the generation moved.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.pipeline_stages import ENDPOINT, ROOT_KEY, in_process, to_http  # noqa: E402
from bench.server_requests import OPERATIONS, USER, Operation, create_workload, signed_requests  # noqa: E402

TABLE = "bench-items"
PUT_ITEM = Operation(
    "PutItem",
    "dynamodb",
    lambda c: c.put_item(TableName=TABLE, Item={"k": {"S": "a"}, "v": {"S": "x" * 50}}),
    lambda w: "",
)
ALLOW_PUT_ITEM = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"*"}]}'
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="on a scratch PostgreSQL database")
    parser.add_argument("--pairs", type=int, default=400, help="timed PutItem + GetRole pairs per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ["ROLECALL_ROOT_ACCESS_KEY_ID"], os.environ["ROLECALL_ROOT_SECRET_ACCESS_KEY"] = ROOT_KEY
    os.environ.setdefault("ROLECALL_MASTER_KEY", "rolecall-bench-master-key")
    from tests.servers import create_pg_database, drop_pg_database

    database_url = create_pg_database() if args.postgres else None
    try:
        run(args, database_url)
    finally:
        if database_url:
            drop_pg_database(database_url)
    return 0


def run(args: argparse.Namespace, database_url: str | None) -> None:
    from botocore.credentials import Credentials

    import rolecall.store.volatile as volatile
    from rolecall.app import build_config, build_pipeline
    from rolecall.credentials.accounts import ensure_default_account
    from rolecall.store import open_store

    with tempfile.TemporaryDirectory(prefix="rolecall-data-writes-") as tmp:
        store = open_store(data_dir=tmp, database_url=database_url)
        config, _ = build_config(store, argparse.Namespace(auth="enforce", data_dir=tmp))
        ensure_default_account(store, config.secret_box, config.default_account)
        pipeline = build_pipeline(store, config)
        in_process(pipeline)
        workload = create_workload(ENDPOINT, Credentials(*ROOT_KEY))
        root = {"endpoint_url": ENDPOINT, "region_name": "us-east-1"}
        root |= {"aws_access_key_id": ROOT_KEY[0], "aws_secret_access_key": ROOT_KEY[1]}
        boto3.client("iam", **root).put_user_policy(
            UserName=USER, PolicyName="put", PolicyDocument=ALLOW_PUT_ITEM
        )
        boto3.client("dynamodb", **root).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        get_role = [
            to_http(s.method, s.path, s.headers, s.body)
            for s in signed_requests(ENDPOINT, workload.user_key, OPERATIONS[0], 200)
        ]
        put_item = [
            to_http(s.method, s.path, s.headers, s.body)
            for s in signed_requests(ENDPOINT, workload.user_key, PUT_ITEM, 200)
        ]
        assert pipeline.handle(put_item[0]).status == 200 and pipeline.handle(get_role[0]).status == 200
        kept = volatile.VOLATILE_PREFIXES
        try:
            for number in range(args.rounds):
                for label, prefixes in (("volatile kinds", kept), ("every write bumps", ())):
                    volatile.VOLATILE_PREFIXES = prefixes
                    for i in range(50):  # warm-up
                        pipeline.handle(put_item[i % 200])
                        pipeline.handle(get_role[i % 200])
                    first = store.generation()
                    put_cpu = get_cpu = 0.0
                    started = time.perf_counter()
                    for i in range(args.pairs):
                        a = time.thread_time()
                        pipeline.handle(put_item[i % 200])
                        b = time.thread_time()
                        pipeline.handle(get_role[i % 200])
                        put_cpu, get_cpu = put_cpu + b - a, get_cpu + time.thread_time() - b
                    wall = time.perf_counter() - started
                    print(
                        f"round {number} {label:18} PutItem {1e6 * put_cpu / args.pairs:6.0f} us, GetRole after it "
                        f"{1e6 * get_cpu / args.pairs:6.0f} us (request-thread CPU); wall per pair "
                        f"{1e6 * wall / args.pairs:6.0f} us; generation moved {store.generation() - first}"
                    )
        finally:
            volatile.VOLATILE_PREFIXES = kept
        pipeline.close()
        store.close()


if __name__ == "__main__":
    sys.exit(main())
