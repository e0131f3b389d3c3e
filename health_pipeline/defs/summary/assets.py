from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa

from health_pipeline.defs.common import OWNER, SETTINGS, query_metadata, run_query
from health_pipeline.defs.resources import ExportStoreResource, QueryEngineResource
from health_pipeline.defs.schema.assets import iceberg_schema
from health_pipeline.defs.summary.partitions import daily_partitions
from health_pipeline.defs.table.assets import health_records
from health_pipeline.summary import CSV_COLUMNS, daily_summary_query, export_key, preview_markdown


@dataclass
class DailySummary:
    """What daily_health_summary hands to the export: the day, the query and its result."""

    day: date
    query_id: str
    rows: pa.Table
    result_location: str | None = None


def _csv_schema(rows: pa.Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c, str(rows.schema.field(c).type)) for c in CSV_COLUMNS if c in rows.column_names]
    )


@dg.asset(
    partitions_def=daily_partitions,
    ins={},
    deps=[health_records, iceberg_schema],
    group_name="daily_summary",
    kinds={"duckdb" if SETTINGS.mode == "local" else "athena", "sql"},
    owners=[OWNER],
    pool="athena",
    # Retried only when it may help (Athena says Retryable, throttling, a lost connection): see run_query.
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
)
def daily_health_summary(context: dg.AssetExecutionContext, query_engine: QueryEngineResource) -> dg.Output:
    """Each person's day in the users' time zone: record count, the average (3 decimals), minimum and
    maximum of fatigue, mood and motivation, and the bitwise OR of flags. Runs sql/daily_summary.sql for
    the partition's window (the local day's 00:00 to the next 00:00, converted to UTC); exact duplicates
    from at-least-once delivery count once. Re-materializing a day replaces it."""
    day = date.fromisoformat(context.partition_key)
    query = daily_summary_query(day, ZoneInfo(daily_partitions.timezone), query_engine.table)
    result = run_query(query_engine, query)
    start, end = query.window
    context.log.info(
        f"{day}: {result.rows.num_rows} users, {result.files_scanned} files / {result.bytes_scanned} bytes scanned"
    )
    return dg.Output(
        DailySummary(day=day, query_id=result.query_id, rows=result.rows, result_location=result.result_location),
        metadata={
            "dagster/row_count": result.rows.num_rows,
            "dagster/column_schema": dg.TableSchemaMetadataValue(_csv_schema(result.rows)),
            "window_utc": f"[{start.isoformat()}, {end.isoformat()})",
            "records_counted": int(pa.compute.sum(result.rows["record_count"]).as_py() or 0),
            **query_metadata(result),
            "query": dg.MetadataValue.md(f"```sql\n{result.sql.strip()}\n```"),
            "preview": dg.MetadataValue.md(preview_markdown(result.rows)),
        },
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="daily_summary",
    kinds={"csv", "s3"} if SETTINGS.mode == "aws" else {"csv"},
    owners=[OWNER],
)
def daily_summary_csv(
    context: dg.AssetExecutionContext, daily_health_summary: DailySummary, export_store: ExportStoreResource
) -> dg.MaterializeResult:
    """The day's summary as a CSV file for the people who read it outside Dagster:
    `<export root>/daily_summary/date=YYYY-MM-DD/daily_summary.csv`, UTF-8 with a header, one row per
    user sorted by user_id. Written atomically; a re-materialization replaces it."""
    summary = daily_health_summary
    exported = export_store.export_summary(export_key(summary.day), summary.rows, summary.result_location)
    context.log.info(f"{exported.how}: {summary.rows.num_rows} rows to {exported.location}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(exported.location),
            "dagster/row_count": summary.rows.num_rows,
            "bytes": exported.size_bytes,
            "query_id": summary.query_id,
            "preview": dg.MetadataValue.md(preview_markdown(summary.rows)),
        }
    )
