import dagster as dg

from health_pipeline.defs.common import FIREHOSE_DELIVERY, HEALTH_RECORDS, OWNER
from health_pipeline.settings import Settings


def health_records_spec(settings: Settings) -> dg.AssetSpec:
    """The Iceberg table, external to Dagster, drawn downstream of the stream that fills it."""
    return dg.AssetSpec(
        key=HEALTH_RECORDS,
        deps=[FIREHOSE_DELIVERY],
        description=(
            f"The Apache Iceberg table `{settings.database}.{settings.table}` that Kinesis Firehose fills from"
            " the health-logger app: one row per person per check-in (user_id, recorded_at in UTC, fatigue,"
            " mood, motivation, flags). External to Dagster: it is observed, never written by a run. Its"
            " columns are declared in terraform/modules/s3tables/main.tf (local.columns)."
        ),
        group_name="ingestion",
        kinds={"iceberg"},
        owners=[OWNER],
    )
