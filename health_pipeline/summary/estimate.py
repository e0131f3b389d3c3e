"""What a summary will scan, known before it runs: from the live table's manifests alone (no query).

PyIceberg plans the scan of the query's recorded_at window as the engines do (partition pruning on
day(recorded_at), then each file's recorded_at min/max); the bytes are the kept files' `column_sizes`
of the columns the SQL reads (Athena reads Parquet by column, and bills the bytes it reads). A file
of several row groups (compacted and sorted by recorded_at) counts the share of its recorded_at range
that the window covers, as a reader skips the row groups outside the window by their statistics. A
file whose manifest entry has no column sizes counts whole. Both stacks' tables are PyIceberg tables
(the local SQLite catalog, Glue for S3 Tables), so both modes compute the same figure the same way.

Cost: Athena's price per query (`estimate_cost_usd`: $5 per TB, rounded up to the MB, 10 MB minimum),
one query per range of up to 31 days (`days.query_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from health_pipeline.athena_price import estimate_cost_usd
from health_pipeline.schema.types import timestamp_from_bound
from health_pipeline.sql import Query, load_sql
from health_pipeline.summary.days import daily_summary_query, query_ranges


@dataclass(frozen=True)
class ScanEstimate:
    """One query's window and what it should scan."""

    start: datetime
    end: datetime
    files: int
    scan_bytes: int
    files_without_column_sizes: int = 0

    @property
    def cost_usd(self) -> float:
        return estimate_cost_usd(self.scan_bytes)

    def as_dict(self) -> dict:
        return {
            "window_utc": [self.start.isoformat(), self.end.isoformat()],
            "files": self.files,
            "estimated_scan_bytes": self.scan_bytes,
            "estimated_cost_usd": self.cost_usd,
            "files_without_column_sizes": self.files_without_column_sizes,
        }


@cache
def summary_columns() -> tuple[str, ...]:
    """The columns of health_records the daily summary SQL reads, from the SQL file itself."""
    import sqlglot
    from sqlglot import exp

    from health_pipeline.sql import DIALECT

    windowed = sqlglot.parse_one(load_sql("daily_summary"), read=DIALECT).find(exp.CTE)
    select = windowed.this if windowed is not None else None
    if select is None:
        raise ValueError(
            "sql/daily_summary.sql has no CTE reading health_records; the estimate cannot find its columns"
        )
    return tuple(dict.fromkeys(column.name for column in select.find_all(exp.Column)))


def estimate_query(table, query: Query, columns: tuple[str, ...] | None = None) -> ScanEstimate:
    """The bytes `query` should scan in `table` (a PyIceberg table, or None while there is none)."""
    if query.window is None:
        raise ValueError(f"query {query.name} has no recorded_at window to estimate")
    start, end = query.window
    if table is None:
        return ScanEstimate(start, end, 0, 0)
    from health_pipeline.row_filters import recorded_at_window

    schema = table.schema()
    wanted = columns or summary_columns()
    ids = {field.name: field.field_id for field in schema.fields}
    field_ids = [ids[name] for name in wanted if name in ids]
    time_id = ids["recorded_at"]
    scan = table.scan(
        row_filter=recorded_at_window(start, end),
        selected_fields=tuple(wanted),
    )
    files = total = without_sizes = 0
    for task in scan.plan_files():
        data_file = task.file
        files += 1
        sizes = data_file.column_sizes or {}
        if not sizes or any(field_id not in sizes for field_id in field_ids):
            without_sizes += 1
            total += data_file.file_size_in_bytes
            continue
        total += round(sum(sizes[field_id] for field_id in field_ids) * _window_share(data_file, time_id, start, end))
    return ScanEstimate(start, end, files, total, without_sizes)


def _window_share(data_file, time_id: int, start: datetime, end: datetime) -> float:
    """The share of a file of several row groups that [start, end) covers, by its recorded_at range."""
    groups = len(data_file.split_offsets or ())
    lower = (data_file.lower_bounds or {}).get(time_id)
    upper = (data_file.upper_bounds or {}).get(time_id)
    if groups <= 1 or lower is None or upper is None:
        return 1.0
    low, high = timestamp_from_bound(lower), timestamp_from_bound(upper)
    span = (high - low).total_seconds()
    if span <= 0:
        return 1.0
    covered = (min(end, high) - max(start, low)).total_seconds()
    # At least one row group: a window inside the file reads the group(s) that hold it.
    return min(1.0, max(covered / span, 1.0 / groups))


@dataclass(frozen=True)
class BackfillEstimate:
    """A range of days: one ScanEstimate per summary query."""

    first: date
    last: date
    queries: list[ScanEstimate]

    @property
    def scan_bytes(self) -> int:
        return sum(q.scan_bytes for q in self.queries)

    @property
    def cost_usd(self) -> float:
        return sum(q.cost_usd for q in self.queries)

    def as_dict(self) -> dict:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "days": (self.last - self.first).days + 1,
            "queries": [q.as_dict() for q in self.queries],
            "estimated_scan_bytes": self.scan_bytes,
            "estimated_cost_usd": self.cost_usd,
        }


def estimate_backfill(table, first: date, last: date, zone: ZoneInfo, table_name: str) -> BackfillEstimate:
    """What summarizing every day from `first` to `last` (inclusive, in `zone`) should scan and cost."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}: give the first day, then the last")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    queries = [estimate_query(table, daily_summary_query(chunk, zone, table_name)) for chunk in query_ranges(days)]
    return BackfillEstimate(first, last, queries)
