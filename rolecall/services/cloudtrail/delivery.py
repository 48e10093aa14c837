"""What a logging trail delivers: its records, as gzipped log files in its S3 bucket and, when it has a log
group and role, as events in CloudWatch Logs.

Every `interval` seconds (--trail-delivery-interval; AWS: about every 5 minutes), for each logging trail,
the records its selectors take (rolecall.services.cloudtrail.selectors) with event times since the last
delivery go out:

- to S3, one file per Region of the records, at
  [PREFIX/]AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM.json.gz
  holding {"Records": [...]}. The file is written by a PutObject request of cloudtrail.amazonaws.com itself
  (with aws:SourceArn = the trail and the bucket-owner-full-control ACL), through the whole request path:
  only the bucket policy can allow it, and the write is in the trail as the service's call. A refused
  write leaves the records for the next attempt and shows in GetTrailStatus's LatestDeliveryError.
- to CloudWatch Logs, as CloudTrail does it: it assumes the trail's CloudWatchLogsRoleArn (the role's
  trust policy must allow cloudtrail.amazonaws.com), then, with the role's credentials, creates the log
  stream ACCOUNT_CloudTrail_REGION and puts each record as one event (logs:CreateLogStream and
  logs:PutLogEvents, judged against the role's policies). A refusal shows in
  LatestCloudWatchLogsDeliveryError.

Records are read some seconds behind the clock (LAG), so that requests still committing when a delivery
starts are not skipped. One thread per server runs the deliveries (started and stopped with the service),
and each delivery runs outside any request's transaction; of several nodes sharing a database, one
delivers each round (rolecall.core.rounds).
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import string
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rolecall.core import rounds
from rolecall.errors import AwsError
from rolecall.services.cloudtrail import selectors, trail_store
from rolecall.services.cloudtrail.trails import (
    DELIVERY_ACL,
    SERVICE_PRINCIPAL,
    log_file_prefix,
    service_caller,
)
from rolecall.services.sts.service_sessions import assume_role_for_service
from rolecall.store import GLOBAL

if TYPE_CHECKING:
    from rolecall.core.host import Host

log = logging.getLogger("rolecall.cloudtrail")

LAG = 2  # seconds behind the clock a delivery reads up to (requests still committing)
PAGE = 50  # records per lookup page
ROLE_SESSION = "CloudTrailCloudWatchLogsDelivery"
ROLE_DURATION = 3600
_RANDOM = string.ascii_letters + string.digits


def log_file_key(trail: dict[str, Any], account: str, region: str, moment: datetime) -> str:
    """AWS's documented name of a log file delivered at `moment` for the records of `region`."""
    return (
        f"{log_file_prefix(trail, account)}CloudTrail/{region}/{moment:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{moment:%Y%m%dT%H%MZ}_"
        + "".join(secrets.choice(_RANDOM) for _ in range(16))
        + ".json.gz"
    )


class TrailDelivery:
    """Delivers every logging trail's records; `deliver_due()` is one round (the thread calls it)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._lock = threading.Lock()  # one round at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._credentials: dict[
            str, tuple[str, float, dict[str, str]]
        ] = {}  # trail ARN -> (role, expires, creds)

    # -- the thread ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cloudtrail-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        interval = max(0.2, float(self.host.config.trail_delivery_interval))
        while not self._stop.wait(min(interval, 1.0)):
            try:
                self.deliver_due()
            except Exception:  # a round that fails must not end deliveries
                log.exception("trail delivery failed")

    # -- one round -----------------------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop the role credentials kept between rounds (state reset)."""
        self._credentials.clear()

    def deliver_due(self, *, force: bool = False) -> None:
        """Deliver for every logging trail whose interval has passed (every logging trail with `force`)."""
        with self._lock:
            now = self.host.clock.time()
            interval = float(self.host.config.trail_delivery_interval)
            due: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
            with self.host.store.read_transaction() as tx:
                for account in [a["AccountId"] for a in tx.list(GLOBAL, "account")]:
                    for trail in trail_store.trails(tx, account):
                        status = trail_store.status_of(tx, account, trail)
                        last = status.get("LatestDeliveryAttemptEpoch") or status.get("StartLoggingTime") or 0
                        if status["IsLogging"] and (force or now - last >= interval):
                            due.append((account, trail, status))
            # With several nodes on one database, one of them delivers each trail's round.
            due = [d for d in due if force or rounds.claim(self.host.store, d[1]["TrailARN"], now, interval)]
            if due:
                self.host.flush_trail()
            for account, trail, status in due:
                self._deliver(account, trail, status, now)

    def _records(self, account: str, since: int, until: int) -> list[dict[str, Any]]:
        """The account's records with event times in [since, until), oldest first."""
        start = datetime.fromtimestamp(since, UTC)
        end = datetime.fromtimestamp(until - 1, UTC)
        out: list[dict[str, Any]] = []
        token = None
        while True:
            page, token = self.host.store.lookup_events(
                account, start=start, end=end, max_results=PAGE, next_token=token
            )
            out.extend(page)
            if not token:
                break
        out.reverse()
        return out

    def _deliver(self, account: str, trail: dict[str, Any], status: dict[str, Any], now: float) -> None:
        until = int(now) - LAG
        s3_since = status.get("s3_cursor") or until
        cw_since = status.get("cw_cursor") or until
        since = min(s3_since, cw_since)
        records = self._records(account, since, until) if since < until else []
        chosen = [r for r in records if selectors.selected(trail, r)]
        changes: dict[str, Any] = {"LatestDeliveryAttemptEpoch": now}
        if s3_since < until:
            changes.update(self._to_s3(account, trail, [r for r in chosen if _epoch(r) >= s3_since], now))
            if changes.get("LatestDeliveryAttemptSucceeded") != "FALSE":
                changes["s3_cursor"] = until
        if trail.get("CloudWatchLogsLogGroupArn") and cw_since < until:
            cw = self._to_logs(account, trail, [r for r in chosen if _epoch(r) >= cw_since], now)
            changes.update(cw)
            if cw.get("LatestCloudWatchLogsDeliveryError") is None:
                changes["cw_cursor"] = until
        elif not trail.get("CloudWatchLogsLogGroupArn"):
            changes["cw_cursor"] = until
        self._save(account, trail, changes)

    def _save(self, account: str, trail: dict[str, Any], changes: dict[str, Any]) -> None:
        with self.host.store.transaction() as tx:
            if trail_store.get_trail(tx, account, trail["HomeRegion"], trail["Name"]) is None:
                return  # deleted meanwhile
            status = trail_store.status_of(tx, account, trail)
            if not status["IsLogging"]:
                changes.pop("s3_cursor", None)
                changes.pop("cw_cursor", None)
            status.update(changes)
            trail_store.save_status(tx, account, trail, status)

    # -- S3 ------------------------------------------------------------------------------------------------

    def _to_s3(
        self, account: str, trail: dict[str, Any], records: list[dict[str, Any]], now: float
    ) -> dict[str, Any]:
        if not records:
            return {}
        moment = datetime.fromtimestamp(now, UTC)
        by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in records:
            by_region[rec.get("awsRegion") or trail["HomeRegion"]].append(rec)
        caller = service_caller(account, trail["TrailARN"])
        attempt = {"LatestDeliveryAttemptTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
        for region, recs in sorted(by_region.items()):
            body = gzip.compress(json.dumps({"Records": recs}, separators=(",", ":")).encode("utf-8"))
            params = {
                "Bucket": trail["S3BucketName"],
                "Key": log_file_key(trail, account, region, moment),
                "Body": body,
                "ACL": DELIVERY_ACL,
                "ContentType": "application/json",
            }
            try:
                self.host.invoke(caller, "s3", "PutObject", params, region=trail["HomeRegion"])
            except AwsError as err:
                log.info(
                    "trail %s: delivery to s3://%s refused: %s", trail["TrailARN"], params["Bucket"], err.code
                )
                return {**attempt, "LatestDeliveryAttemptSucceeded": "FALSE", "LatestDeliveryError": err.code}
        return {
            **attempt,
            "LatestDeliveryAttemptSucceeded": "TRUE",
            "LatestDeliveryTime": now,
            "LatestDeliveryError": None,
        }

    # -- CloudWatch Logs -----------------------------------------------------------------------------------

    def _role_credentials(self, account: str, trail: dict[str, Any], now: float) -> dict[str, str]:
        role = trail["CloudWatchLogsRoleArn"]
        cached = self._credentials.get(trail["TrailARN"])
        if cached and cached[0] == role and cached[1] - now > 300:
            return cached[2]
        creds = assume_role_for_service(
            self.host,
            service=SERVICE_PRINCIPAL,
            role_arn=role,
            session_name=ROLE_SESSION,
            duration=ROLE_DURATION,
            source_arn=trail["TrailARN"],
            source_account=account,
            region=trail["HomeRegion"],
        ).as_dict()
        plain = {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "Token")}
        self._credentials[trail["TrailARN"]] = (role, now + ROLE_DURATION, plain)
        return plain

    def _to_logs(
        self, account: str, trail: dict[str, Any], records: list[dict[str, Any]], now: float
    ) -> dict[str, Any]:
        if not records:
            return {}
        parts = trail["CloudWatchLogsLogGroupArn"].split(":")
        region, group = parts[3], parts[6]
        stream = f"{account}_CloudTrail_{trail['HomeRegion']}"
        try:
            creds = self._role_credentials(account, trail, now)
        except AwsError as err:
            return {"LatestCloudWatchLogsDeliveryError": f"{err.code}: {err.message}"}
        if not self._stream_ready(account, trail):
            result = self.host.call(
                "logs",
                "CreateLogStream",
                {"logGroupName": group, "logStreamName": stream},
                creds,
                region,
                user_agent=SERVICE_PRINCIPAL,
            )
            if result.error_code not in (None, "ResourceAlreadyExistsException"):
                self._credentials.pop(trail["TrailARN"], None)
                return {"LatestCloudWatchLogsDeliveryError": _logs_error(result.error_code, result.body)}
        events: list[dict[str, Any]] = [
            {"timestamp": int(_epoch(r) * 1000), "message": json.dumps(r, separators=(",", ":"))}
            for r in sorted(records, key=_epoch)
        ]
        for start in range(0, len(events), 1000):
            result = self.host.call(
                "logs",
                "PutLogEvents",
                {"logGroupName": group, "logStreamName": stream, "logEvents": events[start : start + 1000]},
                creds,
                region,
                user_agent=SERVICE_PRINCIPAL,
            )
            if result.error_code is not None:
                self._credentials.pop(trail["TrailARN"], None)  # a changed trust or policy is read afresh
                return {
                    "LatestCloudWatchLogsDeliveryError": _logs_error(result.error_code, result.body),
                    "cw_stream": trail["CloudWatchLogsLogGroupArn"],
                }
        return {
            "LatestCloudWatchLogsDeliveryTime": now,
            "LatestCloudWatchLogsDeliveryError": None,
            "cw_stream": trail["CloudWatchLogsLogGroupArn"],
        }

    def _stream_ready(self, account: str, trail: dict[str, Any]) -> bool:
        with self.host.store.read_transaction() as tx:
            made = trail_store.status_of(tx, account, trail).get("cw_stream")
        return made == trail["CloudWatchLogsLogGroupArn"]  # made in this log group


def _logs_error(code: str | None, body: dict[str, Any]) -> str:
    message = body.get("message") or body.get("Message") or ""
    return f"{code}: {message}" if message else str(code)


def _epoch(record: dict[str, Any]) -> float:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
