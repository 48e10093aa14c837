"""Amazon EC2, as far as instance roles need it: instances (instances), their instance profile
associations (profile_associations), launch templates (launch_templates), and the metadata service every running instance has (imds/).

Launching with, associating or replacing an instance profile passes its role to EC2, which needs
iam:PassRole on the role with iam:PassedToService = ec2.amazonaws.com. EC2 reports every denial as
UnauthorizedOperation with an encoded authorization message (sts:DecodeAuthorizationMessage reads it).
"""

from __future__ import annotations

from rolecall.authz.messages import encode_authorization_message
from rolecall.core.context import Check, OpContext
from rolecall.core.host import Host, InternalRoute
from rolecall.core.operations import Service, access_denied
from rolecall.errors import (
    AwsError,
    ExpiredToken,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    MissingParameter,
    SignatureDoesNotMatch,
)
from rolecall.services.ec2.errors import AuthFailure, RequestExpired, UnauthorizedOperation
from rolecall.services.ec2.imds.endpoint import LOOKUP_PREFIX, ImdsManager
from rolecall.services.ec2.instances import InstanceOperations
from rolecall.services.ec2.launch_templates import LaunchTemplateOperations
from rolecall.services.ec2.profile_associations import ProfileAssociationOperations

# The SigV4 check's messages for a request dated too far from the server's clock.
_SIGNATURE_TIME = ("Signature expired", "Signature not yet current")


class EC2(Service):
    name = "ec2"
    model = "ec2"
    families = (InstanceOperations, ProfileAssociationOperations, LaunchTemplateOperations)

    def __init__(self) -> None:
        super().__init__()
        self.imds: ImdsManager | None = None  # one metadata endpoint per running instance, once started

    def start(self, host: Host) -> None:
        super().start(host)
        self.imds = ImdsManager(host)
        self.imds.start_known()  # a server restarting brings back the endpoints of running instances

    def stop(self) -> None:
        if self.imds is not None:
            self.imds.close()

    def reset(self) -> None:
        self.stop()

    def internal_routes(self) -> dict[str, InternalRoute]:
        if self.imds is None:
            return {}
        return {LOOKUP_PREFIX: self.imds.endpoint_response}

    def close_endpoint(self, instance_id: str) -> None:
        """Stop a stopped or terminated instance's metadata endpoint."""
        if self.imds is not None:
            self.imds.close_instance(instance_id)

    def authentication_error(self, err: AwsError) -> AwsError:
        """EC2's words (services/ec2/errors.py): an unknown or inactive key, or a signature that does not
        hold, is AuthFailure; expired temporary credentials, or a request signed too long ago (or in the
        future), RequestExpired; a request without any signature, MissingParameter -- as EC2 answers an
        unsigned call ("The request must contain the parameter AWSAccessKeyId")."""
        if isinstance(err, InvalidClientTokenId) or (
            isinstance(err, SignatureDoesNotMatch) and not err.message.startswith(_SIGNATURE_TIME)
        ):
            return AuthFailure()
        if isinstance(err, ExpiredToken | SignatureDoesNotMatch):
            return RequestExpired()
        if isinstance(err, MissingAuthenticationToken):
            return MissingParameter("The request must contain the parameter AWSAccessKeyId")
        return err

    def denial(self, ctx: OpContext, check: Check) -> AwsError:
        """EC2's refusal: UnauthorizedOperation, with the decision sealed for sts:DecodeAuthorizationMessage."""
        encoded = encode_authorization_message(ctx.config.token_box, ctx.caller, check, check.context)
        reason = access_denied(ctx.caller, check).message
        return UnauthorizedOperation(
            f"You are not authorized to perform this operation. {reason}. "
            f"Encoded authorization failure message: {encoded}"
        )


__all__ = ["EC2"]
