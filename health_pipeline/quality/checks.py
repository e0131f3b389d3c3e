"""Data-quality checks on health_records and the daily summaries, as plain Python over the SQL engine.

Each check is one record (`QualityCheck`, all of them in `CHECKS`): its asset check's name and asset,
its severity, whether it blocks the day's CSV, and what it checks in words made from its thresholds.
Adding a check is that record, its SQL (`sql/quality_*.sql`) and its outcome below, and its test: the
Dagster layer (`defs/quality/checks.py`) builds the asset checks from the records, and
docs/operations/running.md shows their descriptions (unit/test_quality_checks.py holds both to them).

Every query carries a recorded_at range (or reads only the null partition). The Dagster layer turns
each `CheckOutcome` into an asset check result, with the expected and actual values in its metadata.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from health_pipeline.sql import Query, load_sql
from health_pipeline.sql.render import with_rendered
from health_pipeline.stack import QueryEngine

ERROR = "ERROR"
WARN = "WARN"
BUFFER_INTERVAL = timedelta(seconds=300)  # Firehose's buffer: the newest five minutes may not be in yet
SCORES = (0, 10)  # the range of fatigue, mood and motivation (sql/quality_window.sql counts the rest)
HEALTH_RECORDS = "health_records"
DAILY_HEALTH_SUMMARY = "daily_health_summary"


@dataclass(frozen=True)
class Thresholds:
    window_days: int = 7
    future_skew: timedelta = timedelta(minutes=5)
    future_horizon: timedelta = timedelta(days=30)
    duplicate_ratio: float = 0.01
    quiet_hours: float = 3.0
    volume_low: float = 0.5
    volume_high: float = 2.0
    volume_min_history_days: int = 3


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    severity: str
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityCheck:
    """One data-quality check: its asset check's name and asset, its severity, whether a failure stops
    the day's CSV export (`blocking`), and what it checks, in words made from the thresholds."""

    name: str
    asset: str
    severity: str
    blocking: bool
    checks: Callable[[Thresholds], str]  # what passes, in words, from the thresholds it is judged by

    def description(self, thresholds: Thresholds = Thresholds()) -> str:
        return self.checks(thresholds)

    def outcome(self, passed: bool, description: str, metadata: dict[str, Any]) -> CheckOutcome:
        """This check's outcome: `description` says what was judged in this run, `metadata` the
        expected and actual values."""
        return CheckOutcome(self.name, passed, self.severity, description, metadata)


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min"


NO_MISSING_USER_OR_TIME = QualityCheck(
    "no_missing_user_or_time", HEALTH_RECORDS, ERROR, False,
    lambda t: "every record has a user_id (not empty) and a recorded_at",
)  # fmt: skip
SCORES_WITHIN_0_10 = QualityCheck(
    "scores_within_0_10", HEALTH_RECORDS, ERROR, False,
    lambda t: f"fatigue, mood and motivation within {SCORES[0]}-{SCORES[1]}",
)  # fmt: skip
FLAGS_NON_NEGATIVE = QualityCheck("flags_non_negative", HEALTH_RECORDS, ERROR, False, lambda t: "flags >= 0")
DUPLICATES_BELOW_THRESHOLD = QualityCheck(
    "duplicates_below_threshold", HEALTH_RECORDS, WARN, False,
    lambda t: f"exact duplicates (the same user_id and recorded_at, from at-least-once delivery) at most"
    f" {t.duplicate_ratio:.0%} of the records",
)  # fmt: skip
NO_FUTURE_RECORDS = QualityCheck(
    "no_future_records", HEALTH_RECORDS, WARN, False,
    lambda t: f"no recorded_at later than now + {_minutes(t.future_skew)} of clock skew",
)  # fmt: skip
RECORDS_ARE_FRESH = QualityCheck(
    "records_are_fresh", HEALTH_RECORDS, WARN, False,
    lambda t: f"records in the last {t.quiet_hours:g} h (+{BUFFER_INTERVAL.total_seconds():g} s of Firehose's"
    " buffer) when records were flowing in the 24 h before",
)  # fmt: skip
DAILY_VOLUME_NORMAL = QualityCheck(
    "daily_volume_normal", HEALTH_RECORDS, WARN, False,
    lambda t: f"yesterday's record count within {t.volume_low:g}x-{t.volume_high:g}x of the recent daily median"
    f" (judged once {t.volume_min_history_days} days have records)",
)  # fmt: skip
DAY_RECORDS_VALID = QualityCheck(
    "day_records_valid", DAILY_HEALTH_SUMMARY, ERROR, True,
    lambda t: f"the day's records are valid: a user_id, scores within {SCORES[0]}-{SCORES[1]}, flags >= 0",
)  # fmt: skip
RECORD_COUNT_MATCHES_DISTINCT_RECORDS = QualityCheck(
    "record_count_matches_distinct_records", DAILY_HEALTH_SUMMARY, ERROR, True,
    lambda t: "the sum of record_count equals the distinct (user_id, recorded_at) records in the day's window",
)  # fmt: skip
ONE_ROW_PER_USER = QualityCheck(
    "one_row_per_user", DAILY_HEALTH_SUMMARY, ERROR, True, lambda t: "no user appears twice in the day's summary"
)

# Every check, in the order the UI and the docs list them: health_records' (recent window), then each day's.
CHECKS = (
    NO_MISSING_USER_OR_TIME,
    SCORES_WITHIN_0_10,
    FLAGS_NON_NEGATIVE,
    DUPLICATES_BELOW_THRESHOLD,
    NO_FUTURE_RECORDS,
    RECORDS_ARE_FRESH,
    DAILY_VOLUME_NORMAL,
    DAY_RECORDS_VALID,
    RECORD_COUNT_MATCHES_DISTINCT_RECORDS,
    ONE_ROW_PER_USER,
)


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def recent_window(now: datetime, zone: ZoneInfo, thresholds: Thresholds) -> tuple[datetime, datetime]:
    """From local midnight `window_days` ago to `future_horizon` ahead (so future-dated rows are seen)."""
    local_today = now.astimezone(zone).date()
    start = datetime.combine(local_today - timedelta(days=thresholds.window_days), datetime.min.time(), tzinfo=zone)
    return _utc_naive(start), _utc_naive(now) + thresholds.future_horizon


def _query(name: str, table: str, parameters: tuple[Any, ...], window: tuple[datetime, datetime]) -> Query:
    return Query(name=name, text=load_sql(name), parameters=parameters, window=window, table=table)


def validity_query(table: str, window: tuple[datetime, datetime], future_cutoff: datetime) -> Query:
    """quality_window.sql: the window as WHERE parameters, the future cutoff (outside WHERE, where
    Athena takes no parameter) rendered as a TIMESTAMP literal."""
    text = with_rendered(load_sql("quality_window"), future_cutoff=future_cutoff)
    return Query(name="quality_window", text=text, parameters=window, window=window, table=table)


def _first_row(rows: pa.Table) -> dict[str, Any]:
    """The single row of an aggregate query; SUMs come back as decimals from some engines: made ints."""
    row = rows.to_pylist()[0] if rows.num_rows else {}
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def validity_outcomes(
    engine: QueryEngine,
    table: str,
    window: tuple[datetime, datetime],
    now: datetime,
    thresholds: Thresholds = Thresholds(),
    include_null_time: bool = True,
) -> tuple[list[CheckOutcome], dict[str, Any]]:
    """The ERROR checks: missing user_id or recorded_at, scores outside 0-10, negative flags."""
    start, end = window
    cutoff = _utc_naive(now) + thresholds.future_skew
    figures = _first_row(engine.run(validity_query(table, window, cutoff)).rows)
    figures = {k: (v or 0) if k != "latest_recorded_at" else v for k, v in figures.items()}
    missing_time = 0
    if include_null_time:
        null_query = Query(
            name="quality_missing_time", text=load_sql("quality_missing_time"), table=table, null_time=True
        )
        missing_time = _first_row(engine.run(null_query).rows).get("missing_recorded_at") or 0
    figures["missing_recorded_at"] = missing_time
    scope = f"{table} rows with recorded_at in [{start.isoformat()}, {end.isoformat()}) UTC"
    outcomes = [
        NO_MISSING_USER_OR_TIME.outcome(
            figures["missing_user_id"] == 0 and missing_time == 0,
            f"null or empty user_id among {scope}; rows with no recorded_at at all",
            {
                "expected": 0,
                "actual_missing_user_id": figures["missing_user_id"],
                "actual_missing_recorded_at": missing_time,
            },
        ),
        SCORES_WITHIN_0_10.outcome(
            figures["score_out_of_range"] == 0,
            f"fatigue, mood and motivation within {SCORES[0]}-{SCORES[1]} among {scope}",
            {"expected": 0, "actual": figures["score_out_of_range"]},
        ),
        FLAGS_NON_NEGATIVE.outcome(
            figures["negative_flags"] == 0,
            f"flags >= 0 among {scope}",
            {"expected": 0, "actual": figures["negative_flags"]},
        ),
    ]
    return outcomes, figures


def table_outcomes(
    engine: QueryEngine, table: str, now: datetime, zone: ZoneInfo, thresholds: Thresholds = Thresholds()
) -> list[CheckOutcome]:
    """Every check on health_records for the recent window: the ERROR ones, then the WARN ones."""
    window = recent_window(now, zone, thresholds)
    start, end = window
    outcomes, figures = validity_outcomes(engine, table, window, now, thresholds)
    total = figures["total_rows"]

    copies = _first_row(engine.run(_query("quality_copies", table, window, window)).rows)
    extra = copies.get("extra_copies") or 0
    ratio = extra / total if total else 0.0
    outcomes.append(
        DUPLICATES_BELOW_THRESHOLD.outcome(
            ratio <= thresholds.duplicate_ratio,
            "exact duplicates (same user_id and recorded_at) as a share of the window's rows",
            {
                "expected_max_ratio": thresholds.duplicate_ratio,
                "actual_ratio": round(ratio, 6),
                "duplicate_copies": extra,
                "rows": total,
            },
        )
    )
    outcomes.append(
        NO_FUTURE_RECORDS.outcome(
            figures["future_rows"] == 0,
            f"recorded_at no later than now + {int(thresholds.future_skew.total_seconds())} s of clock skew",
            {"expected": 0, "actual": figures["future_rows"], "latest_recorded_at": str(figures["latest_recorded_at"])},
        )
    )

    hourly = [
        {"hour_utc": r["hour_utc"], "records": int(r["records"])}
        for r in engine.run(_query("quality_hourly", table, window, window)).rows.to_pylist()
    ]
    outcomes.append(_freshness(hourly, now, thresholds))
    outcomes.append(_volume(hourly, now, zone, thresholds))
    return outcomes


def _freshness(hourly: list[dict], now: datetime, thresholds: Thresholds) -> CheckOutcome:
    now_utc = _utc_naive(now)
    hour = timedelta(hours=1)
    quiet_from = now_utc - timedelta(hours=thresholds.quiet_hours) - BUFFER_INTERVAL
    before_from = quiet_from - timedelta(hours=24)
    recent = sum(r["records"] for r in hourly if r["hour_utc"] + hour > quiet_from and r["hour_utc"] <= now_utc)
    before = sum(r["records"] for r in hourly if before_from <= r["hour_utc"] and r["hour_utc"] + hour <= quiet_from)
    latest = max((r["hour_utc"] for r in hourly if r["hour_utc"] <= now_utc), default=None)
    passed = recent > 0 or before == 0
    return RECORDS_ARE_FRESH.outcome(
        passed,
        f"records in the last {thresholds.quiet_hours:g} h (+{int(BUFFER_INTERVAL.total_seconds())} s of Firehose"
        " buffer) when records were flowing in the 24 h before",
        {
            "expected": "> 0 records when the 24 h before had some",
            "actual_recent_records": recent,
            "records_in_24h_before": before,
            "latest_hour_with_records_utc": str(latest),
        },
    )


def _volume(hourly: list[dict], now: datetime, zone: ZoneInfo, thresholds: Thresholds) -> CheckOutcome:
    per_day: Counter[date] = Counter()
    for row in hourly:
        per_day[row["hour_utc"].replace(tzinfo=UTC).astimezone(zone).date()] += row["records"]
    today = now.astimezone(zone).date()
    yesterday = today - timedelta(days=1)
    history = [per_day[d] for d in sorted(per_day) if d < yesterday and per_day[d] > 0]
    actual = per_day.get(yesterday, 0)
    if len(history) < thresholds.volume_min_history_days:
        return DAILY_VOLUME_NORMAL.outcome(
            True,
            f"not enough history ({len(history)} days with records) to judge {yesterday}'s volume",
            {"day": str(yesterday), "actual": actual, "history_days": len(history)},
        )
    norm = statistics.median(history)
    low, high = norm * thresholds.volume_low, norm * thresholds.volume_high
    return DAILY_VOLUME_NORMAL.outcome(
        low <= actual <= high,
        f"{yesterday}'s record count within {thresholds.volume_low:g}x-{thresholds.volume_high:g}x of the recent"
        " daily median",
        {
            "day": str(yesterday),
            "actual": actual,
            "expected_min": round(low, 1),
            "expected_max": round(high, 1),
            "median_of_recent_days": norm,
            "history_days": len(history),
        },
    )


def summary_count_outcome(
    engine: QueryEngine, table: str, rows: pa.Table, window: tuple[datetime, datetime]
) -> CheckOutcome:
    """Per partition: the summary counts every distinct record of the window exactly once."""
    copies = _first_row(engine.run(_query("quality_copies", table, window, window)).rows)
    distinct = copies.get("distinct_records") or 0
    counted = sum(v or 0 for v in rows.column("record_count").to_pylist()) if rows.num_rows else 0
    return RECORD_COUNT_MATCHES_DISTINCT_RECORDS.outcome(
        counted == distinct,
        "sum of record_count equals the distinct (user_id, recorded_at) records in the day's window",
        {"expected": distinct, "actual": counted},
    )


def one_row_per_user_outcome(rows: pa.Table) -> CheckOutcome:
    users = rows.column("user_id").to_pylist() if rows.num_rows else []
    repeated = sorted(str(u) for u, n in Counter(users).items() if n > 1)
    return ONE_ROW_PER_USER.outcome(
        not repeated,
        "no user appears twice in the summary",
        {"expected": 0, "actual": len(repeated), "repeated_users": repeated[:10]},
    )
