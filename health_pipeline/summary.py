"""The daily summary: the partition day's UTC window, its query, and the exported CSV's format."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

from health_pipeline.sql import Query, load_sql, with_date_literal

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


def daily_summary_query(day: date, zone: ZoneInfo, table: str) -> Query:
    start, end = day_window(day, zone)
    return Query(
        name="daily_summary",
        text=with_date_literal(load_sql("daily_summary"), "partition_date", day),
        parameters=(start, end),
        window=(start, end),
        table=table,
    )


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
        columns = [batch.column(c).to_pylist() for c in CSV_COLUMNS]
        writer.writerows(["" if value is None else _cell(value) for value in row] for row in zip(*columns))
    return buffer.getvalue().encode("utf-8")


def _cell(value) -> str:
    if isinstance(value, float):
        return repr(round(value, 3))
    return str(value)


def preview_markdown(rows: pa.Table, limit: int = 10) -> str:
    columns = [c for c in CSV_COLUMNS if c in rows.column_names]
    head = rows.select(columns).slice(0, limit).to_pylist()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in head:
        lines.append("| " + " | ".join("" if record[c] is None else str(record[c]) for c in columns) + " |")
    if rows.num_rows > limit:
        lines.append(f"\n… {rows.num_rows - limit} more rows")
    return "\n".join(lines)
