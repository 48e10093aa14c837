"""Instance profile associations: which role an instance's metadata service hands out.

Associating or replacing a profile passes its role to EC2 (iam:PassRole); the change takes effect at the
endpoint's next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.services.ec2.arns import association_instance, one_instance, pass_role, profile_context
from rolecall.services.ec2.errors import (
    IncorrectInstanceState,
    IncorrectState,
    InvalidAssociationIDNotFound,
    InvalidParameterCombination,
)
from rolecall.services.ec2.records import (
    ASSOCIATION,
    ASSOCIATION_FILTERS,
    INSTANCE,
    association_shape,
    association_visible,
    end_association,
    get_instance,
    get_live_association,
    matcher,
    new_association,
    page,
    require_profile,
    trail_resource,
)

if TYPE_CHECKING:
    from rolecall.services.ec2 import EC2

    pass


class ProfileAssociationOperations(Family):
    service: EC2

    @operation(
        "ec2:AssociateIamInstanceProfile",
        one_instance,
        profile_context,
        extra=lambda ctx, p: pass_role(ctx, p, one_instance(ctx, p)),
    )
    def AssociateIamInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = get_instance(ctx, params["InstanceId"])
        if doc["State"] == "terminated":
            raise IncorrectInstanceState(
                f"The instance '{doc['InstanceId']}' is not in a valid state for this operation."
            )
        if doc.get("AssociationId"):
            raise IncorrectState(f"There is an existing association for instance {doc['InstanceId']}")
        profile = require_profile(ctx.tx, ctx.account, params["IamInstanceProfile"])
        association = new_association(ctx, doc, profile)
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        ctx.trail_resources = [trail_resource(ctx, doc)]
        return {"IamInstanceProfileAssociation": association_shape(association, "associating")}

    @operation(
        "ec2:ReplaceIamInstanceProfileAssociation",
        association_instance,
        lambda ctx, p: profile_context(
            ctx, {**p, "InstanceId": association_instance(ctx, p).rsplit("/", 1)[-1]}
        ),
        extra=lambda ctx, p: pass_role(ctx, p, association_instance(ctx, p)),
    )
    def ReplaceIamInstanceProfileAssociation(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        old = get_live_association(ctx, params["AssociationId"])
        doc = get_instance(ctx, old["InstanceId"])
        if doc["State"] != "running":
            raise IncorrectInstanceState(f"The instance '{doc['InstanceId']}' is not in the 'running' state.")
        profile = require_profile(ctx.tx, ctx.account, params["IamInstanceProfile"])
        end_association(ctx, doc)
        association = new_association(ctx, doc, profile)
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        ctx.trail_resources = [trail_resource(ctx, doc)]
        return {"IamInstanceProfileAssociation": association_shape(association, "associating")}

    @operation("ec2:DisassociateIamInstanceProfile", association_instance)
    def DisassociateIamInstanceProfile(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        association = get_live_association(ctx, params["AssociationId"])
        doc = ctx.tx.get(ctx.account, INSTANCE, association["InstanceId"])
        ended = end_association(ctx, doc) if doc is not None else None
        if doc is None or ended is None:
            raise InvalidAssociationIDNotFound(
                f"The association ID '{params['AssociationId']}' does not exist"
            )
        ctx.tx.update(ctx.account, INSTANCE, doc["InstanceId"], doc)
        ctx.trail_resources = [trail_resource(ctx, doc)]
        return {"IamInstanceProfileAssociation": association_shape(ended, "disassociating")}

    @operation("ec2:DescribeIamInstanceProfileAssociations")
    def DescribeIamInstanceProfileAssociations(
        self, ctx: OpContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        ids = params.get("AssociationIds")
        if ids and params.get("MaxResults") is not None:
            raise InvalidParameterCombination(
                "The parameter associationIds cannot be used with the parameter maxResults"
            )
        keep = matcher(params.get("Filters"), ASSOCIATION_FILTERS)
        if ids:
            docs = []
            for association_id in dict.fromkeys(ids):
                doc = ctx.tx.get(ctx.account, ASSOCIATION, association_id)
                if doc is None or not association_visible(doc, ctx):
                    raise InvalidAssociationIDNotFound(
                        f"The association ID '{association_id}' does not exist"
                    )
                docs.append(doc)
        else:
            docs = [d for d in ctx.tx.list(ctx.account, ASSOCIATION) if association_visible(d, ctx)]
            docs.sort(key=lambda d: (d["Timestamp"], d["AssociationId"]))
        chosen, next_token = page([d for d in docs if keep(d)], params)
        out: dict[str, Any] = {"IamInstanceProfileAssociations": [association_shape(d) for d in chosen]}
        if next_token:
            out["NextToken"] = next_token
        return out
