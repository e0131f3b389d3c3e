from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa

from health_pipeline.defs.common import HEALTH_RECORDS
from health_pipeline.defs.summary.assets import kept_summary, partition_days
from health_pipeline.quality.checks import (
    CHECKS,
    DAY_RECORDS_VALID,
    ERROR,
    ONE_ROW_PER_USER,
    RECORD_COUNT_MATCHES_DISTINCT_RECORDS,
    CheckOutcome,
    QualityCheck,
    Thresholds,
    one_row_per_user_outcome,
    summary_count_outcome,
    table_outcomes,
    validity_outcomes,
)
from health_pipeline.quality.checks import (
    HEALTH_RECORDS as TABLE,
)
from health_pipeline.stack import Stack
from health_pipeline.summary.days import day_window

DAILY_HEALTH_SUMMARY = dg.AssetKey("daily_health_summary")
TABLE_CHECKS = [check for check in CHECKS if check.asset == TABLE]


def _severity(severity: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if severity == ERROR else dg.AssetCheckSeverity.WARN


def _described(check: QualityCheck) -> str:
    """The check's description as the UI shows it: what it checks, its severity, whether it blocks."""
    return f"{check.description()} ({check.severity}{', blocking: a failure stops the CSV export' if check.blocking else ''})"


def _result(outcome: CheckOutcome, asset_key: str | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.name if asset_key else None,
        passed=outcome.passed,
        severity=_severity(outcome.severity),
        description=outcome.description,
        metadata={
            k: v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v)
            for k, v in outcome.metadata.items()
        },
    )


def _days(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def build_quality_checks(partitions: dg.DailyPartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """The checks on health_records (recent window) and on each day's summary (blocking the CSV export)."""
    zone = ZoneInfo(partitions.timezone)

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(check.name, asset=HEALTH_RECORDS, description=_described(check), blocking=check.blocking)
            for check in TABLE_CHECKS
        ],
        description=f"The data-quality checks on health_records for the recent window ({Thresholds().window_days}"
        " days), each query ranged.",
        pool="athena",
    )
    def health_records_checks(stack: dg.ResourceParam[Stack]):
        now = datetime.now(UTC)
        for outcome in table_outcomes(stack.query_engine, stack.table.table_name, now, zone):
            yield _result(outcome, "health_records")

    def run_window(context: dg.AssetCheckExecutionContext) -> tuple[list[date], tuple[datetime, datetime]]:
        """The run's days (one, or a backfill's range) and their whole UTC window."""
        days = partition_days(context)
        return days, (day_window(days[0], zone)[0], day_window(days[-1], zone)[1])

    @dg.asset_check(
        asset=DAILY_HEALTH_SUMMARY,
        name=DAY_RECORDS_VALID.name,
        partitions_def=partitions,
        blocking=DAY_RECORDS_VALID.blocking,
        description=_described(DAY_RECORDS_VALID),
        pool="athena",
    )
    def day_records_valid(
        context: dg.AssetCheckExecutionContext, stack: dg.ResourceParam[Stack]
    ) -> dg.AssetCheckResult:
        days, window = run_window(context)
        outcomes, figures = validity_outcomes(
            stack.query_engine, stack.table.table_name, window, datetime.now(UTC), include_null_time=False
        )
        failed = [o for o in outcomes if not o.passed]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=_severity(DAY_RECORDS_VALID.severity),
            description="; ".join(o.description for o in failed) or f"every record of {_days(days)} is valid",
            metadata={
                "days": _days(days),
                "expected_invalid_rows": 0,
                "actual_missing_user_id": figures["missing_user_id"],
                "actual_score_out_of_range": figures["score_out_of_range"],
                "actual_negative_flags": figures["negative_flags"],
                "rows": figures["total_rows"],
            },
        )

    @dg.asset_check(
        asset=DAILY_HEALTH_SUMMARY,
        name=RECORD_COUNT_MATCHES_DISTINCT_RECORDS.name,
        partitions_def=partitions,
        blocking=RECORD_COUNT_MATCHES_DISTINCT_RECORDS.blocking,
        description=_described(RECORD_COUNT_MATCHES_DISTINCT_RECORDS),
        pool="athena",
    )
    def record_count_matches_distinct_records(
        context: dg.AssetCheckExecutionContext, stack: dg.ResourceParam[Stack]
    ) -> dg.AssetCheckResult:
        days, window = run_window(context)
        rows = pa.concat_tables([kept_summary(stack, day)[0] for day in days])
        return _result(summary_count_outcome(stack.query_engine, stack.table.table_name, rows, window))

    @dg.asset_check(
        asset=DAILY_HEALTH_SUMMARY,
        name=ONE_ROW_PER_USER.name,
        partitions_def=partitions,
        blocking=ONE_ROW_PER_USER.blocking,
        description=_described(ONE_ROW_PER_USER),
    )
    def one_row_per_user(context: dg.AssetCheckExecutionContext, stack: dg.ResourceParam[Stack]) -> dg.AssetCheckResult:
        outcomes = [(day, one_row_per_user_outcome(kept_summary(stack, day)[0])) for day in partition_days(context)]
        failed = [(day, o) for day, o in outcomes if not o.passed]
        day, outcome = failed[0] if failed else outcomes[-1]
        if len(outcomes) > 1:
            outcome.metadata["days_failed"] = ", ".join(d.isoformat() for d, _ in failed) or "none"
            outcome.metadata["first_failed_day" if failed else "last_day"] = day.isoformat()
        return _result(outcome)

    return [health_records_checks, day_records_valid, record_count_matches_distinct_records, one_row_per_user]


DATA_QUALITY_JOB = "data_quality_job"


def build_data_quality_job():
    return dg.define_asset_job(
        DATA_QUALITY_JOB,
        selection=dg.AssetSelection.checks_for_assets(HEALTH_RECORDS),
        description="Every data-quality check on health_records for the recent window.",
    )
