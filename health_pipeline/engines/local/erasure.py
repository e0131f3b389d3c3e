"""Erasure in local mode: the days found by the same SQL file as aws mode's (`sql/erasure_minutes.sql`,
the ids matched by their SHA-256) on the local engine; the people's rows deleted with PyIceberg
(copy-on-write: each data file that holds one of their rows is rewritten without it), then every older
snapshot expired and every file no snapshot references removed at once, so that no snapshot a reader
can open holds the rows. Every commit takes the delivery stream's commit lock, as deliveries and table
maintenance do."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from pathlib import Path

from pyiceberg.expressions import And, BooleanExpression, Or
from pyiceberg.table.snapshots import Snapshot

from health_pipeline.engines.local.export_store import LocalExportStore
from health_pipeline.engines.local.query_engine import DuckDBQueryEngine
from health_pipeline.engines.local.table import LocalIcebergTable, flocked
from health_pipeline.erasure.deletion import (
    ERASURE_TAG,
    RETENTION_TAG,
    DeletedRows,
    History,
    days_of,
    purge_error_documents,
    recorded_at_bounds,
)
from health_pipeline.erasure.statements import erasure_minutes_query
from health_pipeline.maintenance import MAINTENANCE_PROPERTY
from health_pipeline.row_filters import recorded_at_missing, recorded_at_window, users_in
from health_pipeline.summary.days import summary_key


def _filter(user_ids: list[str], window: tuple[datetime, datetime], with_null_time: bool) -> BooleanExpression:
    in_window = recorded_at_window(*window)
    time_filter = Or(in_window, recorded_at_missing()) if with_null_time else in_window
    return And(users_in(user_ids), time_filter)


def _total_records(snapshot: Snapshot | None) -> int:
    """The table's record count as a snapshot's summary states it (0 without one)."""
    summary = snapshot.summary if snapshot is not None else None
    return int((summary.get("total-records") if summary is not None else None) or 0)


class LocalErasure:
    def __init__(
        self,
        table: LocalIcebergTable,
        stream,
        maintenance,
        summary_store: LocalExportStore,
        home: Path,
        query_engine: DuckDBQueryEngine,
        table_name: str,
    ) -> None:
        self.table = table
        self.query_engine = query_engine
        self.table_name = table_name
        self.stream = stream
        self.maintenance = maintenance
        self.summary_store = summary_store
        self.receipts = LocalExportStore(home)

    def drain_spool(self) -> int:
        """Deliver what the spool holds (so the delete finds it); returns the records delivered."""
        from health_pipeline.engines.local.delivery_stream import line_count

        records = sum(line_count(path) for path in self.stream.segments())
        self.stream.flush()
        return records

    def recorded_at_bounds(self) -> tuple[datetime, datetime] | None:
        return recorded_at_bounds(self.table.iceberg_table())

    def find_minutes(self, user_ids: list[str], window: tuple[datetime, datetime]) -> dict[datetime, int]:
        """The UTC minutes holding the people's records, with counts: `sql/erasure_minutes.sql`, the
        statement aws mode sends to Athena, on the local engine (DuckDB over the window's files)."""
        table = self.table.iceberg_table()
        if table is None or table.current_snapshot() is None:
            return {}
        rows = self.query_engine.run(erasure_minutes_query(user_ids, window, self.table_name)).rows.to_pylist()
        return {row["minute_utc"]: int(row["records"]) for row in rows if row["minute_utc"] is not None}

    def kept_summary_days(self) -> list[date]:
        return days_of(self.summary_store.keys("daily_health_summary/"), summary_key)

    def delete_records(self, user_ids: list[str], window: tuple[datetime, datetime], found: int) -> DeletedRows:
        """One PyIceberg delete of the people's rows in the window (and any without recorded_at). The rows
        deleted are counted from the delete's snapshots; `found` (the rows the day-finding query counted,
        which aws mode reports as Athena gives no count for a DELETE) is kept beside them in the details."""
        deleted = self._delete(_filter(user_ids, window, True), ERASURE_TAG)
        deleted.found = found
        return deleted

    def delete_before(self, window: tuple[datetime, datetime]) -> DeletedRows:
        """Retention: one PyIceberg delete of every row in the window (the oldest record to the cutoff)."""
        in_window = recorded_at_window(*window)
        return self._delete(in_window, RETENTION_TAG)

    def _delete(self, row_filter, tag: str) -> DeletedRows:
        """Delete the rows `row_filter` matches under the commit lock, in snapshots tagged as table
        maintenance's (`tag` says which), so the new-data sensor does not take them for data."""
        with flocked(self.stream.commit_lock):
            table = self.table.iceberg_table()
            if table is None or table.current_snapshot() is None:
                return DeletedRows(rows=0)
            before = {s.snapshot_id for s in table.metadata.snapshots}
            records_before = _total_records(table.current_snapshot())
            table.delete(row_filter, snapshot_properties={MAINTENANCE_PROPERTY: tag})
            new = [s for s in table.metadata.snapshots if s.snapshot_id not in before]
            records_after = _total_records(table.current_snapshot())
        summaries: list[Mapping[str, str]] = [s.summary or {} for s in new]

        def total(key: str) -> int:
            return sum(int(summary.get(key) or 0) for summary in summaries)

        added = total("added-data-files")
        return DeletedRows(
            rows=records_before - records_after,
            files_rewritten=added,
            files_removed=total("deleted-data-files") - added,
            snapshot_ids=[s.snapshot_id for s in new],
        )

    def purge_error_output(self, user_ids: Collection[str]) -> int:
        return purge_error_documents(self.stream.errors, user_ids)

    def forget_history(self, now: datetime, days: list[date] | None = None) -> History:
        """Every snapshot but the current one expired, and the files they alone referenced deleted now."""
        expired, files, size = self.maintenance.forget_history(now)
        return History(
            gone_by=now,
            details={"snapshots_expired": expired, "files_removed": files, "bytes_removed": size},
        )

    def keep_receipt(self, key: str, document: bytes) -> str:
        return self.receipts.write(key, document)
