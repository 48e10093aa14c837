"""AWS Identity and Access Management (query protocol, signing name "iam", botocore model "iam")."""

from __future__ import annotations

from rolecall.services.base import Service
from rolecall.services.iam_entities import EntityOperations
from rolecall.services.iam_policies import PolicyOperations
from rolecall.services.iam_simulator import SimulatorOperations


class IAM(EntityOperations, PolicyOperations, SimulatorOperations, Service):
    name = "iam"
    model = "iam"
