"""What the firehose_delivery asset reads about a Kinesis Firehose stream with an Iceberg
destination: its description, its AWS/Firehose CloudWatch metrics and the objects under its S3 error
output prefix (boto3's credential chain)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from health_pipeline.delivery.stream import DeliveryStatus, ErrorTally

METRICS_NAMESPACE = "AWS/Firehose"
FIRST_WINDOW = timedelta(hours=1)
MAX_WINDOW = timedelta(hours=24)  # 1,440 one-minute datapoints: one get_metric_statistics call
FRESHNESS_LOOKBACK = timedelta(minutes=15)


@dataclass
class FirehoseMonitor:
    """Reads a stream's description, its CloudWatch metrics and its S3 error output."""

    firehose: Any
    cloudwatch: Any
    s3: Any
    stream_name: str
    database: str
    table: str
    region: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    max_error_objects: int = 200

    def status(self, cursor: dict[str, Any] | None = None, sample_size: int = 5) -> DeliveryStatus:
        cursor = cursor or {}
        now = self.clock()
        expected = f"Iceberg {self.database}.{self.table}"
        described = self._describe(expected)
        # Whole minutes (the datapoints' period) from where the last observation stopped; the first
        # looks back an hour, none more than a day. Consecutive windows neither overlap nor leave gaps.
        end = now.replace(second=0, microsecond=0)
        last_end = datetime.fromisoformat(cursor["window_end"]) if cursor.get("window_end") else end - FIRST_WINDOW
        start = max(last_end, end - MAX_WINDOW)
        metrics = self._metrics(start, end, now)
        codes, samples, records, objects, last_key, more = self._new_errors(
            described["bucket"], described["error_prefix"], cursor.get("last_error_key"), sample_size
        )
        freshness = metrics["data_freshness_s"]
        notes = list(described["notes"])
        if more:
            notes.append(f"more error objects than {self.max_error_objects} arrived; the next run reads the rest")
        if freshness is None:
            notes.append("no DataFreshness datapoint in the last 15 minutes: nothing was delivered (no traffic?)")
        notes.append("CloudWatch publishes Firehose datapoints a few minutes late: the latest minutes may be missing")
        return DeliveryStatus(
            mode="aws",
            stream=self.stream_name,
            state=described["state"],
            destination=described["destination"],
            expected_destination=expected,
            problems=described["problems"],
            buffer_seconds=float(described["interval"]),
            buffer_mb=float(described["size_mb"]),
            window_start=start,
            window_end=end,
            figures={
                "incoming_records": metrics["incoming_records"],
                "rows_delivered": metrics["successful_rows"],
                "rows_failed": metrics["failed_rows"],
                "data_freshness_s": freshness,
                "new_error_objects": objects,
                "new_error_records": records,
            },
            freshness_s=freshness,
            freshness_source="DeliveryToIceberg.DataFreshness (latest one-minute maximum, last 15 minutes)",
            new_error_records=max(records, int(metrics["failed_rows"] or 0)),
            error_codes=codes,
            error_samples=samples,
            error_location=(
                f"s3://{described['bucket']}/{described['error_prefix']}" if described["bucket"] else "(not configured)"
            ),
            cursor={"window_end": end.isoformat(), "last_error_key": last_key},
            notes=notes,
        )

    def error_location(self) -> tuple[str, str]:
        """(bucket, literal prefix) of the stream's S3 error output; ('', '') when it has none."""
        described = self._describe(f"Iceberg {self.database}.{self.table}")
        return described["bucket"], described["error_prefix"]

    def _describe(self, expected: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        out: dict[str, Any] = {
            "state": "UNKNOWN",
            "destination": "(none)",
            "problems": [],
            "notes": [],
            "interval": 300,
            "size_mb": 5,
            "bucket": "",
            "error_prefix": "",
        }
        try:
            description = self.firehose.describe_delivery_stream(DeliveryStreamName=self.stream_name)[
                "DeliveryStreamDescription"
            ]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "ClientError")
            out["state"] = "NOT_FOUND" if code == "ResourceNotFoundException" else "UNREADABLE"
            out["problems"].append(
                f"cannot describe {self.stream_name!r} in {self.region}: {code}: "
                f"{err.response.get('Error', {}).get('Message', '')}"
            )
            return out
        out["state"] = description.get("DeliveryStreamStatus", "UNKNOWN")
        if out["state"] != "ACTIVE":
            out["problems"].append(f"the stream is {out['state']}, not ACTIVE")
        failure = description.get("FailureDescription")
        if failure:
            out["problems"].append(f"{failure.get('Type', 'failure')}: {failure.get('Details', '')}")
        destination = (description.get("Destinations") or [{}])[0]
        iceberg = destination.get("IcebergDestinationDescription")
        if iceberg is None:
            kinds = [key.replace("DestinationDescription", "") for key in destination if key.endswith("Description")]
            out["destination"] = ", ".join(kinds) or "(none)"
            out["problems"].append(f"the stream delivers to {out['destination']}, not to an Iceberg table")
            return out
        tables = iceberg.get("DestinationTableConfigurationList") or []
        names = [f"{t.get('DestinationDatabaseName')}.{t.get('DestinationTableName')}" for t in tables]
        out["destination"] = "Iceberg " + (", ".join(names) or "(no table configured)")
        wanted = (self.database, self.table)
        ours = [t for t in tables if (t.get("DestinationDatabaseName"), t.get("DestinationTableName")) == wanted]
        if not ours:
            out["problems"].append(
                f"the stream's Iceberg destination is {', '.join(names) or 'not a configured table'},"
                f" not {self.database}.{self.table} (HEALTH_PIPELINE_DATABASE / HEALTH_PIPELINE_TABLE)"
            )
        hints = iceberg.get("BufferingHints") or {}
        out["interval"] = hints.get("IntervalInSeconds", 300)
        out["size_mb"] = hints.get("SizeInMBs", 5)
        s3 = iceberg.get("S3DestinationDescription") or {}
        out["bucket"] = s3.get("BucketARN", "").split(":::")[-1]
        prefix = (ours[0].get("S3ErrorOutputPrefix") if ours else None) or s3.get("ErrorOutputPrefix") or ""
        out["error_prefix"] = prefix.split("!{")[0]  # the literal part before any Firehose expression
        catalog = (iceberg.get("CatalogConfiguration") or {}).get("CatalogARN")
        if catalog:
            out["notes"].append(f"catalog {catalog}")
        if not out["bucket"]:
            out["problems"].append("the stream has no S3 error output: failed records cannot be inspected")
        return out

    def _metrics(self, start: datetime, end: datetime, now: datetime) -> dict[str, float | int | None]:
        def statistic(name: str, kind: str, since: datetime, until: datetime) -> list[dict]:
            if until <= since:
                return []  # no whole minute since the last observation
            response = self.cloudwatch.get_metric_statistics(
                Namespace=METRICS_NAMESPACE,
                MetricName=name,
                Dimensions=[{"Name": "DeliveryStreamName", "Value": self.stream_name}],
                StartTime=since,
                EndTime=until,
                Period=60,
                Statistics=[kind],
            )
            return sorted(response.get("Datapoints", []), key=lambda point: point["Timestamp"])

        def total(name: str) -> int:
            return int(sum(point["Sum"] for point in statistic(name, "Sum", start, end)))

        freshness = statistic("DeliveryToIceberg.DataFreshness", "Maximum", now - FRESHNESS_LOOKBACK, now)
        return {
            "incoming_records": total("IncomingRecords"),
            "successful_rows": total("DeliveryToIceberg.SuccessfulRowCount"),
            "failed_rows": total("DeliveryToIceberg.FailedRowCount"),
            "data_freshness_s": float(freshness[-1]["Maximum"]) if freshness else None,
        }

    def _new_errors(
        self, bucket: str, prefix: str, after: str | None, sample_size: int
    ) -> tuple[dict[str, int], list, int, int, str | None, bool]:
        if not bucket:
            return {}, [], 0, 0, after, False
        keys: list[str] = []
        more = False
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if after:
            kwargs["StartAfter"] = after
        for page in self.s3.get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents", []):
                if len(keys) == self.max_error_objects:
                    more = True
                    break
                keys.append(item["Key"])
            if more:
                break
        tally = ErrorTally(sample_size)
        for key in keys:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            for line in body.splitlines():
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except ValueError:
                    document = {
                        "errorCode": "UnreadableErrorRecord",
                        "errorMessage": line[:120].decode("utf-8", "replace"),
                    }
                tally.add(document, f"s3://{bucket}/{key}", _console_link(self.region, bucket, key))
        return tally.codes, tally.samples, tally.records, len(keys), (keys[-1] if keys else after), more


def _console_link(region: str, bucket: str, key: str) -> str:
    return f"https://{region}.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}"
