"""Erasure: a person's data, removed on request (APPI's right to have one's data erased), in either
mode through the stack's `erasure` part, one code path for the CLI and the Dagster job:

1. the spool is delivered, so every record already accepted is in the table;
2. the days the people have records on are found (one query, `sql/erasure_minutes.sql`, in either
   mode: their ids matched by SHA-256, never as text, a recorded_at window from the first partition
   day, or the table's oldest record, to tomorrow);
3. their rows are deleted (local: one PyIceberg delete; aws: one Athena DELETE);
4. the touched days' summaries and CSVs are written again from the table, as a run of the summary
   assets writes them, and the kept summary rows and the error output lose theirs;
5. the history that still holds the rows goes (local: every older snapshot expired, unreferenced files
   removed now; aws: S3 Tables' snapshot expiry and unreferenced-file removal, whose configured days
   give the date by which the bytes are gone);
6. a receipt (`receipt.ErasureReceipt`) says what was done, and is kept.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from health_pipeline.erasure.receipt import ErasureReceipt, hashed_user_id
from health_pipeline.settings import Settings
from health_pipeline.stack import Stack
from health_pipeline.summary.days import export_key, read_summary_parquet, summary_key
from health_pipeline.summary.refresh import consecutive_runs, export_day, summarize_days

__all__ = ["ErasureFailed", "ErasureReceipt", "erase", "erasure_window", "user_ids_from"]

MAX_USERS = 1000  # per request: the query's parameters and the receipt stay small


class ErasureFailed(RuntimeError):
    """The erasure could not finish; the message says what is left and what to do."""


def user_ids_from(values: list[str]) -> list[str]:
    """The ids to erase, each once, in the order given; a usage error for none, an empty one, too many."""
    ids = list(dict.fromkeys(values))
    if not ids:
        raise ValueError("no user id to erase: give --user ID (once per person)")
    if any(not isinstance(value, str) or not value for value in ids):
        raise ValueError("an empty user id cannot be erased: give each person's user_id exactly as the app sends it")
    if len(ids) > MAX_USERS:
        raise ValueError(f"{len(ids)} user ids in one request; erase at most {MAX_USERS} at a time")
    return ids


def erasure_window(
    settings: Settings, now: datetime, bounds: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime]:
    """[the first partition day's start, or the table's oldest recorded_at if older; tomorrow, or past
    the newest recorded_at if later), UTC without zone: every stored record falls in it."""
    start_day = date.fromisoformat(settings.start_date)
    start = datetime.combine(start_day, time(0), tzinfo=settings.zone).astimezone(UTC).replace(tzinfo=None)
    end = (now.astimezone(UTC) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    if bounds is not None:
        start = min(start, bounds[0])
        end = max(end, bounds[1] + timedelta(seconds=1))
    return start, end


def _partition_days(settings: Settings, now: datetime, days: set[date]) -> list[date]:
    """The days among `days` that are daily partitions (from the start date to yesterday in the zone)."""
    first, today = date.fromisoformat(settings.start_date), now.astimezone(settings.zone).date()
    return sorted(day for day in days if first <= day < today)


def _kept_rows(stack: Stack, ids: set[str], day: date) -> tuple[int, int]:
    """(rows of `ids` in the day's kept summary, in its exported CSV)."""
    kept = csv_rows = 0
    try:
        rows, _ = read_summary_parquet(stack.summary_store.read(summary_key(day)))
        kept = int(pc.sum(pc.is_in(rows["user_id"], value_set=pa.array(sorted(ids), pa.string()))).as_py() or 0)
    except FileNotFoundError:
        pass
    try:
        reader = csv.DictReader(io.StringIO(stack.export_store.read(export_key(day)).decode("utf-8")))
        csv_rows = sum(1 for row in reader if row.get("user_id") in ids)
    except FileNotFoundError:
        pass
    return kept, csv_rows


def erase(
    stack: Stack,
    settings: Settings,
    user_ids: list[str],
    reason: str | None = None,
    *,
    request_id: str | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> ErasureReceipt:
    """Erase `user_ids` everywhere the pipeline stores them (see the module's docstring); returns the
    kept receipt. `log` takes one line per step."""
    ids = user_ids_from(user_ids)
    wanted = set(ids)
    part = stack.erasure
    requested = datetime.now(UTC)
    request_id = request_id or str(uuid.uuid4())

    delivered = part.drain_spool()
    log(f"spool delivered to the table: {delivered} record(s)")
    window = erasure_window(settings, requested, part.recorded_at_bounds())
    minutes = part.find_minutes(ids, window)
    record_days = {minute.replace(tzinfo=UTC).astimezone(settings.zone).date() for minute in minutes}
    log(f"{sum(minutes.values())} record(s) on {len(record_days)} day(s) in [{window[0]}, {window[1]})")
    kept_days = set(part.kept_summary_days())
    days = _partition_days(settings, requested, record_days | kept_days)
    before = {day: _kept_rows(stack, wanted, day) for day in days}
    days = [day for day in days if day in record_days or any(before[day])]

    deleted = part.delete_records(ids, window, sum(minutes.values()))
    log(f"deleted {deleted.rows} row(s) from {settings.table}: {deleted.describe()}")
    left = part.find_minutes(ids, window)
    if left:
        raise ErasureFailed(
            f"{sum(left.values())} record(s) of the request {request_id} are still in {settings.table} after"
            " the delete (a delivery committed them meanwhile?); run the erasure again with the same ids"
        )
    for run in consecutive_runs(days):
        _, by_day = summarize_days(stack, run, settings.zone)
        for day in run:
            export_day(stack, day, by_day[day])
    if days:
        log(f"re-exported {len(days)} day(s): {days[0]} .. {days[-1]}")
    error_documents = part.purge_error_output(wanted)
    log(f"removed {error_documents} error document(s)")
    history = part.forget_history(datetime.now(UTC), days)
    log(f"history: {history.describe()}")

    receipt = ErasureReceipt(
        request_id=request_id,
        requested_at=requested.isoformat(timespec="seconds"),
        completed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        mode=settings.mode,
        user_id_sha256=[hashed_user_id(user_id) for user_id in ids],
        reason=reason,
        rows_deleted={
            settings.table: deleted.rows,
            "daily_health_summary": sum(kept for kept, _ in before.values()),
            "daily_summary_csv": sum(rows for _, rows in before.values()),
            "error_output": error_documents,
        },
        days_reexported=[day.isoformat() for day in days],
        bytes_gone_by=history.gone_by.astimezone(UTC).isoformat(timespec="seconds"),
        details={"table": deleted.details(), "history": history.details, "spool_records_delivered": delivered},
    )
    receipt.location = part.keep_receipt(receipt.key, receipt.as_json())
    log(f"receipt {receipt.location}")
    return receipt
