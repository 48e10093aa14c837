"""The composition root: where a store, the settings, the services and the pipeline become one server.

This is the only module that puts the pipeline and the services together (rolecall.services.SERVICES
names the services); everything below it depends on interfaces, not on each other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os

from rolecall.audit import TrailSink
from rolecall.audit.trail_process import TrailProcess
from rolecall.clock import Clock
from rolecall.console.app import Console
from rolecall.core.config import DEFAULT_ACCOUNT, ServerConfig
from rolecall.credentials.secretbox import SecretBox
from rolecall.pipeline import Pipeline
from rolecall.server import App
from rolecall.services import all_services
from rolecall.store import Store, open_store

# How `rolecall serve --workers N` hands its options to each worker process.
SERVE_ARGS_ENV = "ROLECALL_SERVE_ARGS"


def open_configured_store(args: argparse.Namespace) -> Store:
    return open_store(data_dir=args.data_dir, database_url=args.database_url)


def boxes(master_key: bytes) -> tuple[SecretBox, SecretBox]:
    """The box for secrets at rest and, under a key derived for that purpose alone, the one for session tokens."""
    token_key = hashlib.sha256(b"rolecall session tokens\x00" + master_key).digest()
    return SecretBox(master_key), SecretBox(token_key, purpose=b"rolecall-session-token-v1")


def build_config(store: Store, args: argparse.Namespace) -> tuple[ServerConfig, bool]:
    """The server's settings from its options; `generated` says whether the master key was just made."""
    key, generated = store.master_key()
    secret_box, token_box = boxes(key)
    config = ServerConfig(
        secret_box=secret_box,
        token_box=token_box,
        region=getattr(args, "region", "us-east-1"),
        auth_mode=getattr(args, "auth", "enforce"),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 4577),
        default_account=DEFAULT_ACCOUNT,
        instance_credential_ttl=getattr(args, "instance_credential_ttl", 6 * 3600),
        ec2_vcpu_limit=getattr(args, "ec2_vcpu_limit", None) or ServerConfig.ec2_vcpu_limit,
        data_dir=getattr(args, "data_dir", None),
        lambda_isolation=getattr(args, "lambda_isolation", "sandbox"),
        trail_delivery_interval=getattr(args, "trail_delivery_interval", None)
        or ServerConfig.trail_delivery_interval,
        alarm_evaluation_interval=getattr(args, "alarm_evaluation_interval", None)
        or ServerConfig.alarm_evaluation_interval,
    )
    return config, generated


def build_pipeline(
    store: Store, config: ServerConfig, clock: Clock | None = None, trail: TrailSink | None = None
) -> Pipeline:
    """A started pipeline serving every service (EC2's metadata endpoints open here); its trail writer is
    `trail`, else a thread of this process."""
    pipeline = Pipeline(store, config, all_services(), clock=clock, trail=trail)
    pipeline.start()
    return pipeline


def build_app(store: Store, args: argparse.Namespace, clock: Clock | None = None) -> App:
    """The ASGI app of one server process over an open store, with the web console at /console/."""
    config, _ = build_config(store, args)
    trail = None
    if getattr(args, "trail_writer", "thread") == "process":
        trail = TrailProcess(data_dir=args.data_dir, database_url=args.database_url)
    pipeline = build_pipeline(store, config, clock, trail)
    return App(pipeline, threads=getattr(args, "threads", 8), console=Console(pipeline).handle)


def app_from_env() -> App:
    """The app of one worker process of `rolecall serve --workers N` (uvicorn calls this in each worker)."""
    args = argparse.Namespace(**json.loads(os.environ[SERVE_ARGS_ENV]))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return build_app(open_configured_store(args), args)
