from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa

from health_pipeline.defs.common import HEALTH_RECORDS, OWNER, query_metadata, run_query
from health_pipeline.engines import Stack
from health_pipeline.summary import CSV_COLUMNS, daily_summary_query, export_key, preview_markdown

ICEBERG_SCHEMA = dg.AssetKey("iceberg_schema")
CSV_DEADLINE_HOUR = 3  # the day's CSV is due by 03:00 (partition time zone) the next day; the schedule runs at 01:00


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


def build_summary_assets(
    partitions: dg.DailyPartitionsDefinition, query_kind: str, export_kinds: frozenset[str]
) -> list[dg.AssetsDefinition]:
    """daily_health_summary and daily_summary_csv over `partitions`, with the kinds of the stack's engines."""
    zone = ZoneInfo(partitions.timezone)

    @dg.asset(
        partitions_def=partitions,
        deps=[HEALTH_RECORDS, ICEBERG_SCHEMA],
        group_name="daily_summary",
        kinds={query_kind, "sql"},
        owners=[OWNER],
        pool="athena",
        # Retried only when it may help (Athena says Retryable, throttling, a lost connection): see run_query.
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
    )
    def daily_health_summary(context: dg.AssetExecutionContext, stack: dg.ResourceParam[Stack]) -> dg.Output:
        """Each person's day in the users' time zone: record count, the average (3 decimals), minimum and
        maximum of fatigue, mood and motivation, and the bitwise OR of flags. Runs sql/daily_summary.sql for
        the partition's window (the local day's 00:00 to the next 00:00, converted to UTC); exact duplicates
        from at-least-once delivery count once. Re-materializing a day replaces it."""
        day = date.fromisoformat(context.partition_key)
        engine = stack.query_engine
        query = daily_summary_query(day, zone, stack.table.table_name)
        result = run_query(engine, query)
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
        partitions_def=partitions,
        group_name="daily_summary",
        kinds=set(export_kinds),
        owners=[OWNER],
        # Dagster's freshness daemon shows the export overdue in the UI when the day's CSV is not there by
        # 03:00 in the partition time zone (the schedule runs at 01:00).
        freshness_policy=dg.FreshnessPolicy.cron(
            deadline_cron=f"0 {CSV_DEADLINE_HOUR} * * *",
            lower_bound_delta=timedelta(hours=CSV_DEADLINE_HOUR),
            timezone=partitions.timezone,
        ),
    )
    def daily_summary_csv(
        context: dg.AssetExecutionContext, daily_health_summary: DailySummary, stack: dg.ResourceParam[Stack]
    ) -> dg.MaterializeResult:
        """The day's summary as a CSV file for the people who read it outside Dagster:
        `<export root>/daily_summary/date=YYYY-MM-DD/daily_summary.csv`, UTF-8 with a header, one row per
        user sorted by user_id. Written atomically; a re-materialization replaces it."""
        summary = daily_health_summary
        exported = stack.export_store.export_summary(export_key(summary.day), summary.rows, summary.result_location)
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

    return [daily_health_summary, daily_summary_csv]
