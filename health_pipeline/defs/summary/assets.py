from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa

from health_pipeline.alerts.liveness import tell_export
from health_pipeline.defs.common import HEALTH_RECORDS, OWNER, machine_faults, query_metadata, run_query
from health_pipeline.stack import Stack
from health_pipeline.summary.csv_format import CSV_COLUMNS, preview_markdown
from health_pipeline.summary.days import read_summary_parquet, summary_key
from health_pipeline.summary.estimate import ScanEstimate, estimate_query
from health_pipeline.summary.refresh import export_day, summarize_days

ICEBERG_SCHEMA = dg.AssetKey("iceberg_schema")
CSV_DEADLINE_HOUR = 3  # the day's CSV is due by 03:00 (partition time zone) the next day; the schedule runs at 01:00


def partition_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[date]:
    """The days of the run: one partition, or every day of a range (a backfill run as one run)."""
    return [date.fromisoformat(key) for key in context.partition_keys]


def kept_summary(stack: Stack, day: date) -> tuple[pa.Table, str]:
    """The day's summary rows as daily_health_summary kept them, with the id of the query that made them."""
    try:
        data = stack.summary_store.read(summary_key(day))
    except FileNotFoundError as err:
        raise dg.Failure(
            f"no kept summary for {day} at {stack.summary_store.uri(summary_key(day))}: materialize"
            " daily_health_summary for that day first (in aws mode the kept rows expire with Athena's results)"
        ) from err
    return read_summary_parquet(data)


def _csv_schema(rows: pa.Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c, str(rows.schema.field(c).type)) for c in CSV_COLUMNS if c in rows.column_names]
    )


def _days_markdown(counts: dict[date, tuple[int, int]]) -> str:
    lines = ["| day | users | records |", "|---|---:|---:|"]
    lines += [f"| {day} | {users:,} | {records:,} |" for day, (users, records) in counts.items()]
    return "\n".join(lines)


def _estimate(context: dg.AssetExecutionContext, stack: Stack, query) -> list[ScanEstimate]:
    """The query's scan estimate from the table's manifests; none (with a warning) if it cannot be made:
    the estimate is advice and never stops a summary."""
    try:
        return [estimate_query(stack.table.iceberg_table(), query)]
    except Exception as err:
        context.log.warning(f"no scan estimate for {query.name} {query.window}: {err}")
        return []


def _estimate_metadata(estimates: list[ScanEstimate], scanned: int) -> dict:
    """The manifests' estimate, to read beside bytes_scanned (what the engine measured: Athena's
    DataScannedInBytes), and their ratio."""
    if not estimates:
        return {}
    estimated = sum(e.scan_bytes for e in estimates)
    metadata: dict = {"estimated_scan_bytes": estimated}
    if scanned:
        metadata["estimate_vs_scanned"] = round(estimated / scanned, 3)
    return metadata


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
        backfill_policy=dg.BackfillPolicy.single_run(),
        # Retried only when it may help (Athena says Retryable, throttling, a lost connection): see run_query.
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
    )
    def daily_health_summary(context: dg.AssetExecutionContext, stack: dg.ResourceParam[Stack]) -> dg.MaterializeResult:
        """Each person's day in the users' time zone: record count, the average (3 decimals), minimum and
        maximum of fatigue, mood and motivation, and the bitwise OR of flags. Runs sql/daily_summary.sql for
        the partition's window (the local day's 00:00 to the next 00:00, converted to UTC); exact duplicates
        from at-least-once delivery count once. A range of days (a backfill) is one run and one query per
        31 days, grouped by the zone's day. Each day's rows are kept for the export; re-materializing a
        day replaces them."""
        days = partition_days(context)
        estimates: list[ScanEstimate] = []

        def estimated_run(query):
            estimates.extend(_estimate(context, stack, query))
            return run_query(stack.query_engine, query)

        with machine_faults(
            f"daily_health_summary could not keep the rows of {days[0]}..{days[-1]}", stack.settings.home
        ):
            results, by_day = summarize_days(stack, days, zone, run=estimated_run)
        counts: dict[date, tuple[int, int]] = {}
        for day, rows in by_day.items():
            records = int(pa.compute.sum(rows["record_count"]).as_py() or 0) if rows.num_rows else 0
            counts[day] = (rows.num_rows, records)
        query, result = results[-1]
        context.log.info(
            f"{days[0]}..{days[-1]}: {len(results)} query(ies), {sum(u for u, _ in counts.values())} user-days,"
            f" {sum(r.files_scanned for _, r in results)} files / {sum(r.bytes_scanned for _, r in results)} bytes scanned"
        )
        first_window, last_window = results[0][0].window, query.window
        if first_window is None or last_window is None:  # the summary query is always ranged
            raise ValueError(f"the summary query {query.name} has no recorded_at window")
        first_start, last_end = first_window[0], last_window[1]
        metadata = {
            "dagster/row_count": sum(users for users, _ in counts.values()),
            "dagster/column_schema": dg.TableSchemaMetadataValue(_csv_schema(result.rows)),
            "window_utc": f"[{first_start.isoformat()}, {last_end.isoformat()})",
            "records_counted": sum(records for _, records in counts.values()),
            **query_metadata(result),
            **_estimate_metadata(estimates, sum(r.bytes_scanned for _, r in results)),
            "query": dg.MetadataValue.md(f"```sql\n{result.sql.strip()}\n```"),
            "preview": dg.MetadataValue.md(preview_markdown(result.rows)),
        }
        if len(days) > 1:  # one materialization per day, each with the run's figures: say which is which
            metadata.update(
                days=dg.MetadataValue.md(_days_markdown(counts)),
                queries=len(results),
                query_ids=", ".join(r.query_id for _, r in results),
                bytes_scanned=sum(r.bytes_scanned for _, r in results),
            )
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        partitions_def=partitions,
        deps=[daily_health_summary],
        group_name="daily_summary",
        kinds=set(export_kinds),
        owners=[OWNER],
        backfill_policy=dg.BackfillPolicy.single_run(),
        # Dagster's freshness daemon shows the export overdue in the UI when the day's CSV is not there by
        # 03:00 in the partition time zone (the schedule runs at 01:00).
        freshness_policy=dg.FreshnessPolicy.cron(
            deadline_cron=f"0 {CSV_DEADLINE_HOUR} * * *",
            lower_bound_delta=timedelta(hours=CSV_DEADLINE_HOUR),
            timezone=partitions.timezone,
        ),
    )
    def daily_summary_csv(context: dg.AssetExecutionContext, stack: dg.ResourceParam[Stack]) -> dg.MaterializeResult:
        """The day's summary as a CSV file for the people who read it outside Dagster:
        `<export root>/daily_summary/date=YYYY-MM-DD/daily_summary.csv`, UTF-8 with a header, one row per
        user sorted by user_id. Written atomically; a re-materialization replaces it. A range of days
        writes each day's file exactly as a single-day run does. Each export is told outside Dagster (aws:
        a CloudWatch data point, the day's age, that the export alarm watches; local: the time, for
        `health-pipeline alerts status`); `export_metric` says whether it was."""
        exported = []
        for day in partition_days(context):
            rows, query_id = kept_summary(stack, day)
            with machine_faults(f"daily_summary_csv could not write the CSV of {day}", stack.settings.home):
                exported.append((day, rows, query_id, export_day(stack, day, rows)))
            context.log.info(f"{day}: {rows.num_rows} rows to {exported[-1][3].location}")
        day, rows, query_id, last = exported[-1]
        now = datetime.now(UTC)
        # The export alarm (aws) and `alerts status` (local) see the export without Dagster.
        untold = tell_export(stack.liveness, [d for d, _, _, _ in exported], now.astimezone(zone).date(), now)
        if untold:
            context.log.warning(f"the export was not told to {stack.liveness.where}: {untold}")
        metadata = {
            "path": dg.MetadataValue.path(last.location),
            "dagster/row_count": sum(r.num_rows for _, r, _, _ in exported),
            "bytes": sum(e.size_bytes or 0 for _, _, _, e in exported),
            "query_id": query_id,
            "preview": dg.MetadataValue.md(preview_markdown(rows)),
            "export_metric": f"not told: {untold}" if untold else f"told to {stack.liveness.where}",
        }
        if len(exported) > 1:
            metadata["files"] = dg.MetadataValue.md("\n".join(f"- {d}: `{e.location}`" for d, _, _, e in exported))
        return dg.MaterializeResult(metadata=metadata)

    return [daily_health_summary, daily_summary_csv]
