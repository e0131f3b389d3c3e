"""The health_pipeline code location: the Definitions, with the resources of the configured mode."""

import dagster as dg

from health_pipeline.defs.delivery.assets import firehose_delivery
from health_pipeline.defs.quality.checks import SUMMARY_CHECKS, data_quality_job, health_records_checks
from health_pipeline.defs.quality.sensors import new_data_sensor
from health_pipeline.defs.resources import build_resources
from health_pipeline.defs.schema.assets import iceberg_schema
from health_pipeline.defs.schema.jobs import schema_migration
from health_pipeline.defs.schema.sensors import schema_drift_sensor
from health_pipeline.defs.summary.assets import daily_health_summary, daily_summary_csv
from health_pipeline.defs.summary.schedules import daily_summary_job, daily_summary_schedule
from health_pipeline.defs.table.assets import health_records
from health_pipeline.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything Dagster loads, wired to the resources of `settings.mode` (tests pass their own settings)."""
    return dg.Definitions(
        assets=[health_records, iceberg_schema, daily_health_summary, daily_summary_csv, firehose_delivery],
        asset_checks=[health_records_checks, *SUMMARY_CHECKS],
        jobs=[daily_summary_job, schema_migration, data_quality_job],
        sensors=[schema_drift_sensor, new_data_sensor],
        schedules=[daily_summary_schedule],
        resources=build_resources(settings),
    )


defs = build_definitions(load_settings())
