import dagster as dg

from health_pipeline.defs.common import OWNER, SETTINGS

health_records = dg.AssetSpec(
    key="health_records",
    description=(
        f"The Apache Iceberg table `{SETTINGS.database}.{SETTINGS.table}` that Kinesis Firehose fills from"
        " the health-logger app: one row per person per check-in (user_id, recorded_at in UTC, fatigue,"
        " mood, motivation, flags). External to Dagster: it is observed, never written by a run. Its"
        " columns are declared in terraform/modules/glue/main.tf."
    ),
    group_name="ingestion",
    kinds={"iceberg"},
    owners=[OWNER],
)
