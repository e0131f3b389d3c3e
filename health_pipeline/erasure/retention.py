"""Retention (HEALTH_PIPELINE_RETENTION_DAYS): table_maintenance deletes every record older than the
retention, as an erasure deletes a person's, and removes those days' kept summaries and CSVs.

The days' summaries go with their records, not kept: a daily summary is one row per person per day
(their averages, minimums, maximums), personal health data as much as the records it was made from,
and a CSV whose records are gone could never be made again, so it could not be corrected or erased
through the table. Whoever needs figures longer than the retention copies the CSVs out before then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from health_pipeline.settings import Settings
from health_pipeline.stack import Stack
from health_pipeline.summary.days import export_key, summary_key


@dataclass
class RetentionOutcome:
    cutoff_day: date  # the oldest day kept (in the zone)
    rows_deleted: int  # -1: the engine does not report it (Athena)
    days_removed: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)


def retention_cutoff(settings: Settings, now: datetime) -> tuple[date, datetime]:
    """(the oldest day kept, its start in UTC without zone): today in the zone minus the retention."""
    cutoff_day = now.astimezone(settings.zone).date() - timedelta(days=settings.retention_days or 0)
    start = datetime.combine(cutoff_day, time(0), tzinfo=settings.zone).astimezone(UTC).replace(tzinfo=None)
    return cutoff_day, start


def apply_retention(stack: Stack, settings: Settings, now: datetime) -> RetentionOutcome | None:
    """Delete what is older than the retention (None when HEALTH_PIPELINE_RETENTION_DAYS is unset)."""
    if settings.retention_days is None:
        return None
    part = stack.erasure
    cutoff_day, cutoff = retention_cutoff(settings, now)
    bounds = part.recorded_at_bounds()
    outcome = RetentionOutcome(cutoff_day=cutoff_day, rows_deleted=0)
    if bounds is not None and bounds[0] < cutoff:
        deleted = part.delete_before((bounds[0], cutoff))
        outcome.rows_deleted, outcome.details = deleted.rows, deleted.details()
    removed: set[date] = set()
    for store, key_of, prefix in (
        (stack.summary_store, summary_key, "daily_health_summary/"),
        (stack.export_store, export_key, "daily_summary/"),
    ):
        for key in store.keys(prefix):
            folder = next((p for p in key.split("/") if p.startswith("date=")), "")
            try:
                day = date.fromisoformat(folder[len("date=") :])
            except ValueError:
                continue
            if day < cutoff_day and key == key_of(day) and store.remove(key):
                removed.add(day)
    outcome.days_removed = [day.isoformat() for day in sorted(removed)]
    return outcome
