"""Settings of a running server, shared by the pipeline and the handlers (ctx.config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rolecall.credentials.secretbox import SecretBox

DEFAULT_ACCOUNT = "123456789012"


@dataclass
class ServerConfig:
    secret_box: SecretBox  # seals secret access keys at rest
    token_box: SecretBox | None = None  # seals session tokens (STS)
    region: str = "us-east-1"
    auth_mode: str = "enforce"  # enforce | soft | off
    host: str = "127.0.0.1"
    port: int = 4577
    default_account: str = DEFAULT_ACCOUNT
    instance_credential_ttl: int = 6 * 3600
    # vCPUs that each On-Demand instance bucket (Standard, G and VT, P, ...) allows per account and Region
    # (rolecall.services.ec2.quotas).
    ec2_vcpu_limit: int = 32
    # Where files live beside the store: the credentials file, and each node's cache of unpacked Lambda code (S3
    # objects and Lambda packages are in the store; files an older rolecall kept here are moved there at start).
    data_dir: str | None = None
    lambda_isolation: str = "sandbox"  # sandbox | none (functions run as the server's user, unisolated)
    # Seconds between a logging trail's deliveries of log files (AWS: about every 5 minutes).
    trail_delivery_interval: float = 300.0
    # Seconds between evaluations of CloudWatch alarms (AWS: every minute).
    alarm_evaluation_interval: float = 60.0
