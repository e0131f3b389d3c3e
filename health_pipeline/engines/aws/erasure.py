"""Erasure in aws mode: the people's rows deleted by one Athena DELETE on the Iceberg table (S3 Tables
through the Glue catalog), their ids matched only by their SHA-256 hex (never in a statement, so never
in Athena's query history) and the DELETE's values rendered into its text (Athena takes no
ExecutionParameters in a DELETE: "Use parameterized queries", Athena User Guide); their error records
removed from the Firehose error prefix on S3; the replaced versions of the rewritten CSVs and kept
summaries deleted (the export bucket keeps versions). The snapshots and files that still hold the rows
are S3 Tables' to remove: the receipt's date is when its configured snapshot expiry and
unreferenced-file removal will have done so (docs/operations/erasure.md).

AWS documents DELETE on Iceberg tables as Athena DML ("Query Apache Iceberg tables: DELETE",
https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-delete.html; on S3 Tables, "Querying
Amazon S3 tables with Athena", https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-integrating-athena.html).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta
from typing import Any

from health_pipeline.erasure.deletion import (
    DeletedRows,
    History,
    days_of,
    purge_error_documents,
    purge_json_lines,
    recorded_at_bounds,
)
from health_pipeline.erasure.matching import error_document_mentions
from health_pipeline.erasure.statements import erasure_delete_query, erasure_minutes_query, retention_delete_query
from health_pipeline.summary.days import export_key, summary_key

# S3 Tables' defaults when its configuration cannot be read (Amazon S3 User Guide, "Maintenance for
# tables" and "Maintenance for table buckets"): snapshots kept 120 hours, then unreferenced files
# marked noncurrent after 3 days and deleted 10 days after that.
DEFAULT_SNAPSHOT_HOURS, DEFAULT_UNREFERENCED_DAYS, DEFAULT_NONCURRENT_DAYS = 120, 3, 10


class AwsErasure:
    def __init__(self, stack, client: Callable[[str], Any]) -> None:
        self.stack = stack
        self.client = client

    def drain_spool(self) -> int:
        """Firehose holds no spool this process can deliver (its buffer flushes by itself)."""
        return 0

    def recorded_at_bounds(self) -> tuple[datetime, datetime] | None:
        return recorded_at_bounds(self.stack.table.iceberg_table())

    def find_minutes(self, user_ids: list[str], window: tuple[datetime, datetime]) -> dict[datetime, int]:
        query = erasure_minutes_query(user_ids, window, self.stack.settings.table)
        rows = self.stack.query_engine.run(query).rows.to_pylist()
        return {row["minute_utc"]: int(row["records"]) for row in rows if row["minute_utc"] is not None}

    def kept_summary_days(self) -> list[date]:
        return days_of(self.stack.summary_store.keys("daily_health_summary/"), summary_key)

    def delete_records(self, user_ids: list[str], window: tuple[datetime, datetime], found: int) -> DeletedRows:
        """One Athena DELETE; Athena reports no row count for it: the rows are those the day-finding
        query counted just before."""
        query = erasure_delete_query(user_ids, window, self.stack.settings.table)
        execution = self.stack.query_engine.execute_dml(query)
        return DeletedRows(rows=found, statement=query.text, query_id=execution.query_id, found=found)

    def delete_before(self, window: tuple[datetime, datetime]) -> DeletedRows:
        """Retention: one Athena DELETE of every row in the window (Athena reports no row count)."""
        query = retention_delete_query(window, self.stack.settings.table)
        execution = self.stack.query_engine.execute_dml(query)
        return DeletedRows(rows=-1, statement=query.text, query_id=execution.query_id)

    def purge_error_output(self, user_ids: Collection[str]) -> int:
        """Their records out of the Firehose error prefix (an object holding others' too is rewritten
        without theirs), out of this machine's error output and dead-letter files; returns the error
        records removed."""
        stream = self.stack.delivery_stream
        removed = purge_error_documents(stream.errors, user_ids) if stream.errors is not None else 0
        dead_letters = getattr(stream.dead_letters, "directory", None)
        removed += purge_json_lines(dead_letters, user_ids) if dead_letters is not None else 0
        bucket, prefix = self.stack.delivery_monitor.error_location()
        if not bucket:
            return removed
        s3 = self.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                compressed = body[:2] == b"\x1f\x8b"
                lines = (gzip.decompress(body) if compressed else body).splitlines(keepends=True)
                kept = [line for line in lines if not error_document_mentions(line, user_ids)]
                if len(kept) == len(lines):
                    continue
                removed += len(lines) - len(kept)
                if kept:
                    data = b"".join(kept)
                    s3.put_object(Bucket=bucket, Key=item["Key"], Body=gzip.compress(data) if compressed else data)
                _delete_every_version(s3, bucket, item["Key"], keep_latest=bool(kept))
        return removed

    def forget_history(self, now: datetime, days: list[date] | None = None) -> History:
        """Replaced versions of the days' CSVs and kept summaries deleted now; the table's old snapshots
        and files by S3 Tables, by the date its configured days give."""
        s3 = self.client("s3")
        for store, key_of in ((self.stack.export_store, export_key), (self.stack.summary_store, summary_key)):
            for day in days or []:
                _delete_every_version(s3, store.bucket, store.prefix + key_of(day), keep_latest=True)
        hours, unreferenced, noncurrent, source = self._maintenance_days()
        gone_by = now + timedelta(hours=hours) + timedelta(days=unreferenced + noncurrent)
        return History(
            gone_by=gone_by,
            details={
                "snapshot_expiry_hours": hours,
                "unreferenced_days": unreferenced,
                "noncurrent_days": noncurrent,
                "maintenance_settings": source,
            },
        )

    def _maintenance_days(self) -> tuple[int, int, int, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        maintenance = self.stack.maintenance
        arn = maintenance.bucket_arn() if maintenance.catalog.startswith("s3tablescatalog/") else None
        if arn is None:
            return DEFAULT_SNAPSHOT_HOURS, DEFAULT_UNREFERENCED_DAYS, DEFAULT_NONCURRENT_DAYS, "S3 Tables defaults"
        s3tables = self.client("s3tables")
        where = {"tableBucketARN": arn, "namespace": maintenance.namespace, "name": maintenance.table_name}
        try:
            table = s3tables.get_table_maintenance_configuration(**where).get("configuration", {})
            bucket = s3tables.get_table_bucket_maintenance_configuration(tableBucketARN=arn).get("configuration", {})
        except (ClientError, BotoCoreError) as err:
            return DEFAULT_SNAPSHOT_HOURS, DEFAULT_UNREFERENCED_DAYS, DEFAULT_NONCURRENT_DAYS, f"defaults ({err})"
        snapshots = table.get("icebergSnapshotManagement", {}).get("settings", {}).get("icebergSnapshotManagement", {})
        files = (
            bucket.get("icebergUnreferencedFileRemoval", {})
            .get("settings", {})
            .get("icebergUnreferencedFileRemoval", {})
        )
        return (
            int(snapshots.get("maxSnapshotAgeHours", DEFAULT_SNAPSHOT_HOURS)),
            int(files.get("unreferencedDays", DEFAULT_UNREFERENCED_DAYS)),
            int(files.get("nonCurrentDays", DEFAULT_NONCURRENT_DAYS)),
            "S3 Tables configuration",
        )

    def keep_receipt(self, key: str, document: bytes) -> str:
        return self.stack.receipt_store.write(key, document, content_type="application/json")


def _delete_every_version(s3, bucket: str, key: str, keep_latest: bool) -> None:
    """Delete the object's replaced versions (and, unless `keep_latest`, the object itself)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["Key"] != key or (keep_latest and version.get("IsLatest")):
                continue
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
