"""A day's summary and its CSV written from the table: what daily_health_summary and daily_summary_csv
do for their partitions, as plain functions, so that a run of those assets and an erasure (which
rewrites the days it touched, outside any Dagster run) write the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

import pyarrow as pa

from health_pipeline.sql import Query
from health_pipeline.stack import ExportedFile, QueryResult, Stack
from health_pipeline.summary.days import (
    daily_summary_query,
    export_key,
    query_ranges,
    rows_by_day,
    summary_key,
    summary_parquet,
)

PARQUET = "application/vnd.apache.parquet"


def summarize_days(
    stack: Stack, days: list[date], zone: ZoneInfo, run: Callable[[Query], QueryResult] | None = None
) -> tuple[list[tuple[Query, QueryResult]], dict[date, pa.Table]]:
    """Query consecutive `days` (one query per MAX_DAYS_PER_QUERY) and keep each day's rows in the
    summary store; returns the queries with their results, and each day's rows. `run` runs a query
    (the stack's query engine unless given: the assets pass theirs, which turns failures into Dagster's)."""
    run = run or stack.query_engine.run
    results: list[tuple[Query, QueryResult]] = []
    by_day: dict[date, pa.Table] = {}
    for chunk in query_ranges(days):
        query = daily_summary_query(chunk, zone, stack.table.table_name)
        result = run(query)
        results.append((query, result))
        for day, rows in rows_by_day(result.rows, chunk).items():
            stack.summary_store.write(summary_key(day), summary_parquet(rows, result.query_id), content_type=PARQUET)
            by_day[day] = rows
    return results, by_day


def export_day(stack: Stack, day: date, rows: pa.Table) -> ExportedFile:
    """The day's kept rows as its CSV in the export store, replacing the previous file."""
    return stack.export_store.export_summary(export_key(day), rows)


def consecutive_runs(days: set[date] | list[date]) -> list[list[date]]:
    """`days` sorted, in runs of consecutive days (a summary query covers consecutive days only)."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
