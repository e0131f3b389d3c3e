"""Table maintenance for the local Iceberg table: what S3 Tables does by itself in production.

- Compaction: each closed UTC day (a `day(recorded_at)` partition that ended `closed_after` ago) that
  holds more than one data file, or was never compacted, is rewritten as one file sorted by
  recorded_at with small Parquet row groups, so that a day's window in the users' time zone reads only
  the row groups it needs. The rewrite is one snapshot tagged `health-pipeline.maintenance`: the rows
  are the same, and the new-data sensor sees no new data in it.
- Manifest merging, before and after compaction: one `merge_append` with no new file folds every
  manifest into as few as the table's merge properties allow (each 5-minute buffer otherwise leaves
  a manifest behind).
- Snapshot expiry: snapshots older than the retention are dropped from the metadata, except the
  current one, the newest `keep_last`, every snapshot from `keep_from` on (the new-data sensor's
  cursor: the history it has not read yet), and every snapshot of a spool segment still on disk (a
  crash between a segment's commit and its removal: the stream recognizes it by that snapshot's tag
  when it delivers it again, and commits it only once).
- Unreferenced file removal, after expiry (PyIceberg's expiry removes metadata only): every file under
  the table's data/ and metadata/ that no kept snapshot, nor the metadata log, references any more, and
  that is older than `unreferenced_after`, is deleted: the files compaction replaced once the
  snapshots that read them have expired, the manifests and manifest lists of expired snapshots, and
  whatever a crashed write left uncommitted. This is S3 Tables' unreferenced file removal, locally.

Each step (one commit at most) takes the delivery stream's commit lock, so maintenance and deliveries
never race and a delivery waits for one maintenance commit at most. A step is planned under the lock
it commits under; killed at any moment, a run leaves the table as of its last commit (the files it
wrote and did not commit are unreferenced, and removed by a later run).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.exceptions import ValidationException
from pyiceberg.manifest import ManifestFile
from pyiceberg.table import Table

from health_pipeline.engines.local.delivery_stream import SEGMENT_PROPERTY, LocalDeliveryStream
from health_pipeline.engines.local.pyiceberg_patches import conform_rows, expire_snapshot_ids, rewrite_files
from health_pipeline.engines.local.table import LocalIcebergTable, flocked, local_path
from health_pipeline.maintenance import (
    MAINTENANCE_PROPERTY,
    MaintenancePolicy,
    MaintenanceReport,
    table_figures,
)
from health_pipeline.row_filters import recorded_at_window
from health_pipeline.storage_fault import storage_fault

COMPACTED_THROUGH = "health-pipeline.compacted-through"  # the last UTC day compaction has rewritten
ROW_GROUP_ROWS = 4096  # about an hour of a day of 100,000 records: a day's window skips the rest
TABLE_PROPERTIES = {
    "write.parquet.row-group-limit": str(ROW_GROUP_ROWS),
    "commit.manifest-merge.enabled": "true",
    "commit.manifest-merge.min-count-to-merge": "2",
}
EPOCH = date(1970, 1, 1)
T = TypeVar("T")
BATCH_DAYS = 7  # days rewritten per scan and commit: bounds the rows a compaction holds in memory


class LocalTableMaintenance:
    def __init__(self, table: LocalIcebergTable, stream: LocalDeliveryStream) -> None:
        self.table = table
        self.stream = stream

    def run(
        self, now: datetime, policy: MaintenancePolicy = MaintenancePolicy(), keep_from: int | None = None
    ) -> MaintenanceReport:
        try:
            return self._run(now, policy, keep_from)
        except Exception as err:
            fault = storage_fault(err, "table maintenance could not maintain the table", self.table.warehouse_dir)
            if fault is None:
                raise
            raise fault.but(
                safe="the table as its last commit left it, every record once (each maintenance step is one commit);"
                " files a step wrote and did not commit are removed by a later run",
                then="run table_maintenance again",
            ) from err

    def _run(self, now: datetime, policy: MaintenancePolicy, keep_from: int | None) -> MaintenanceReport:
        report = MaintenanceReport()
        iceberg = self.table.iceberg_table()
        if iceberg is None or iceberg.current_snapshot() is None:
            report.notes.append(f"{self.table.identifier} has no data yet: nothing to maintain")
            return report
        report.figures.update(table_figures(iceberg, "before"))
        self._step(report, lambda: self._set_properties(self.table.load()))
        # Merge first: compaction's commit rewrites every manifest that lists a file it replaces,
        # which is thousands of one-file manifests on a table that has not been maintained.
        self._step(report, lambda: self._merge_manifests(self.table.load()))
        report.compacted_days = self._compact(report, now, policy.closed_after)
        self._step(report, lambda: self._merge_manifests(self.table.load()))
        expired = self._step(
            report,
            lambda: self._expire(
                self.table.load(), now, policy, keep_from, {path.name for path in self.stream.segments()}
            ),
        )
        files_removed, bytes_removed = self._step(
            report, lambda: remove_unreferenced_files(self.table.load(), now, policy.unreferenced_after)
        )
        iceberg = self.table.load()
        report.figures.update(table_figures(iceberg, "after"))
        report.figures.update(
            days_compacted=len(report.compacted_days),
            snapshots_expired=expired,
            unreferenced_files_removed=files_removed,
            unreferenced_bytes_removed=bytes_removed,
        )
        return report

    def _step(self, report: MaintenanceReport, step: Callable[[], T]) -> T:
        """One step (at most one commit) under the stream's commit lock, so deliveries wait for one
        commit at most; the table holds as many records after it as before (deliveries land between
        steps, never within one)."""
        with flocked(self.stream.commit_lock):
            before = _total_records(self.table.load())
            result = step()
            after = _total_records(self.table.load())
        if before != after:
            report.state = "FAILING"
            report.problems.append(
                f"the table held {before} records before a maintenance commit and {after} after it; look at the"
                " snapshots it committed"
            )
        return result

    def forget_history(self, now: datetime) -> tuple[int, int, int]:
        """Expire every snapshot but the current one (and those of spool segments still on disk, which
        the stream needs to deliver them only once) and delete at once every file no kept snapshot
        references: what an erasure needs so that no snapshot a reader can open holds the erased rows.
        Returns (snapshots expired, files removed, bytes removed)."""
        iceberg = self.table.iceberg_table()
        if iceberg is None or iceberg.current_snapshot() is None:
            return 0, 0, 0
        everything = MaintenancePolicy(snapshot_retention=timedelta(0), keep_last=1, unreferenced_after=timedelta(0))
        with flocked(self.stream.commit_lock):
            spooled = {path.name for path in self.stream.segments()}
            expired = self._expire(self.table.load(), now, everything, None, spooled)
            # A schema migration writes its metadata file without this lock: a recent one is kept (metadata
            # files hold no record's values; manifests, with their column bounds, all go).
            files, bytes_removed = remove_unreferenced_files(
                self.table.load(),
                now,
                everything.unreferenced_after,
                metadata_older_than=MaintenancePolicy().unreferenced_after,
            )
        return expired, files, bytes_removed

    @staticmethod
    def _set_properties(table: Table) -> Table:
        missing = {k: v for k, v in TABLE_PROPERTIES.items() if table.properties.get(k) != v}
        if missing:
            with table.transaction() as transaction:
                transaction.set_properties(missing)
        return table

    def _compact(
        self, report: MaintenanceReport, now: datetime, closed_after: timedelta, attempts: int = 3
    ) -> list[str]:
        """Rewrite closed UTC days (partitions) with several files, or never compacted, a batch of days a
        commit. PyIceberg's overwrite validation has been seen, once in a benchmark and not reproduced,
        to miss a file it was asked to remove; the commit then fails whole and is planned again."""
        for attempt in range(1, attempts + 1):
            try:
                return self._compact_once(report, now, closed_after)
            except ValidationException:
                if attempt == attempts:
                    raise
        return []

    def _compact_once(self, report: MaintenanceReport, now: datetime, closed_after: timedelta) -> list[str]:
        table = self.table.load()
        through = table.properties.get(COMPACTED_THROUGH)
        compacted_through = date.fromisoformat(through) if through else None
        last_closed = (now.astimezone(UTC) - closed_after).date() - timedelta(days=1)
        due = sorted(
            day
            for day, files in closed_day_files(table, last_closed).items()
            if len(files) > 1 or compacted_through is None or day > compacted_through
        )
        if not due:
            return []
        for batch in _batches(due):

            def rewrite(batch: list[date] = batch) -> None:
                # planned again under the lock: a delivery since may have added a file to one of the days
                table = self.table.load()
                self._rewrite_days(table, batch, closed_day_files(table, last_closed))

            self._step(report, rewrite)
        newest = max(due)
        if compacted_through is None or newest > compacted_through:

            def mark() -> None:
                with self.table.load().transaction() as transaction:
                    transaction.set_properties({COMPACTED_THROUGH: newest.isoformat()})

            self._step(report, mark)
        return [day.isoformat() for day in due]

    @staticmethod
    def _rewrite_days(table: Table, days: list[date], files_by_day: dict[date, list]) -> None:
        """One scan of `days` (consecutive), each day's rows sorted, committed in one snapshot."""
        first = datetime.combine(days[0], datetime.min.time())
        window = recorded_at_window(first, first + timedelta(days=len(days)))
        scanned = conform_rows(table.scan(row_filter=window).to_arrow(), table)
        day_of_row = pc.days_between(pa.scalar(datetime(1970, 1, 1), pa.timestamp("us")), scanned["recorded_at"])
        removed, rows = [], []
        for day in days:
            day_rows = scanned.filter(pc.equal(day_of_row, (day - EPOCH).days))
            order = pc.sort_indices(day_rows, sort_keys=[("recorded_at", "ascending"), ("user_id", "ascending")])
            rows.append(day_rows.take(order))
            removed += files_by_day.get(day, [])
        rewrite_files(table, removed, rows, {MAINTENANCE_PROPERTY: "compaction"})

    @staticmethod
    def _merge_manifests(table: Table) -> None:
        current = table.current_snapshot()
        if current is None or len(current.manifests(table.io)) < 2:
            return
        with table.transaction() as transaction:
            with transaction.update_snapshot(
                snapshot_properties={MAINTENANCE_PROPERTY: "merge-manifests"}
            ).merge_append():
                pass

    @staticmethod
    def _expire(
        table: Table, now: datetime, policy: MaintenancePolicy, keep_from: int | None, spooled: set[str]
    ) -> int:
        snapshots = sorted(table.metadata.snapshots, key=lambda s: s.sequence_number or 0)
        cutoff_ms = int((now.astimezone(UTC) - policy.snapshot_retention).timestamp() * 1000)
        keep = {table.metadata.current_snapshot_id} | {s.snapshot_id for s in snapshots[-max(policy.keep_last, 1) :]}
        keep |= {ref.snapshot_id for ref in table.metadata.refs.values()}
        keep |= {s.snapshot_id for s in snapshots if s.summary and s.summary.get(SEGMENT_PROPERTY) in spooled}
        if keep_from is not None:
            cursor = table.snapshot_by_id(keep_from)
            if cursor is not None:  # the sensor has read up to here: everything from it on is kept
                keep |= {s.snapshot_id for s in snapshots if (s.sequence_number or 0) >= (cursor.sequence_number or 0)}
        expired = [s.snapshot_id for s in snapshots if s.snapshot_id not in keep and s.timestamp_ms < cutoff_ms]
        if expired:
            expire_snapshot_ids(table, expired)
        return len(expired)


def closed_day_files(table: Table, last_closed: date) -> dict[date, list]:
    """The data files of each UTC day (partition) through `last_closed`."""
    files_by_day: dict[date, list] = {}
    for task in table.scan().plan_files():
        partition_day = task.file.partition[0] if len(task.file.partition) else None
        if partition_day is None:
            continue  # rows without recorded_at (rejected upstream; never produced by the stream)
        day = EPOCH + timedelta(days=partition_day)
        if day <= last_closed:
            files_by_day.setdefault(day, []).append(task.file)
    return files_by_day


def _total_records(table: Table) -> int:
    current = table.current_snapshot()
    if current is None or current.summary is None:
        return 0
    return int(current.summary.get("total-records") or 0)


def remove_unreferenced_files(
    table: Table, now: datetime, older_than: timedelta, metadata_older_than: timedelta | None = None
) -> tuple[int, int]:
    """Deletes the files under the table's data/ and metadata/ that `table` no longer references and
    that were last written before `now - older_than` (a `*.metadata.json` before `now -
    metadata_older_than`, when given); returns how many files and bytes."""
    referenced = referenced_files(table)
    root = Path(local_path(table.location()))
    cutoff = (now - older_than).timestamp()
    metadata_cutoff = cutoff if metadata_older_than is None else (now - metadata_older_than).timestamp()
    files = bytes_ = 0
    for folder in (root / "data", root / "metadata"):
        for path in sorted(folder.rglob("*"), reverse=True):  # a folder's files before the folder
            if path.is_dir():
                if path != folder and not any(path.iterdir()):
                    path.rmdir()  # a partition folder whose files were all compacted away
                continue
            if str(path) in referenced:
                continue
            status = path.stat()
            if status.st_mtime < (metadata_cutoff if path.name.endswith(".metadata.json") else cutoff):
                path.unlink()
                files, bytes_ = files + 1, bytes_ + status.st_size
    return files, bytes_


def referenced_files(table: Table) -> set[str]:
    """The local paths of every file the table's metadata references: its metadata files (current and
    logged), statistics, and each kept snapshot's manifest list, manifests and live data files."""
    metadata, io = table.metadata, table.io
    paths = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    paths |= {statistics.statistics_path for statistics in metadata.statistics}
    paths |= {statistics.statistics_path for statistics in metadata.partition_statistics}
    manifests: dict[str, ManifestFile] = {}
    for snapshot in metadata.snapshots:
        paths.add(snapshot.manifest_list)
        manifests.update((manifest.manifest_path, manifest) for manifest in snapshot.manifests(io))
    paths |= manifests.keys()
    for manifest in manifests.values():
        paths |= {entry.data_file.file_path for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)}
    return {local_path(path) for path in paths}


def _batches(days: list[date]) -> list[list[date]]:
    """`days` (sorted) in runs of consecutive days, at most BATCH_DAYS each."""
    batches: list[list[date]] = []
    for day in days:
        if batches and day == batches[-1][-1] + timedelta(days=1) and len(batches[-1]) < BATCH_DAYS:
            batches[-1].append(day)
        else:
            batches.append([day])
    return batches
