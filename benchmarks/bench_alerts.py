"""alerts_sensor_tick_ms: one evaluation of alerts_sensor on a SQLite instance (as `make dev` keeps it)
whose event log holds at least 2,000 events of real runs: daily_summary_job and data_quality_job, one in
four failing in its query (a home with no table yet), the others with their check evaluations;
target <= 200 ms a tick.

Figures (median of 7 ticks each, after one warm-up; each tick is the sensor's own code path,
build_sensor_context with the real resources, the local alert files as the destination):
- alerts_sensor_tick_ms: 10 runs ended since the cursor (5 failed; 3 summaries and 2 quality-job runs
  succeeded), a busy tick;
- alerts_sensor_tick_ms_idle: nothing new since the cursor;
- alerts_sensor_tick_ms_first: no cursor yet (every run of the last day is read).
alerts_sensor_events: the events in the log.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
from health_pipeline_tests.support import deliver

EVENTS = 2_000
FIRST_DAY = date(2026, 11, 1)


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, day: date | None) -> int:
    """One daily_summary_job run of `day` (None: a data_quality_job run); the events it logged."""
    job = defs.resolve_job_def("daily_summary_job" if day else "data_quality_job")
    result = job.execute_in_process(
        partition_key=day.isoformat() if day else None,
        instance=instance,
        tags={"dagster/max_retries": "0"},
        raise_on_error=False,
    )
    return len(instance.get_records_for_run(result.run_id).records)


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> tuple[float, str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources))
    started = time.perf_counter()
    defs.resolve_sensor_def("alerts_sensor")(context)
    return (time.perf_counter() - started) * 1000, context.cursor


def alerts_figures() -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="hp-bench-alerts-") as tmp:
        settings = Settings(home=Path(tmp) / "home", start_date=FIRST_DAY.isoformat())
        days = [FIRST_DAY + timedelta(days=n) for n in range(28)]
        deliver(LocalStack(settings), list(generate_records(20, days, settings.zone, seed=3)))
        defs = build_definitions(settings)
        # The same code location over a home with no table yet: each of its runs fails in its query.
        failing = build_definitions(Settings(home=Path(tmp) / "empty", start_date=FIRST_DAY.isoformat()))
        started = time.perf_counter()
        (Path(tmp) / "dagster").mkdir()
        with dg.DagsterInstance.local_temp(str(Path(tmp) / "dagster")) as instance:
            events, runs = 0, 0
            while events < EVENTS:  # one run in four fails; one in five is the quality job (its checks are read)
                day = None if runs % 5 == 0 else days[runs % len(days)]
                events += _run(failing if runs % 4 == 0 else defs, instance, day)
                runs += 1
            for n in range(5):  # the last ten ends: five failures, three summaries, two quality runs
                events += _run(failing, instance, days[n]) + _run(defs, instance, days[n] if n < 3 else None)
            print(
                f"alerts bench instance: {runs + 10} runs, {events} events, built in {time.perf_counter() - started:.1f} s"
            )
            _, current = _tick(defs, instance, None)
            figures: dict[str, float | int] = {"alerts_sensor_events": events}
            for name, cursor in (
                ("alerts_sensor_tick_ms", _busy_cursor(instance, current)),
                ("alerts_sensor_tick_ms_idle", current),
                ("alerts_sensor_tick_ms_first", None),
            ):
                _tick(defs, instance, cursor)  # warm-up
                figures[name] = round(statistics.median(_tick(defs, instance, cursor)[0] for _ in range(7)), 1)
                print(f"{name}: {figures[name]} ms (median of 7)")
    return figures


def _busy_cursor(instance: dg.DagsterInstance, current: str) -> str:
    """The cursor from before the last five failed and five successful run ends."""
    state = json.loads(current)
    ends = {}
    for kind in (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_SUCCESS):
        records = instance.fetch_run_status_changes(kind, limit=6).records
        ends[kind] = records[-1].storage_id
    state.update(
        run_failure_after=ends[dg.DagsterEventType.RUN_FAILURE],
        run_success_after=ends[dg.DagsterEventType.RUN_SUCCESS],
        sent=[],
        open={},
    )
    return json.dumps(state)


if __name__ == "__main__":
    print(alerts_figures())
