"""What one operation asks the policy engine, declared as data beside the operation (see @operation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolecall.core.context import OpContext, Params

# A function of the request that computes part of a declaration (an ARN, context keys, a resource policy).
Resolver = Callable[["OpContext", "Params"], Any]


@dataclass(frozen=True)
class Authorization:
    """What one operation asks the policy engine.

    action:   the IAM action, e.g. "iam:CreateRole".
    resource: an ARN, or a function (ctx, params) -> ARN or list of ARNs ("*" for account-wide actions).
    context:  a function (ctx, params) -> extra request context keys (aws:RequestTag/..., iam:PassedToService, ...).
    public:   needs no permission at all (sts:GetCallerIdentity).
    resource_policy: a function (ctx, params) -> (Policy or None, owning account or None): the resource's own
              policy (a role's trust policy for sts:AssumeRole, a bucket policy), evaluated with the identity's.
    extra:    a function (ctx, params) -> [(action, resource, context)]: further permissions the same call needs
              (sts:TagSession when tags are passed, iam:PassRole on a role handed to a service), each checked
              with the same principal, the request context plus `context`, and the resource policy -- or,
              given as a fourth item (policy, owning account), that other resource's own policy
              (s3:GetObject on CopyObject's source object, under the source bucket's policy).
    """

    action: str
    resource: str | Resolver = "*"
    context: Resolver | None = None
    public: bool = False
    resource_policy: Resolver | None = None
    extra: Resolver | None = None

    def resources(self, ctx: OpContext, params: Params) -> list[str]:
        """The ARNs the action is authorized on for this request."""
        found = self.resource(ctx, params) if callable(self.resource) else self.resource
        if isinstance(found, str):
            return [found]
        return list(found) or ["*"]
