"""Service-linked roles: their names and paths, and creating one -- by IAM's CreateServiceLinkedRole, or by
a service on first use (Auto Scaling creates AWSServiceRoleForAutoScaling when a group is first created,
as AWS does). A service-linked role trusts its service and carries the AWS managed policy AWS attaches to
it (a service role policy, which nothing else may attach), so the service can act through it.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall import ids
from rolecall.core.context import OpContext
from rolecall.services.iam.common import (
    ALREADY_EXISTS,
    entity_arn,
    insert_entity,
    iso_now,
    touched,
)
from rolecall.services.iam.errors import InvalidInput

# Where service-linked roles live (arn:aws:iam::ACCOUNT:role/aws-service-role/SERVICE/NAME).
SERVICE_LINKED_PATH = "/aws-service-role/"
DEFAULT_MAX_SESSION_DURATION = 3600
# The AWS managed policies AWS attaches to a service's linked role (the ones rolecall's services act by).
SERVICE_LINKED_ROLE_POLICIES = {
    "autoscaling.amazonaws.com": ["arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy"],
}

# Role names AWS gives service-linked roles, for services whose name does not follow from the
# service principal. Others get AWSServiceRoleFor + the principal's first label, capitalized.
SERVICE_LINKED_ROLE_NAMES = {
    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
    "elasticbeanstalk.amazonaws.com": "AWSServiceRoleForElasticBeanstalk",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "spot.amazonaws.com": "AWSServiceRoleForEC2Spot",
    "spotfleet.amazonaws.com": "AWSServiceRoleForEC2SpotFleet",
    "ec2scheduled.amazonaws.com": "AWSServiceRoleForEC2Scheduled",
    "ec2fleet.amazonaws.com": "AWSServiceRoleForEC2Fleet",
    "replicator.lambda.amazonaws.com": "AWSServiceRoleForLambdaReplicator",
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "eks.amazonaws.com": "AWSServiceRoleForAmazonEKS",
    "eks-nodegroup.amazonaws.com": "AWSServiceRoleForAmazonEKSNodegroup",
    "eks-fargate.amazonaws.com": "AWSServiceRoleForAmazonEKSForFargate",
    "rds.amazonaws.com": "AWSServiceRoleForRDS",
    "redshift.amazonaws.com": "AWSServiceRoleForRedshift",
    "elasticache.amazonaws.com": "AWSServiceRoleForElastiCache",
    "es.amazonaws.com": "AWSServiceRoleForAmazonElasticsearchService",
    "opensearchservice.amazonaws.com": "AWSServiceRoleForAmazonOpenSearchService",
    "organizations.amazonaws.com": "AWSServiceRoleForOrganizations",
    "cloudtrail.amazonaws.com": "AWSServiceRoleForCloudTrail",
    "config.amazonaws.com": "AWSServiceRoleForConfig",
    "guardduty.amazonaws.com": "AWSServiceRoleForAmazonGuardDuty",
    "ssm.amazonaws.com": "AWSServiceRoleForAmazonSSM",
    "support.amazonaws.com": "AWSServiceRoleForSupport",
    "trustedadvisor.amazonaws.com": "AWSServiceRoleForTrustedAdvisor",
    "securityhub.amazonaws.com": "AWSServiceRoleForSecurityHub",
    "inspector2.amazonaws.com": "AWSServiceRoleForAmazonInspector2",
    "access-analyzer.amazonaws.com": "AWSServiceRoleForAccessAnalyzer",
    "backup.amazonaws.com": "AWSServiceRoleForBackup",
    "fsx.amazonaws.com": "AWSServiceRoleForAmazonFSx",
    "kafka.amazonaws.com": "AWSServiceRoleForKafka",
    "sso.amazonaws.com": "AWSServiceRoleForSSO",
    "batch.amazonaws.com": "AWSServiceRoleForBatch",
    "dynamodb.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
    "ec2.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_EC2SpotFleetRequest",
    "lambda.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency",
    "custom-resource.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_CustomResource",
    "rds.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_RDSCluster",
    "sagemaker.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    "appstream.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_AppStreamFleet",
    "comprehend.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ComprehendEndpoint",
    "cassandra.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_CassandraTable",
    "kafka.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_KafkaCluster",
    "elasticache.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ElastiCacheRG",
    "neptune.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_NeptuneCluster",
}


def service_linked_role_name(service: str, suffix: str | None) -> str:
    if not service.endswith(".amazonaws.com") or service == ".amazonaws.com":
        raise InvalidInput(f"Invalid service principal name: {service}")
    name = SERVICE_LINKED_ROLE_NAMES.get(service)
    if name is None:
        label = service.split(".", 1)[0]
        name = "AWSServiceRoleFor" + "".join(part[:1].upper() + part[1:] for part in label.split("-"))
    return f"{name}_{suffix}" if suffix else name


def service_linked_role_path(service: str) -> str:
    return f"{SERVICE_LINKED_PATH}{service}/"


def create_service_linked_role(
    ctx: OpContext, service: str, suffix: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """Create `service`'s linked role in the request's account (InvalidInput when its name is taken)."""
    name = service_linked_role_name(service, suffix)
    if ctx.tx.get(ctx.account, "role", name) is not None:
        raise InvalidInput(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    path = service_linked_role_path(service)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": [service]}, "Action": ["sts:AssumeRole"]}],
    }
    doc: dict[str, Any] = {
        "RoleName": name,
        "RoleId": ids.unique_id(ids.ROLE),
        "Arn": entity_arn(ctx.account, "role", path, name),
        "Path": path,
        "CreateDate": iso_now(ctx),
        "AssumeRolePolicyDocument": json.dumps(trust, separators=(",", ":")),
        "MaxSessionDuration": DEFAULT_MAX_SESSION_DURATION,
        "Tags": [],
        "InlinePolicies": {},
        "AttachedPolicies": list(SERVICE_LINKED_ROLE_POLICIES.get(service, [])),
        "ServiceLinked": {"ServiceName": service},
    }
    if description is not None:
        doc["Description"] = description
    insert_entity(ctx.tx, ctx.account, "role", name, doc, doc["RoleId"], ALREADY_EXISTS["role"].format(name))
    touched(ctx, "role", doc["Arn"])
    return doc


def ensure_service_linked_role(ctx: OpContext, service: str) -> dict[str, Any]:
    """The service's linked role, created now if the account has none (a service's first use)."""
    existing = ctx.tx.get(ctx.account, "role", service_linked_role_name(service, None))
    if existing is not None and existing.get("ServiceLinked", {}).get("ServiceName") == service:
        return existing
    return create_service_linked_role(ctx, service)
