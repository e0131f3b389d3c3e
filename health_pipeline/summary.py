"""The daily summary: a day's UTC window, the query for one or more days, the rows kept between the
summary and its export, and the exported CSV's format."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from health_pipeline.sql import Query, load_sql, with_day_case

CSV_COLUMNS = (
    "date", "user_id", "record_count",
    "fatigue_avg", "fatigue_min", "fatigue_max",
    "mood_avg", "mood_min", "mood_max",
    "motivation_avg", "motivation_min", "motivation_max",
    "flags_any",
)  # fmt: skip


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[day 00:00, next day 00:00) in `zone`, as UTC datetimes without zone (what recorded_at holds)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return (
        start.astimezone(UTC).replace(tzinfo=None),
        end.astimezone(UTC).replace(tzinfo=None),
    )


# Days per summary query: a backfill of up to a month is one query; a longer range is split into
# consecutive ranges of at most this many days (one query each), bounding the CASE expression and
# the result each query returns.
MAX_DAYS_PER_QUERY = 31


def daily_summary_query(days: date | list[date], zone: ZoneInfo, table: str) -> Query:
    """One query for consecutive `days` (a single day, or a range), each row of the result naming its day."""
    days = [days] if isinstance(days, date) else list(days)
    if any(b != a + timedelta(days=1) for a, b in zip(days, days[1:])):
        raise ValueError(f"the days of one summary query must be consecutive, got {[d.isoformat() for d in days]}")
    windows = [day_window(day, zone) for day in days]
    start, end = windows[0][0], windows[-1][1]
    return Query(
        name="daily_summary",
        text=with_day_case(load_sql("daily_summary"), "local_day", [(d, w[1]) for d, w in zip(days, windows)]),
        parameters=(start, end),
        window=(start, end),
        table=table,
    )


def query_ranges(days: list[date]) -> list[list[date]]:
    """`days` (sorted, consecutive) in ranges of at most MAX_DAYS_PER_QUERY, one summary query each."""
    return [days[i : i + MAX_DAYS_PER_QUERY] for i in range(0, len(days), MAX_DAYS_PER_QUERY)]


def rows_by_day(rows: pa.Table, days: list[date]) -> dict[date, pa.Table]:
    """The summary rows of each day (a day without records gets no rows, with the same columns)."""
    column = rows.column("date")
    import pyarrow.compute as pc  # on use: its kernels (~12 MB) need not be in memory while a query runs

    return {day: rows.filter(pc.equal(column, day.isoformat())) for day in days}


def summary_key(day: date) -> str:
    """Where the day's summary rows are kept between daily_health_summary and its export and checks."""
    return f"daily_health_summary/date={day.isoformat()}/summary.parquet"


def summary_parquet(rows: pa.Table, query_id: str) -> bytes:
    """The day's rows as Parquet, with the query that produced them in the file's metadata."""
    sink = pa.BufferOutputStream()
    table = rows.replace_schema_metadata({**(rows.schema.metadata or {}), b"query_id": query_id.encode()})
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def read_summary_parquet(data: bytes) -> tuple[pa.Table, str]:
    """(rows, query id) of a day's kept summary."""
    table = pq.read_table(pa.BufferReader(data))
    query_id = (table.schema.metadata or {}).get(b"query_id", b"").decode()
    return table.replace_schema_metadata(None), query_id


def export_key(day: date) -> str:
    return f"daily_summary/date={day.isoformat()}/daily_summary.csv"


def summary_csv(rows: pa.Table) -> bytes:
    """The contract's CSV: UTF-8, header, one row per user sorted by user_id, the columns in order."""
    missing = [c for c in CSV_COLUMNS if c not in rows.column_names]
    if missing:
        raise ValueError(f"the summary result lacks column(s) {', '.join(missing)}; is the SQL file current?")
    # The SQL sorts by user_id; sorting again here keeps the contract whatever engine produced the rows.
    ordered = rows.select(list(CSV_COLUMNS)).sort_by([("user_id", "ascending")])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for batch in ordered.to_batches(max_chunksize=10_000):  # bounded Python objects for large days
        writer.writerows(zip(*(_column_text(batch.column(c)) for c in CSV_COLUMNS)))
    return buffer.getvalue().encode("utf-8")


def _column_text(column: pa.Array) -> list[str]:
    """A column's cells as the CSV writes them: floats as Python's shortest repr of the value rounded to
    3 decimals, other values as Arrow renders them as text (the same as str() for ints and strings),
    nulls empty. Only the floats go through Python one value at a time."""
    if pa.types.is_floating(column.type):
        return ["" if value is None else repr(round(value, 3)) for value in column.to_pylist()]
    return ["" if value is None else value for value in column.cast(pa.string()).to_pylist()]


def preview_markdown(rows: pa.Table, limit: int = 10) -> str:
    columns = [c for c in CSV_COLUMNS if c in rows.column_names]
    head = rows.select(columns).slice(0, limit).to_pylist()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in head:
        lines.append("| " + " | ".join("" if record[c] is None else str(record[c]) for c in columns) + " |")
    if rows.num_rows > limit:
        lines.append(f"\n… {rows.num_rows - limit} more rows")
    return "\n".join(lines)
