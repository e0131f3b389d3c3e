import dagster as dg

from health_pipeline.defs.common import SETTINGS

# Made once; the schedule is derived from it. A day is a calendar day in the users' time zone.
daily_partitions = dg.DailyPartitionsDefinition(start_date=SETTINGS.start_date, timezone=SETTINGS.timezone)
