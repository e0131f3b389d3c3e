"""A summary's days: a day's UTC window, the query for one or more days, and the rows kept between
the summary and its export and checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from health_pipeline.sql import Query, load_sql, with_day_case


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
        bulk_result=True,
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
