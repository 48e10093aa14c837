"""AWS Identity and Access Management (query protocol, signing name "iam", botocore model "iam")."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.iam.account import EntityOperations
from rolecall.services.iam.policies import PolicyOperations
from rolecall.services.iam.simulator import SimulatorOperations


class IAM(EntityOperations, PolicyOperations, SimulatorOperations, Service):
    name = "iam"
    model = "iam"
