"""IAM Access Analyzer (rest-json): policy validation and custom policy checks (policy_operations, over
policy_checks and access_checks), and analyzers with their archive rules and findings (analyzers, over
findings: external access and unused access, from the account's state and trail), and policies
generated from the trail (policy_generation)."""

from __future__ import annotations

from rolecall.core.operations import Service
from rolecall.services.accessanalyzer.analyzers import (
    AnalyzerOperations,
    ArchiveRuleOperations,
    FindingOperations,
)
from rolecall.services.accessanalyzer.policy_generation import PolicyGenerationOperations
from rolecall.services.accessanalyzer.policy_operations import PolicyChecks


class AccessAnalyzer(Service):
    name = "access-analyzer"
    model = "accessanalyzer"
    families = (
        PolicyChecks,
        AnalyzerOperations,
        ArchiveRuleOperations,
        FindingOperations,
        PolicyGenerationOperations,
    )

    def admit(self, caller: object) -> None:
        """Unused-access findings read the trail: write pending records first, so that they count."""
        if self.host is not None:
            self.host.flush_trail()


__all__ = ["AccessAnalyzer"]
