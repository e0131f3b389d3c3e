"""A range of days as one run and one query (a backfill from the UI or `dagster asset materialize
--partition-range`), writing each day's CSV exactly as a single-day run does, across a DST change."""

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import PROJECT_ROOT, Settings
from health_pipeline.summary.days import export_key
from health_pipeline_tests.support import deliver, materialize
from health_pipeline_tests.support.summary_oracle import expected_summary, read_summary_csv_bytes

ZONE = "America/New_York"
DAYS = [date(2026, 3, 6) + timedelta(days=n) for n in range(5)]  # 2026-03-08 has 23 hours in New York
DAGSTER = str(Path(sys.executable).parent / "dagster")
# Around the spring-forward day: 23:59:59 EST on the 7th, 00:00 EST on the 8th, 23:59:59 EDT on the
# 8th, 00:00 EDT on the 9th; and a record written twice (at-least-once delivery).
DST_EDGES = [
    {"user_id": "dst", "recorded_at": "2026-03-08T04:59:59.999999Z", "fatigue": 1, "mood": 1, "motivation": 1, "flags": 1},
    {"user_id": "dst", "recorded_at": "2026-03-08T05:00:00Z", "fatigue": 2, "mood": 2, "motivation": 2, "flags": 2},
    {"user_id": "dst", "recorded_at": "2026-03-09T03:59:59.999999Z", "fatigue": 3, "mood": 3, "motivation": 3, "flags": 4},
    {"user_id": "dst", "recorded_at": "2026-03-09T04:00:00Z", "fatigue": 4, "mood": 4, "motivation": 4, "flags": 8},
    {"user_id": "dst", "recorded_at": "2026-03-09T04:00:00Z", "fatigue": 4, "mood": 4, "motivation": 4, "flags": 8},
]  # fmt: skip


def test_a_range_run_is_one_query_and_writes_each_day_as_single_day_runs_do(tmp_path):
    settings = Settings(home=tmp_path / "home", timezone=ZONE, start_date="2026-03-01")
    stack = LocalStack(settings)
    records = list(generate_records(25, [DAYS[0] - timedelta(days=1), *DAYS], settings.zone, seed=11)) + DST_EDGES
    assert not deliver(stack, records).rejected
    exports = settings.home / "exports"

    # The range as an operator launches it: the Dagster CLI, one run.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env.update(HEALTH_PIPELINE_HOME=str(settings.home), HEALTH_PIPELINE_TIMEZONE=ZONE,
               HEALTH_PIPELINE_START_DATE="2026-03-01", DAGSTER_HOME=str(tmp_path / "dagster"))  # fmt: skip
    (tmp_path / "dagster").mkdir()
    done = subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "health_pipeline.definitions",
         "--select", "daily_health_summary,daily_summary_csv", "--partition-range", f"{DAYS[0]}...{DAYS[-1]}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from_range = {day: (exports / export_key(day)).read_bytes() for day in DAYS}
    assert not (exports / export_key(DAYS[0] - timedelta(days=1))).exists()  # only the range was run

    for day in DAYS:  # each day alone, as the schedule runs it
        (exports / export_key(day)).unlink()
        assert materialize(
            settings, ["daily_health_summary", "daily_summary_csv"], partition_key=day.isoformat()
        ).success
        assert (exports / export_key(day)).read_bytes() == from_range[day], f"{day} differs from the range run"

    for day in DAYS:  # and both are right, by a computation that shares nothing with the SQL
        pd.testing.assert_frame_equal(
            read_summary_csv_bytes(from_range[day]), expected_summary(records, day, ZONE), check_dtype=False
        )
    dst = {day: read_summary_csv_bytes(from_range[day]).set_index("user_id").loc["dst"] for day in DAYS[1:4]}
    assert [dst[day]["record_count"] for day in DAYS[1:4]] == [1, 2, 1]  # the 23-hour day holds 00:00 to 23:59:59
    assert [dst[day]["flags_any"] for day in DAYS[1:4]] == [1, 6, 8]


def test_the_range_run_issues_one_summary_query_and_its_checks_cover_every_day(tmp_path):
    settings = Settings(home=tmp_path / "home", timezone=ZONE, start_date="2026-03-01")
    stack = LocalStack(settings)
    assert not deliver(stack, list(generate_records(10, DAYS, settings.zone, seed=5))).rejected
    queries: list[str] = []
    run = stack.query_engine.run
    stack.query_engine.run = lambda query: queries.append(query.name) or run(query)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("daily_summary_job")
    result = job.execute_in_process(
        resources={"stack": stack},
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": str(DAYS[0]), "dagster/asset_partition_range_end": str(DAYS[-1])},
    )
    assert result.success
    assert queries.count("daily_summary") == 1
    materialized = {m.partition for m in result.asset_materializations_for_node("daily_summary_csv")}
    assert materialized == {str(day) for day in DAYS}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert all(check.passed for check in checks.values()) and len(checks) == 3
    assert checks["day_records_valid"].metadata["days"].value == f"{DAYS[0]}..{DAYS[-1]} (5 days)"
