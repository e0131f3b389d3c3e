"""backfill_30_days_vs_single_runs and backfill_queries: re-materializing 30 days of
daily_health_summary + daily_summary_csv through Dagster (in-process runs, the local stack), as one
range run against 30 single-day runs of the same days; and how many summary queries the range ran.

A range run lasts about 2 s, and this VM's speed drifts by a third from one minute to the next, so
one range run against 30 single runs is a noisy ratio (0.17-0.22 in one afternoon): the two are
measured in turn for ROUNDS rounds, and the figure is the median round's ratio (every round's is
printed)."""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np

from health_pipeline.definitions import build_definitions
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
from health_pipeline.summary.days import day_window
from health_pipeline_tests.support.synthetic_records import synthetic_day

FIRST = date(2026, 10, 1)
DAYS = 30
RECORDS_PER_DAY = 20_000
ROUNDS = 3


def backfill_figures() -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="hp-bench-backfill-") as tmp:
        settings = Settings(home=Path(tmp) / "home", start_date="2026-09-01")
        stack = LocalStack(settings)
        desired = stack.desired_schema()
        rng = np.random.default_rng(3)
        days = [FIRST + timedelta(days=n) for n in range(DAYS)]
        for day in days:
            start = day_window(day, settings.zone)[0]
            stack.table.append(synthetic_day(start, RECORDS_PER_DAY, 2_000, rng), desired)
        queries: list[str] = []
        run = stack.query_engine.run
        stack.query_engine.run = lambda query: queries.append(query.name) or run(query)
        job = build_definitions(settings).resolve_job_def("daily_summary_job")
        instance = dg.DagsterInstance.ephemeral()
        job.execute_in_process(partition_key=days[0].isoformat(), resources={"stack": stack}, instance=instance)
        queries.clear()  # the warm-up run (imports, first catalog connection) is not counted

        tags = {"dagster/asset_partition_range_start": str(days[0]), "dagster/asset_partition_range_end": str(days[-1])}
        rounds = []  # (ratio, single runs s, range run s, range run's summary queries)
        for _ in range(ROUNDS):
            queries.clear()
            started = time.perf_counter()
            for day in days:
                assert job.execute_in_process(
                    partition_key=day.isoformat(), resources={"stack": stack}, instance=instance
                ).success
            single = time.perf_counter() - started
            single_queries = queries.count("daily_summary")
            queries.clear()
            started = time.perf_counter()
            assert job.execute_in_process(resources={"stack": stack}, instance=instance, tags=tags).success
            ranged = time.perf_counter() - started
            rounds.append((ranged / single, single, ranged, queries.count("daily_summary")))
        ratio, single, ranged, range_queries = sorted(rounds)[len(rounds) // 2]
        figures = {
            "backfill_30_days_vs_single_runs": round(ratio, 3),
            "backfill_queries": max(r[3] for r in rounds),
            "backfill_30_single_runs_s": round(single, 2),
            "backfill_30_day_range_run_s": round(ranged, 2),
        }
    print(
        f"backfill of {DAYS} days x {RECORDS_PER_DAY:,} records, median of {ROUNDS} rounds: 30 single-day runs"
        f" {single:.1f} s ({single_queries} summary queries), one range run {ranged:.1f} s ({range_queries} summary"
        f" query): ratio {figures['backfill_30_days_vs_single_runs']}; every round, range/single s: "
        + ", ".join(f"{r[2]:.2f}/{r[1]:.2f} ({r[0]:.3f})" for r in rounds)
    )
    return figures


if __name__ == "__main__":
    print(backfill_figures(), datetime.now())
