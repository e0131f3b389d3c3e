"""Table maintenance in aws mode: S3 Tables compacts, expires snapshots and removes unreferenced files
by itself. This reads what it is configured to do and how its last jobs went (the S3 Tables API:
GetTableMaintenanceConfiguration, GetTableMaintenanceJobStatus), with the table's file and snapshot
counts (PyIceberg through Glue), and says FAILING when maintenance is disabled or its last job failed.

The table bucket comes from HEALTH_PIPELINE_CATALOG (`s3tablescatalog/<bucket>`, the Athena catalog of
an S3 Tables bucket); with the default AwsDataCatalog there is no S3 Tables bucket to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from health_pipeline.maintenance import MaintenanceReport, table_figures

S3TABLES_CATALOG_PREFIX = "s3tablescatalog/"
JOBS = ("icebergCompaction", "icebergSnapshotManagement", "icebergUnreferencedFileRemoval")


class S3TablesMaintenance:
    def __init__(
        self, client: Callable[[str], Any], catalog: str, namespace: str, table_name: str, region: str, iceberg_table
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.namespace = namespace
        self.table_name = table_name
        self.region = region
        self.iceberg_table = iceberg_table

    def bucket_arn(self) -> str | None:
        if not self.catalog.startswith(S3TABLES_CATALOG_PREFIX):
            return None
        bucket = self.catalog[len(S3TABLES_CATALOG_PREFIX) :]
        account = self.client("sts").get_caller_identity()["Account"]
        return f"arn:aws:s3tables:{self.region}:{account}:bucket/{bucket}"

    def run(self, now: datetime, policy: Any = None, keep_from: int | None = None) -> MaintenanceReport:
        """Report, never change: S3 Tables runs the maintenance (`now`, `policy` and `keep_from` are the
        local maintenance's arguments, unused here)."""
        from botocore.exceptions import ClientError

        report = MaintenanceReport()
        table = self.iceberg_table()
        if table is not None and table.current_snapshot() is not None:
            report.figures.update(table_figures(table, "now"))
        arn = self.bucket_arn()
        if arn is None:
            report.state = "UNKNOWN"
            report.notes.append(
                f"HEALTH_PIPELINE_CATALOG={self.catalog!r} is not an S3 Tables catalog (s3tablescatalog/<bucket>):"
                " there is no S3 Tables maintenance to read"
            )
            return report
        where = {"tableBucketARN": arn, "namespace": self.namespace, "name": self.table_name}
        s3tables = self.client("s3tables")
        try:
            configuration = s3tables.get_table_maintenance_configuration(**where).get("configuration", {})
            status = s3tables.get_table_maintenance_job_status(**where).get("status", {})
        except ClientError as err:
            error = err.response.get("Error", {})
            report.state = "FAILING"
            report.problems.append(
                f"cannot read the maintenance of {self.namespace}.{self.table_name} in {arn}:"
                f" {error.get('Code')}: {error.get('Message', '')} (the role needs"
                " s3tables:GetTableMaintenanceConfiguration and s3tables:GetTableMaintenanceJobStatus)"
            )
            return report
        for name in ("icebergCompaction", "icebergSnapshotManagement"):
            setting = configuration.get(name, {})
            state = setting.get("status", "unknown")
            report.figures[f"{name}_configured"] = state
            for key, value in (setting.get("settings", {}).get(name, {}) or {}).items():
                report.figures[f"{name}_{key}"] = value if isinstance(value, int | float | str) else str(value)
            if state != "enabled":
                report.problems.append(
                    f"S3 Tables {name} is {state}: enable it (aws s3tables put-table-maintenance-configuration,"
                    " or the table's maintenance settings in Terraform)"
                )
        for name in JOBS:
            job = status.get(name, {})
            state = job.get("status", "unknown")
            report.figures[f"{name}_last_job"] = state
            last = job.get("lastRunTimestamp")
            report.figures[f"{name}_last_run"] = last.isoformat() if hasattr(last, "isoformat") else last
            if state == "Failed":
                report.problems.append(f"the last S3 Tables {name} job failed: {job.get('failureMessage', '')}")
            elif state == "Disabled" and name != "icebergUnreferencedFileRemoval":
                report.problems.append(f"S3 Tables {name} jobs are disabled")
        if report.problems:
            report.state = "FAILING"
        return report
