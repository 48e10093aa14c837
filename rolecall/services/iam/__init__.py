"""AWS Identity and Access Management (query protocol, signing name "iam", botocore model "iam").

One module per resource family; this is the whole service:
users, access_keys (and console passwords in users), mfa (virtual MFA devices), groups, roles (with service-linked roles),
instance_profiles, inline_policies, managed_policies (customer and AWS managed, versions, attachments),
account (the summary and the authorization snapshot), account_settings (alias, password policy,
ChangePassword), credential_report, certificates (signing and server certificates, SSH public keys),
simulator (Simulate* and GetContextKeys*), oidc_providers and saml_providers (the identity providers STS's federation trusts),
last_accessed (service and action last accessed reports from the trail).
Shared pieces: common (ARNs, paging, tags, lookups), policy_documents, trust_principals.
"""

from __future__ import annotations

from rolecall.core.context import Caller
from rolecall.core.operations import Service
from rolecall.errors import InvalidClientTokenId
from rolecall.services.iam.access_keys import AccessKeyOperations
from rolecall.services.iam.account import AccountOperations
from rolecall.services.iam.account_settings import AccountSettingsOperations
from rolecall.services.iam.certificates import CertificateOperations
from rolecall.services.iam.credential_report import CredentialReportOperations
from rolecall.services.iam.groups import GroupOperations
from rolecall.services.iam.inline_policies import InlinePolicyOperations
from rolecall.services.iam.instance_profiles import InstanceProfileOperations
from rolecall.services.iam.last_accessed import LastAccessedOperations
from rolecall.services.iam.managed_policies import ManagedPolicyOperations
from rolecall.services.iam.mfa import MFAOperations
from rolecall.services.iam.oidc_providers import OIDCProviderOperations
from rolecall.services.iam.roles import RoleOperations
from rolecall.services.iam.saml_providers import SAMLProviderOperations
from rolecall.services.iam.simulator import SimulatorOperations
from rolecall.services.iam.users import UserOperations


class IAM(Service):
    name = "iam"
    model = "iam"
    families = (
        UserOperations,
        AccessKeyOperations,
        MFAOperations,
        GroupOperations,
        RoleOperations,
        InstanceProfileOperations,
        InlinePolicyOperations,
        ManagedPolicyOperations,
        AccountOperations,
        AccountSettingsOperations,
        CredentialReportOperations,
        CertificateOperations,
        SimulatorOperations,
        OIDCProviderOperations,
        SAMLProviderOperations,
        LastAccessedOperations,
    )

    def admit(self, caller: Caller) -> None:
        """GetSessionToken's credentials cannot call IAM without MFA; IAM says the token is invalid."""
        session = caller.session
        # Nor can GetFederationToken's (STS API Reference: "You cannot call any IAM operations").
        if caller.type == "FederatedUser":
            raise InvalidClientTokenId("The security token included in the request is invalid")
        if session and session.get("kind") == "user" and not session.get("mfa"):
            raise InvalidClientTokenId("The security token included in the request is invalid")


__all__ = ["IAM"]
