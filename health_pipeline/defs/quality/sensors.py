from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from health_pipeline.defs.quality.checks import DATA_QUALITY_JOB
from health_pipeline.defs.summary.schedules import DAILY_SUMMARY_JOB
from health_pipeline.quality.snapshots import new_data, snapshots_after
from health_pipeline.stack import Stack

NEW_DATA_SENSOR = "new_data_sensor"
FIRST_TICK_SNAPSHOTS = 200  # with no cursor yet, look back this far rather than read the whole history


def _last_materialized(instance: dg.DagsterInstance, day: str) -> float | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_health_summary"), asset_partitions=[day]), limit=1
    ).records
    return records[0].timestamp if records else None


def build_new_data_sensor(partitions: dg.DailyPartitionsDefinition, jobs: list) -> dg.SensorDefinition:
    """new_data_sensor over `partitions`, requesting runs of `jobs` (the daily summary and the quality job)."""
    zone = ZoneInfo(partitions.timezone)

    @dg.sensor(
        name=NEW_DATA_SENSOR,
        jobs=jobs,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="New Iceberg snapshots: runs the data-quality checks, re-materializes days that got late records.",
    )
    def new_data_sensor(context: dg.SensorEvaluationContext, stack: dg.ResourceParam[Stack]):
        """Keeps the last Iceberg snapshot it has seen as its cursor. For each newer snapshot it reads which
        days (in the partition time zone) received records from the snapshot's added files and their
        recorded_at bounds, not by scanning the table. A day whose summary was materialized before that data
        was committed gets a run for just its partition (run_key: snapshot id and day); today is left to the
        schedule. Any new data also runs data_quality_job once per tick."""
        table = stack.table.iceberg_table()
        snapshot = table.current_snapshot() if table is not None else None
        if table is None or snapshot is None:
            return dg.SkipReason("health_records has no snapshot yet: nothing has been delivered")
        current = snapshot.snapshot_id
        after = int(context.cursor) if context.cursor else None
        if after == current:
            return dg.SkipReason(f"no new snapshot since {current}")
        new = snapshots_after(table, after)
        if after is None:
            new = new[-FIRST_TICK_SNAPSHOTS:]
        committed_at: dict[date, tuple[float, int]] = {}
        for snapshot, added in zip(new, new_data(table, new, zone), strict=True):
            for day in added.days:
                committed_at[day] = (snapshot.timestamp_ms / 1000, snapshot.snapshot_id)
        today = datetime.now(zone).date()
        first = datetime.fromisoformat(partitions.start.isoformat()).date()
        requests = []
        for day, (commit_time, snapshot_id) in sorted(committed_at.items()):
            if day >= today or day < first:
                continue  # today's partition is the schedule's; days before the first partition have none
            materialized = _last_materialized(context.instance, day.isoformat())
            if materialized is not None and materialized < commit_time:
                requests.append(
                    dg.RunRequest(
                        job_name=DAILY_SUMMARY_JOB,
                        partition_key=day.isoformat(),
                        run_key=f"late-data:{snapshot_id}:{day.isoformat()}",
                        tags={"health-pipeline/reason": "late data", "health-pipeline/snapshot": str(snapshot_id)},
                    )
                )
        requests.append(
            dg.RunRequest(
                job_name=DATA_QUALITY_JOB, run_key=f"quality:{current}", tags={"health-pipeline/snapshot": str(current)}
            )
        )
        late = ", ".join(r.partition_key for r in requests if r.partition_key) or "none"
        context.log.info(f"{len(new)} new snapshot(s) up to {current}; late days re-materialized: {late}")
        return dg.SensorResult(run_requests=requests, cursor=str(current))

    return new_data_sensor
