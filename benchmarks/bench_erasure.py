"""erase_seconds: one person erased from a 60-day, one-million-record local table (issue 23's target:
<= 30 s), the whole of `erase` (spool, day-finding scan, PyIceberg delete, the touched days' summaries
and CSVs written again, error output, snapshot expiry and unreferenced-file removal, receipt); with
erase_files_rewritten (data files the delete rewrote) and erase_days_reexported. The table is built as
bench.py builds it (one append per UTC day, about 16,700 records and 1,000 users a day), compacted by
table_maintenance, and every day's summary and CSV is written first, as the schedule would have.

Run alone: `python -m benchmarks.bench_erasure` (last line `BENCH {json}`).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from health_pipeline.engines.local import LocalStack
from health_pipeline.erasure import erase
from health_pipeline.maintenance import MaintenancePolicy
from health_pipeline.settings import Settings
from health_pipeline.summary.refresh import export_day, summarize_days
from health_pipeline_tests.support.synthetic_records import synthetic_day

FIRST_DAY = date(2026, 9, 1)
DAYS = 60
RECORDS = 1_000_000
USERS_PER_DAY = 1000


def erasure_figures() -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="bench-erasure-") as tmp:
        settings = Settings(home=Path(tmp) / "home", start_date=FIRST_DAY.isoformat())
        stack = LocalStack(settings)
        desired = stack.desired_schema()
        rng = np.random.default_rng(23)
        per_day = RECORDS // DAYS
        for n in range(DAYS):
            start = datetime.combine(FIRST_DAY + timedelta(days=n), datetime.min.time())
            stack.table.append(synthetic_day(start, per_day + (n < RECORDS % DAYS), USERS_PER_DAY, rng), desired)
        stack.maintenance.run(datetime.now(UTC), MaintenancePolicy(closed_after=timedelta(0)))
        days = [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]
        _, by_day = summarize_days(stack, days, settings.zone)
        for day in days:
            export_day(stack, day, by_day[day])
        files_before = len(list(stack.table.load().scan().plan_files()))
        started = time.perf_counter()
        receipt = erase(stack, settings, ["user-000123"], reason="bench")
        seconds = time.perf_counter() - started
    table = receipt.details["table"]
    figures = {
        "erase_seconds": round(seconds, 2),
        "erase_files_rewritten": table["files_rewritten"],
        "erase_table_files": files_before,
        "erase_rows_deleted": receipt.rows_deleted[settings.table],
        "erase_days_reexported": len(receipt.days_reexported),
    }
    print(
        f"erase_seconds: {figures['erase_seconds']} s for one user in a {DAYS}-day, {RECORDS:,}-record table;"
        f" {figures['erase_rows_deleted']} rows, {figures['erase_files_rewritten']} of {files_before} files"
        f" rewritten, {figures['erase_days_reexported']} days re-exported"
    )
    return figures


if __name__ == "__main__":
    print("BENCH " + json.dumps(erasure_figures(), sort_keys=True))
