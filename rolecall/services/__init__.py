"""Every AWS service rolecall serves: this registry is the only list of them.

Each entry is a factory, so a service's modules load only when a server is built. rolecall.app builds the
services from here and hands them to the pipeline; nothing else names a service.
"""

from __future__ import annotations

from collections.abc import Callable

from rolecall.core.operations import Service


def _iam() -> Service:
    from rolecall.services.iam import IAM

    return IAM()


def _sts() -> Service:
    from rolecall.services.sts import STS

    return STS()


def _cloudtrail() -> Service:
    from rolecall.services.cloudtrail import CloudTrail

    return CloudTrail()


def _logs() -> Service:
    from rolecall.services.logs import Logs

    return Logs()


def _ec2() -> Service:
    from rolecall.services.ec2 import EC2

    return EC2()


def _lambda() -> Service:
    from rolecall.services.lambda_ import Lambda

    return Lambda()


def _s3() -> Service:
    from rolecall.services.s3 import S3

    return S3()


def _accessanalyzer() -> Service:
    from rolecall.services.accessanalyzer import AccessAnalyzer

    return AccessAnalyzer()


def _cloudwatch() -> Service:
    from rolecall.services.cloudwatch import CloudWatch

    return CloudWatch()


def _sns() -> Service:
    from rolecall.services.sns import SNS

    return SNS()


def _dynamodb() -> Service:
    from rolecall.services.dynamodb import DynamoDB

    return DynamoDB()


def _autoscaling() -> Service:
    from rolecall.services.autoscaling import AutoScaling

    return AutoScaling()


# Signing name -> factory.
SERVICES: dict[str, Callable[[], Service]] = {
    "iam": _iam,
    "sts": _sts,
    "cloudtrail": _cloudtrail,
    "logs": _logs,
    "ec2": _ec2,
    "lambda": _lambda,
    "s3": _s3,
    "access-analyzer": _accessanalyzer,
    "monitoring": _cloudwatch,
    "sns": _sns,
    "dynamodb": _dynamodb,
    "autoscaling": _autoscaling,
}


def all_services() -> list[Service]:
    """A fresh instance of every service."""
    return [factory() for factory in SERVICES.values()]


__all__ = ["SERVICES", "Service", "all_services"]
