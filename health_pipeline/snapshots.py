"""Which days new Iceberg snapshots touched, read from their metadata, never by scanning the table.

For each snapshot after a cursor, the manifests it added list its data files with the column bounds
of recorded_at (or, failing those, the day(recorded_at) partition value): a file's [lower, upper]
range maps to the local days it may hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from pyiceberg.conversions import from_bytes
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.types import TimestampType

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class NewData:
    snapshot_id: int
    days: frozenset[date]
    added_records: int


def snapshots_after(table: Table, after_id: int | None) -> list:
    """The snapshots on the current branch newer than `after_id`, oldest first (walks parents only)."""
    current = table.current_snapshot()
    chain = []
    while current is not None and current.snapshot_id != after_id:
        chain.append(current)
        current = table.snapshot_by_id(current.parent_snapshot_id) if current.parent_snapshot_id else None
    if after_id is not None and current is None:
        # The cursor is not an ancestor (expired or rolled back): treat only the newest snapshot as new.
        chain = chain[:1]
    return list(reversed(chain))


def _local_days(lower: datetime, upper: datetime, zone: ZoneInfo) -> set[date]:
    first = lower.replace(tzinfo=timezone.utc).astimezone(zone).date()
    last = upper.replace(tzinfo=timezone.utc).astimezone(zone).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def days_touched(table: Table, snapshot, zone: ZoneInfo) -> NewData:
    field_id = table.schema().find_field("recorded_at").field_id
    days: set[date] = set()
    records = 0
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status != ManifestEntryStatus.ADDED:
                continue
            data_file = entry.data_file
            records += data_file.record_count
            lower = (data_file.lower_bounds or {}).get(field_id)
            upper = (data_file.upper_bounds or {}).get(field_id)
            if lower is not None and upper is not None:
                low = EPOCH_DT + timedelta(microseconds=from_bytes(TimestampType(), lower))
                high = EPOCH_DT + timedelta(microseconds=from_bytes(TimestampType(), upper))
                days |= _local_days(low, high, zone)
                continue
            partition_day = data_file.partition[0] if len(data_file.partition) else None
            if partition_day is not None:  # day(recorded_at): days since the epoch, a UTC day
                start = EPOCH_DT + timedelta(days=partition_day)
                days |= _local_days(start, start + timedelta(days=1) - timedelta(microseconds=1), zone)
    return NewData(snapshot.snapshot_id, frozenset(days), records)


EPOCH_DT = datetime(1970, 1, 1)
