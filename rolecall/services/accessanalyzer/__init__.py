"""IAM Access Analyzer (rest-json): policy validation and custom policy checks (policy_operations),
over the Service Authorization Reference (reference) and rolecall's policy engine (access_checks)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.accessanalyzer.policy_operations import PolicyChecks


class AccessAnalyzer(Service):
    name = "access-analyzer"
    model = "accessanalyzer"
    families = (PolicyChecks,)


__all__ = ["AccessAnalyzer"]
