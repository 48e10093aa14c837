"""botocore's service models, loaded once per process.

Loading and building a model takes milliseconds to tens of milliseconds (EC2's is large), so every codec,
validator and the SigV4 service lookup share these cached instances.
"""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader, create_loader
from botocore.model import ServiceModel


@cache
def _loader() -> Loader:
    return create_loader()


@cache
def service_model(service_name: str) -> ServiceModel:
    """The botocore ServiceModel for a service ("iam", "sts", "cloudtrail", ...). Raises on an unknown name."""
    raw = _loader().load_service_model(service_name, "service-2")
    return ServiceModel(raw, service_name=service_name)


def lower_first(name: str) -> str:
    """Member names as AWS's validation messages spell them: "RoleName" -> "roleName"."""
    return name[:1].lower() + name[1:]
