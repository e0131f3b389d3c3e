"""The health_pipeline code location: everything Dagster loads, built from the settings it is given."""

import warnings

import dagster as dg

from health_pipeline.defs.alerts.sensors import build_alerts_sensor
from health_pipeline.defs.delivery.assets import firehose_delivery
from health_pipeline.defs.erasure.jobs import user_erasure
from health_pipeline.defs.quality.checks import build_data_quality_job, build_quality_checks
from health_pipeline.defs.quality.sensors import build_new_data_sensor
from health_pipeline.defs.resources import build_resources
from health_pipeline.defs.schema.assets import iceberg_schema
from health_pipeline.defs.schema.jobs import schema_migration
from health_pipeline.defs.schema.sensors import schema_drift_sensor
from health_pipeline.defs.summary.assets import CSV_DEADLINE_HOUR, build_summary_assets
from health_pipeline.defs.summary.partitions import daily_partitions
from health_pipeline.defs.summary.schedules import build_daily_summary_job, build_daily_summary_schedule
from health_pipeline.defs.table.assets import health_records_spec
from health_pipeline.defs.table.maintenance import build_table_maintenance_schedule, table_maintenance
from health_pipeline.engines import stack_for
from health_pipeline.settings import Settings, load_settings

# Two Dagster features the code location relies on on purpose print a warning each time it loads (in
# `make demo`, `dg dev`, every run's process): `backfill_policy` on @asset (BetaWarning; a backfill is
# one Athena query per 31 days, docs/operations/running.md) and `partitions_def` on AssetCheckSpec
# (PreviewWarning; the data-quality checks run per day). Only these two messages are silenced, so a
# new beta or preview feature still shows; health_pipeline_tests/integration/test_definitions.py
# holds the load to no such warning.
KNOWN_DAGSTER_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `asset` is currently in beta"),
    (dg.PreviewWarning, r"Specifying a partitions_def on an AssetCheckSpec is currently in preview"),
)


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks, jobs, sensors, schedules and resources for `settings`: its time zone and start
    date make the partitions, its mode the stack (and so the kinds shown in the UI). No I/O."""
    with warnings.catch_warnings():
        for category, message in KNOWN_DAGSTER_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        return _build_definitions(settings)


def _build_definitions(settings: Settings) -> dg.Definitions:
    stack = stack_for(settings)
    partitions = daily_partitions(settings)
    summary_job = build_daily_summary_job()
    quality_job = build_data_quality_job()
    maintenance_schedule = build_table_maintenance_schedule(settings.timezone)
    jobs = [summary_job, schema_migration, quality_job, user_erasure]
    schedules = [build_daily_summary_schedule(summary_job), maintenance_schedule]
    sensors = [schema_drift_sensor, build_new_data_sensor(partitions, [summary_job, quality_job])]
    job_names = {job.name for job in jobs} | {maintenance_schedule.job_name}
    watched = {s.name for s in sensors} | {s.name for s in schedules}
    # Every check daily_summary_job runs is blocking with severity ERROR (test_alerts holds it to that).
    blocking_only = {summary_job.name}
    alerts = build_alerts_sensor(partitions, CSV_DEADLINE_HOUR, settings.ui_url, job_names, blocking_only, watched)
    return dg.Definitions(
        assets=[
            firehose_delivery,
            health_records_spec(settings),
            iceberg_schema,
            table_maintenance,
            *build_summary_assets(partitions, stack.query_kind, stack.export_kinds),
        ],
        asset_checks=build_quality_checks(partitions),
        jobs=jobs,
        sensors=[*sensors, alerts],
        schedules=schedules,
        resources=build_resources(stack),
    )


defs = build_definitions(load_settings())
