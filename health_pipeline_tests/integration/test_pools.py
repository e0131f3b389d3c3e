"""Many partition runs at once (late data over several days, the daily schedule meeting an
operator's re-run); every step that queries the table takes a slot of the `athena` pool, so the
account's active-query quota holds whatever their number. Three runs of daily_summary_job are
started together (Dagster CLI, a real instance) while the pool's one slot is held; once it is let
go, their pooled steps must take turns, never overlapping, and every run must still succeed. (With
the limit at 3 the same runs' pooled steps do overlap: the check can fail.)

The slot is held first because Dagster's own claim is not atomic: steps that reach an *idle* pool
in the same few milliseconds can all win its last slot (measured with Dagster 1.13.27, three
processes claiming one slot at once: two won in 1 of 15 trials on SQLite, two or three in 5 of 30
on PostgreSQL; this test once failed in CI that way). A step that finds the pool full waits in
Dagster's queue and is handed the slot by the step that frees it, one at a time: that is the bound
this test holds. The Athena engine retries the quota's TooManyRequestsException for the rare
overshoot (docs/operations/running.md, the `athena` pool)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from health_pipeline.demo import generate_records
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support import deliver

DAGSTER = str(Path(sys.executable).parent / "dagster")
DAYS = [date(2026, 11, 10) + timedelta(days=n) for n in range(3)]
POOLED = {"daily_health_summary", "daily_health_summary_day_records_valid",
          "daily_health_summary_record_count_matches_distinct_records"}  # fmt: skip
HOLDER = "held-by-the-test"


def test_partition_runs_started_together_take_turns_in_the_athena_pool(settings, stack, cli_env):
    deliver(stack, list(generate_records(20, DAYS, ZoneInfo("Asia/Tokyo"), seed=3, duplicate_rate=0.0)))
    home = settings.dagster_home
    home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster-local.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("athena", 1)
        assert instance.event_log_storage.claim_concurrency_slot("athena", HOLDER, "hold").is_claimed

    env = {**cli_env, "DAGSTER_HOME": str(home)}
    in_process = home / "in_process.yaml"  # one process per run: the steps' own start-up is not measured
    in_process.write_text(json.dumps({"execution": {"config": {"in_process": {}}}}))
    runs = [
        subprocess.Popen(
            [
                DAGSTER,
                "job",
                "execute",
                "-m",
                "health_pipeline.definitions",
                "-j",
                "daily_summary_job",
                "--tags",
                json.dumps({"dagster/partition": day.isoformat()}),
                "--config",
                str(in_process),
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for day in DAYS
    ]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        pool = instance.event_log_storage
        deadline = time.monotonic() + 240
        # Every run's first pooled step waits, unassigned, behind the held slot.
        while pool.get_concurrency_info("athena").pending_step_count < len(DAYS):
            ended = [run for run in runs if run.poll() is not None]
            assert not ended, ended[0].communicate()[0].decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the runs' pooled steps never queued behind the held slot"
            time.sleep(0.1)
        pool.free_concurrency_slots_for_run(HOLDER)
    for run in runs:
        output = run.communicate(timeout=240)[0].decode(errors="replace")
        assert run.returncode == 0, output[-3000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records()
        assert len(records) == 3 and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
        spans = []
        for record in records:
            started: dict[str, float] = {}
            for entry in instance.all_logs(record.dagster_run.run_id):
                event = entry.dagster_event
                if event is None or event.step_key not in POOLED:
                    continue
                if event.event_type == dg.DagsterEventType.STEP_START:
                    started[event.step_key] = entry.timestamp
                elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                    spans.append((started.pop(event.step_key), entry.timestamp, record.dagster_run.run_id))
    assert len(spans) == 3 * len(POOLED)
    spans.sort()
    overlapping = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    assert not overlapping, f"pooled steps overlapped: {overlapping[:2]}"
