"""What the alerts tests share: a Dagster instance on which the CSV due at the last deadline exists,
so a scenario is about its runs and checks, not an overdue export."""

from datetime import UTC, datetime

import dagster as dg

from health_pipeline.alerts.incidents import due_day
from health_pipeline.defs.summary.assets import CSV_DEADLINE_HOUR
from health_pipeline.settings import Settings


def yesterday_is_exported(instance: dg.DagsterInstance, settings: Settings) -> None:
    """The CSV due at the last deadline is there: these scenarios are about runs and checks."""
    due, _ = due_day(datetime.now(UTC), settings.zone, CSV_DEADLINE_HOUR)
    instance.report_runless_asset_event(dg.AssetMaterialization("daily_summary_csv", partition=due.isoformat()))
