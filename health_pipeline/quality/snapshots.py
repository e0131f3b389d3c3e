"""Which days new Iceberg snapshots touched, read from their metadata, never by scanning the table.

For each snapshot after a cursor, the manifests it added list its data files with the column bounds
of recorded_at (or, failing those, the day(recorded_at) partition value): a file's [lower, upper]
range maps to the local days it may hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pyiceberg.manifest import ManifestContent, ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation

from health_pipeline.maintenance import MAINTENANCE_PROPERTY
from health_pipeline.schema.types import timestamp_from_bound


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
    first = lower.replace(tzinfo=UTC).astimezone(zone).date()
    last = upper.replace(tzinfo=UTC).astimezone(zone).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def new_data(table: Table, snapshots: list, zone: ZoneInfo) -> list[NewData]:
    """What each of `snapshots` (newest last, as `snapshots_after` gives them) added: the local days and
    the record count. One read of the current manifest list serves them all (each snapshot's own list
    repeats every earlier manifest, so reading those would cost O(table history) per snapshot); a
    snapshot whose files are no longer current (compacted since) is read from its own manifest list.
    Snapshots that add no data (`replace` by compaction, `delete`) touch no day."""
    data_snapshots = [s for s in snapshots if _adds_data(s)]
    wanted = {s.snapshot_id for s in data_snapshots}
    found: dict[int, tuple[set[date], int]] = {sid: (set(), 0) for sid in wanted}
    current = table.current_snapshot()
    if wanted and current is not None:
        _collect(table, current.manifests(table.io), wanted, found, zone)
        for snapshot in data_snapshots:
            expected = int((snapshot.summary or {}).get("added-data-files", "1") or 0)
            if expected and not found[snapshot.snapshot_id][1]:
                _collect(table, snapshot.manifests(table.io), {snapshot.snapshot_id}, found, zone)
    result = []
    for snapshot in snapshots:
        days, records = found.get(snapshot.snapshot_id, (set(), 0))
        result.append(NewData(snapshot.snapshot_id, frozenset(days), records))
    return result


def _adds_data(snapshot) -> bool:
    """Appends and overwrites add data, except table maintenance's own (compaction rewrites rows that
    were there, a manifest merge adds none)."""
    summary = snapshot.summary
    if summary is not None and MAINTENANCE_PROPERTY in summary.additional_properties:
        return False
    operation = summary.operation if summary is not None else None
    return operation in (None, Operation.APPEND, Operation.OVERWRITE)


def _collect(table: Table, manifests, wanted: set[int], found: dict, zone: ZoneInfo) -> None:
    field_id = table.schema().find_field("recorded_at").field_id
    for manifest in manifests:
        if manifest.added_snapshot_id not in wanted or manifest.content != ManifestContent.DATA:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status != ManifestEntryStatus.ADDED or entry.snapshot_id not in wanted:
                continue
            days, records = found[entry.snapshot_id]
            found[entry.snapshot_id] = (
                days | _file_days(entry.data_file, field_id, zone),
                records + entry.data_file.record_count,
            )


def _file_days(data_file, field_id: int, zone: ZoneInfo) -> set[date]:
    """The local days a data file may hold: its recorded_at bounds, or else its day partition."""
    lower = (data_file.lower_bounds or {}).get(field_id)
    upper = (data_file.upper_bounds or {}).get(field_id)
    if lower is not None and upper is not None:
        low, high = timestamp_from_bound(lower), timestamp_from_bound(upper)
        return _local_days(low, high, zone)
    partition_day = data_file.partition[0] if len(data_file.partition) else None
    if partition_day is None:
        return set()
    start = EPOCH_DT + timedelta(days=partition_day)  # day(recorded_at): days since the epoch, a UTC day
    return _local_days(start, start + timedelta(days=1) - timedelta(microseconds=1), zone)


EPOCH_DT = datetime(1970, 1, 1)
