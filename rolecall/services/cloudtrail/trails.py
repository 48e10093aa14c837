"""CloudTrail trails: create, change, describe and delete them; start and stop their logging; their event
selectors. What a logging trail delivers, and how, is rolecall.services.cloudtrail.delivery.

CreateTrail and UpdateTrail check the bucket as CloudTrail does before accepting it: the bucket must
exist (S3BucketDoesNotExistException) and its policy must let cloudtrail.amazonaws.com write this trail's
log files -- s3:PutObject on BUCKET/[PREFIX/]AWSLogs/ACCOUNT/*, with the bucket-owner-full-control ACL,
for aws:SourceArn = this trail (InsufficientS3BucketPolicyException). The check is the policy engine's
own decision on the bucket policy, as the delivery's request will be judged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rolecall.clock import iso
from rolecall.core.context import Caller, OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import AwsError
from rolecall.services.cloudtrail import selectors, trail_store
from rolecall.services.cloudtrail.errors import (
    InsufficientS3BucketPolicyException,
    InvalidCloudWatchLogsLogGroupArnException,
    InvalidCloudWatchLogsRoleArnException,
    InvalidHomeRegionException,
    InvalidParameterCombinationException,
    InvalidS3PrefixException,
    MaximumNumberOfTrailsExceededException,
    S3BucketDoesNotExistException,
    TrailAlreadyExistsException,
)
from rolecall.services.cloudtrail.trail_store import (
    DEFAULT_SELECTORS,
    MAX_TRAILS_PER_REGION,
    check_name,
    doc_name,
    get_trail,
    not_found,
    parse_ref,
    settings_view,
    status_of,
    trail_arn,
    view,
)

SERVICE_PRINCIPAL = "cloudtrail.amazonaws.com"
DELIVERY_ACL = "bucket-owner-full-control"
_LOG_GROUP_ARN = re.compile(r"arn:aws:logs:([a-z0-9-]+):(\d{12}):log-group:([^:]+):\*")
_TIMESTAMPS = frozenset(
    {"LatestDeliveryTime", "StartLoggingTime", "StopLoggingTime", "LatestCloudWatchLogsDeliveryTime"}
)
_ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/.+")

# Members rolecall does not act on: no SNS notifications, KMS encryption or digest files (yet), and no
# AWS Organizations.
UNSUPPORTED = {
    "SnsTopicName": (),
    "KmsKeyId": (),
    "EnableLogFileValidation": (False,),
    "IsOrganizationTrail": (False,),
}


def service_caller(account: str, arn: str) -> Caller:
    """cloudtrail.amazonaws.com acting for the trail `arn`: the aws:SourceArn and aws:SourceAccount AWS
    supplies with the service's requests, so that a bucket policy can name the trail (confused deputy)."""
    return Caller(
        account=account,
        arn=SERVICE_PRINCIPAL,
        type="AWSService",
        principal_id=SERVICE_PRINCIPAL,
        session={"context": {"aws:SourceArn": arn, "aws:SourceAccount": account}},
    )


def log_file_prefix(trail: dict[str, Any], account: str) -> str:
    """Where the trail's log files go in its bucket: [PREFIX/]AWSLogs/ACCOUNT/."""
    prefix = trail.get("S3KeyPrefix")
    return f"{prefix + '/' if prefix else ''}AWSLogs/{account}/"


def _trail_resource(ctx: OpContext, params: dict[str, Any], member: str = "Name") -> str:
    region, account, name = parse_ref(params[member], ctx.region, ctx.account)
    return trail_arn(region, account, name)


def _selector_resource(ctx: OpContext, params: dict[str, Any]) -> str:
    return _trail_resource(ctx, params, "TrailName")


def _all_trails(ctx: OpContext, params: dict[str, Any]) -> str:
    return f"arn:aws:cloudtrail:{ctx.region}:{ctx.account}:trail/*"


def _tag_context(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("TagsList") or []
    if not tags:
        return {}
    out: dict[str, Any] = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in tags}
    out["aws:TagKeys"] = [t["Key"] for t in tags]
    return out


class TrailOperations(Family):
    # --- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _trail(ctx: OpContext, ref: str, *, home: bool = False) -> dict[str, Any]:
        """The trail a name or ARN names, as the caller sees it from this Region. `home`: the operation
        changes the trail, which only its home Region may do (InvalidHomeRegionException)."""
        region, account, name = parse_ref(ref, ctx.region, ctx.account)
        trail = get_trail(ctx.tx, account, region, name) if account == ctx.account else None
        if trail is None and not ref.startswith("arn:"):
            # A name also finds a multi-Region trail created in another Region (its shadow here).
            trail = next(
                (
                    t
                    for t in trail_store.trails(ctx.tx, ctx.account)
                    if t["Name"] == name and t.get("IsMultiRegionTrail")
                ),
                None,
            )
        if trail is None or not trail_store.visible(trail, ctx.region):
            raise not_found(region, account, name, ctx.account)
        if home and trail["HomeRegion"] != ctx.region:
            raise InvalidHomeRegionException(
                f"This operation must be called from the trail's home Region, {trail['HomeRegion']}."
            )
        return trail

    @staticmethod
    def _check_bucket(ctx: OpContext, trail: dict[str, Any]) -> None:
        """The bucket exists and its policy lets CloudTrail write this trail's files (see the module doc)."""
        bucket = trail["S3BucketName"]
        probe = {
            "Bucket": bucket,
            "Key": log_file_prefix(trail, ctx.account) + "rolecall-policy-check",
            "ACL": DELIVERY_ACL,
        }
        caller = service_caller(ctx.account, trail["TrailARN"])
        try:
            refused = ctx.host.refusals_as(caller, "s3", "PutObject", probe, ctx.tx, ctx.region)
        except AwsError as err:
            if err.code == "NoSuchBucket":
                raise S3BucketDoesNotExistException(f"S3 bucket {bucket} does not exist.") from None
            raise
        if refused:
            raise InsufficientS3BucketPolicyException(
                f"Incorrect S3 bucket policy is detected for bucket: {bucket}"
            )

    @staticmethod
    def _apply(ctx: OpContext, trail: dict[str, Any], params: dict[str, Any]) -> None:
        """Set the members the request gives, checking each as CloudTrail does."""
        for member in ("S3BucketName", "IncludeGlobalServiceEvents", "IsMultiRegionTrail"):
            if member in params:
                trail[member] = params[member]
        if "S3KeyPrefix" in params:
            prefix = params["S3KeyPrefix"]
            if len(prefix) > 200 or prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
                raise InvalidS3PrefixException(f"Invalid S3 prefix: {prefix}")
            trail["S3KeyPrefix"] = prefix or None
        if trail.get("IsMultiRegionTrail") and not trail.get("IncludeGlobalServiceEvents", True):
            raise InvalidParameterCombinationException(
                "Multi-Region trail must include global service events."
            )
        for member in ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn"):
            if member in params:
                trail[member] = params[member] or None
        group, role = trail.get("CloudWatchLogsLogGroupArn"), trail.get("CloudWatchLogsRoleArn")
        if bool(group) != bool(role):
            raise InvalidParameterCombinationException(
                "You must specify a log group and a role ARN together."
                if group
                else "You must specify a log group ARN along with a role ARN."
            )
        if group:
            match = _LOG_GROUP_ARN.fullmatch(group)
            if match is None or match.group(2) != ctx.account:
                raise InvalidCloudWatchLogsLogGroupArnException("CloudWatch Logs log group ARN is not valid.")
            if not _ROLE_ARN.fullmatch(role or ""):
                raise InvalidCloudWatchLogsRoleArnException("CloudWatch Logs role ARN is not valid.")

    # --- trails -----------------------------------------------------------------------------------------

    @operation(
        "cloudtrail:CreateTrail",
        resource=lambda ctx, p: trail_arn(ctx.region, ctx.account, p["Name"]),
        context=_tag_context,
        unsupported=UNSUPPORTED,
    )
    def CreateTrail(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        check_name(name)
        mine = trail_store.trails(ctx.tx, ctx.account)
        if any(t["Name"] == name and trail_store.visible(t, ctx.region) for t in mine):
            raise TrailAlreadyExistsException(f"Trail {name} already exists for customer: {ctx.account}")
        if sum(1 for t in mine if t["HomeRegion"] == ctx.region) >= MAX_TRAILS_PER_REGION:
            raise MaximumNumberOfTrailsExceededException(
                f"User: {ctx.account} already has {MAX_TRAILS_PER_REGION} trails in {ctx.region}."
            )
        trail: dict[str, Any] = {
            "Name": name,
            "HomeRegion": ctx.region,
            "TrailARN": trail_arn(ctx.region, ctx.account, name),
            "IncludeGlobalServiceEvents": True,
            "IsMultiRegionTrail": False,
            "LogFileValidationEnabled": False,
            "HasCustomEventSelectors": False,
            "HasInsightSelectors": False,
            "IsOrganizationTrail": False,
            "EventSelectors": DEFAULT_SELECTORS,
            "Tags": {t["Key"]: t.get("Value", "") for t in params.get("TagsList") or []},
        }
        self._apply(ctx, trail, params)
        self._check_bucket(ctx, trail)
        ctx.tx.insert(ctx.account, trail_store.TRAIL, doc_name(ctx.region, name), trail)
        self._note(ctx, trail)
        return settings_view(trail)

    @operation("cloudtrail:UpdateTrail", resource=_trail_resource, unsupported=UNSUPPORTED)
    def UpdateTrail(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._trail(ctx, params["Name"], home=True)
        self._apply(ctx, trail, params)
        if "S3BucketName" in params or "S3KeyPrefix" in params:
            self._check_bucket(ctx, trail)
        ctx.tx.update(ctx.account, trail_store.TRAIL, doc_name(trail["HomeRegion"], trail["Name"]), trail)
        self._note(ctx, trail)
        return settings_view(trail)

    @operation("cloudtrail:DeleteTrail", resource=_trail_resource)
    def DeleteTrail(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._trail(ctx, params["Name"], home=True)
        name = doc_name(trail["HomeRegion"], trail["Name"])
        ctx.tx.delete(ctx.account, trail_store.TRAIL, name)
        ctx.tx.delete(ctx.account, trail_store.STATUS, name)
        self._note(ctx, trail)
        return {}

    @operation("cloudtrail:DescribeTrails", resource=_all_trails)
    def DescribeTrails(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        shadows = params.get("includeShadowTrails", True)
        found = [
            t
            for t in trail_store.trails(ctx.tx, ctx.account)
            if t["HomeRegion"] == ctx.region or (shadows and t.get("IsMultiRegionTrail"))
        ]
        wanted = params.get("trailNameList")
        if wanted:
            refs = [parse_ref(ref, ctx.region, ctx.account) for ref in wanted]
            found = [
                t
                for t in found
                if any(
                    name == t["Name"]
                    and (region, account) in ((t["HomeRegion"], ctx.account), (ctx.region, ctx.account))
                    for region, account, name in refs
                )
            ]
        return {"trailList": [view(t) for t in found]}

    @operation("cloudtrail:GetTrail", resource=_trail_resource)
    def GetTrail(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Trail": view(self._trail(ctx, params["Name"]))}

    @operation("cloudtrail:ListTrails", resource=_all_trails)
    def ListTrails(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        # Every Region's trails of the account, as AWS lists them (one page: at most 5 per Region here).
        return {
            "Trails": [
                {"TrailARN": t["TrailARN"], "Name": t["Name"], "HomeRegion": t["HomeRegion"]}
                for t in trail_store.trails(ctx.tx, ctx.account)
            ]
        }

    # --- logging ----------------------------------------------------------------------------------------

    @operation("cloudtrail:GetTrailStatus", resource=_trail_resource)
    def GetTrailStatus(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._trail(ctx, params["Name"])
        status = status_of(ctx.tx, ctx.account, trail)
        out: dict[str, Any] = {"IsLogging": status["IsLogging"]}
        for key in (
            "LatestDeliveryError",
            "LatestDeliveryTime",
            "StartLoggingTime",
            "StopLoggingTime",
            "LatestCloudWatchLogsDeliveryError",
            "LatestCloudWatchLogsDeliveryTime",
            "LatestDeliveryAttemptTime",
            "LatestDeliveryAttemptSucceeded",
            "TimeLoggingStarted",
            "TimeLoggingStopped",
        ):
            value = status.get(key)
            if value is None:
                continue
            out[key] = datetime.fromtimestamp(value, UTC) if key in _TIMESTAMPS else value
        return out

    def _set_logging(self, ctx: OpContext, params: dict[str, Any], logging: bool) -> dict[str, Any]:
        trail = self._trail(ctx, params["Name"], home=True)
        status = status_of(ctx.tx, ctx.account, trail)
        now = ctx.clock.time()
        stamp = iso(now)
        if logging and not status["IsLogging"]:
            status.update(IsLogging=True, StartLoggingTime=now, TimeLoggingStarted=stamp)
            # Events from now on are logged (a cursor kept from an earlier run goes on where it stopped).
            status["s3_cursor"] = status.get("s3_cursor") or int(now)
            status["cw_cursor"] = status.get("cw_cursor") or int(now)
        elif not logging and status["IsLogging"]:
            status.update(IsLogging=False, StopLoggingTime=now, TimeLoggingStopped=stamp)
        trail_store.save_status(ctx.tx, ctx.account, trail, status)
        self._note(ctx, trail)
        return {}

    @operation("cloudtrail:StartLogging", resource=_trail_resource)
    def StartLogging(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_logging(ctx, params, True)

    @operation("cloudtrail:StopLogging", resource=_trail_resource)
    def StopLogging(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_logging(ctx, params, False)

    # --- event selectors --------------------------------------------------------------------------------

    # Advanced event selectors are not implemented: a request with them is refused, not half-honoured.
    @operation(
        "cloudtrail:PutEventSelectors", resource=_selector_resource, unsupported=["AdvancedEventSelectors"]
    )
    def PutEventSelectors(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._trail(ctx, params["TrailName"], home=True)
        if "EventSelectors" not in params:
            raise InvalidParameterCombinationException(
                "Either EventSelectors or AdvancedEventSelectors must be specified."
            )
        trail["EventSelectors"] = selectors.validate(params["EventSelectors"])
        trail["HasCustomEventSelectors"] = True
        ctx.tx.update(ctx.account, trail_store.TRAIL, doc_name(trail["HomeRegion"], trail["Name"]), trail)
        self._note(ctx, trail)
        return {"TrailARN": trail["TrailARN"], "EventSelectors": trail["EventSelectors"]}

    @operation("cloudtrail:GetEventSelectors", resource=_selector_resource)
    def GetEventSelectors(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._trail(ctx, params["TrailName"])
        return {
            "TrailARN": trail["TrailARN"],
            "EventSelectors": trail.get("EventSelectors") or DEFAULT_SELECTORS,
        }

    @staticmethod
    def _note(ctx: OpContext, trail: dict[str, Any]) -> None:
        ctx.trail_resources.append(
            {"ARN": trail["TrailARN"], "accountId": ctx.account, "type": "AWS::CloudTrail::Trail"}
        )
