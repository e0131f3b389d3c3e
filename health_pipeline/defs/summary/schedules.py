import dagster as dg

from health_pipeline.defs.summary.assets import daily_health_summary, daily_summary_csv

daily_summary_job = dg.define_asset_job(
    "daily_summary_job",
    selection=[daily_health_summary, daily_summary_csv],
    description="The daily summary and its CSV for one day.",
)

# Derived from the partitions: 01:00 in the partition time zone, for the day before.
daily_summary_schedule = dg.build_schedule_from_partitioned_job(
    daily_summary_job, name="daily_summary_schedule", hour_of_day=1, minute_of_hour=0
)
