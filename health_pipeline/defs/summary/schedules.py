import dagster as dg

DAILY_SUMMARY_JOB = "daily_summary_job"


def build_daily_summary_job():
    return dg.define_asset_job(
        DAILY_SUMMARY_JOB,
        selection=dg.AssetSelection.assets("daily_health_summary", "daily_summary_csv"),
        description="The daily summary and its CSV for one day.",
    )


def build_daily_summary_schedule(job):  # Dagster's return type here is not public
    """Derived from the job's partitions: 01:00 in the partition time zone, for the day before. For an
    asset job, Dagster returns a schedule that `Definitions` resolves against the job (its type,
    UnresolvedPartitionedAssetScheduleDefinition, is not part of Dagster's public API)."""
    return dg.build_schedule_from_partitioned_job(job, name="daily_summary_schedule", hour_of_day=1, minute_of_hour=0)
