import dagster as dg

from health_pipeline.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Made once per Definitions and passed to every asset, check, sensor and schedule that needs it:
    a day is a calendar day in HEALTH_PIPELINE_TIMEZONE, from HEALTH_PIPELINE_START_DATE."""
    return dg.DailyPartitionsDefinition(start_date=settings.start_date, timezone=settings.timezone)
