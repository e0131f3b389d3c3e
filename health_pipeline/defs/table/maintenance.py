from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from health_pipeline.defs.common import HEALTH_RECORDS, OWNER, machine_faults
from health_pipeline.defs.quality.sensors import FIRST_TICK_SNAPSHOTS, NEW_DATA_SENSOR
from health_pipeline.erasure.retention import apply_retention
from health_pipeline.maintenance import MaintenancePolicy, MaintenanceReport
from health_pipeline.stack import Stack

CHECK = "maintenance_healthy"


class TableMaintenanceConfig(dg.Config):
    snapshot_retention_hours: float = Field(
        default=24,
        description="Snapshots older than this are expired (never the current one, nor any the new-data sensor has not read).",
    )
    closed_after_hours: float = Field(
        default=24, description="A UTC day is compacted once it ended this long ago (late records reopen it)."
    )


def _sensor_cursor(instance: dg.DagsterInstance) -> int | None:
    """The snapshot new_data_sensor has read up to, from its stored state (None: it has not ticked, or
    the instance keeps no sensor state, as an ephemeral one in a test)."""
    if instance.schedule_storage is None:
        return None
    for state in instance.all_instigator_state():
        cursor = getattr(state.instigator_data, "cursor", None)  # a sensor's data has one, a schedule's not
        if state.instigator_name == NEW_DATA_SENSOR and isinstance(cursor, str) and cursor:
            return int(cursor)
    return None


def _metadata(report: MaintenanceReport) -> dict:
    metadata: dict = {"state": report.state}
    for name, value in report.figures.items():
        metadata[name] = dg.MetadataValue.null() if value is None else value
    if report.compacted_days:
        metadata["compacted_days"] = ", ".join(report.compacted_days)
    lines = [f"- {line}" for line in [*report.problems, *report.notes]]
    metadata["notes"] = dg.MetadataValue.md("\n".join(lines) or "nothing to note")
    return metadata


@dg.asset(
    deps=[HEALTH_RECORDS],
    group_name="ingestion",
    kinds={"iceberg"},
    owners=[OWNER],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK, asset="table_maintenance", description="Maintenance is enabled and its last jobs succeeded."
        )
    ],
)
def table_maintenance(
    context: dg.AssetExecutionContext, config: TableMaintenanceConfig, stack: dg.ResourceParam[Stack]
) -> dg.MaterializeResult:
    """Keeps health_records fast to read and write as it ages. Local: compacts each closed UTC day into
    one file sorted by recorded_at (small row groups, so a day's summary reads about one day of data),
    merges manifests and expires old snapshots, never one the new-data sensor has not read. With
    HEALTH_PIPELINE_RETENTION_DAYS set, first deletes the records older than that, and those days'
    summaries and CSVs (docs/operations/erasure.md). AWS: S3
    Tables does the work; this reports its maintenance configuration, its last jobs' status and the
    table's file and snapshot counts, and fails its check when maintenance is disabled or failing."""
    cursor = _sensor_cursor(context.instance)
    policy = MaintenancePolicy(
        snapshot_retention=timedelta(hours=config.snapshot_retention_hours),
        closed_after=timedelta(hours=config.closed_after_hours),
        keep_last=1 if cursor is not None else FIRST_TICK_SNAPSHOTS,
    )
    now = datetime.now(UTC)
    with machine_faults("table_maintenance could not maintain the table", stack.settings.home):
        retention = apply_retention(stack, stack.settings, now)
        report = stack.maintenance.run(now, policy, keep_from=cursor)
    if retention is not None:
        report.figures.update(
            retention_cutoff_day=retention.cutoff_day.isoformat(),
            retention_rows_deleted=None if retention.rows_deleted < 0 else retention.rows_deleted,
            retention_days_removed=len(retention.days_removed),
        )
        report.notes.append(
            f"retention {stack.settings.retention_days} days: records before {retention.cutoff_day} deleted;"
            f" summaries and CSVs removed for {', '.join(retention.days_removed) or 'no day'}"
        )
    for line in [*report.problems, *report.notes]:
        (context.log.warning if report.problems else context.log.info)(line)
    healthy = report.state in ("OK", "UNKNOWN")
    return dg.MaterializeResult(
        metadata=_metadata(report),
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK,
                passed=healthy,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(report.problems) or f"maintenance {report.state}",
                metadata={"expected": "OK", "actual": report.state},
            )
        ],
    )


def build_table_maintenance_schedule(timezone: str) -> dg.ScheduleDefinition:
    """Nightly at 03:30 in the partition time zone, after the 01:00 summaries."""
    job = dg.define_asset_job("table_maintenance_job", selection=[table_maintenance], description="Table maintenance.")
    return dg.ScheduleDefinition(
        name="table_maintenance_schedule", job=job, cron_schedule="30 3 * * *", execution_timezone=timezone
    )
