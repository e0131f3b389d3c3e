"""`make demo`: the whole pipeline on the embedded local stack, from nothing.

Sends a realistic week of records (a few hundred users, several check-ins a day, some at the very
edges of a local day, some duplicated as at-least-once delivery does, offsets Z / +00:00 / +09:00)
through the local delivery stream, then materializes iceberg_schema, daily_health_summary and
daily_summary_csv for every day and prints where the CSVs are.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from health_pipeline.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from dagster import ExecuteInProcessResult

    from health_pipeline.stack import Stack

OFFSETS = ("Z", "+00:00", "+09:00")
SPECIAL_USERS = ("利用者-さくら", "o'brien", 'say "hi"', "josé-ñandú")


def _format(moment: datetime, offset: str) -> str:
    if offset == "+09:00":
        return moment.astimezone(timezone(timedelta(hours=9))).isoformat(timespec="microseconds")
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if offset == "Z" else text


def generate_records(
    users: int, days: list[date], zone: ZoneInfo, seed: int = 7, duplicate_rate: float = 0.03
) -> Iterator[dict]:
    """Plausible check-ins: each user has a baseline; each day 2-6 records, some at 00:00:00.000000
    and 23:59:59.999999 local time; a few records repeated exactly (Firehose's at-least-once)."""
    rng = random.Random(seed)
    ids = [f"user-{n:04d}" for n in range(users - len(SPECIAL_USERS))] + list(SPECIAL_USERS)
    baselines = {uid: (rng.randint(2, 8), rng.randint(2, 8), rng.randint(2, 8)) for uid in ids}
    for day in days:
        day_start = datetime.combine(day, time(0), tzinfo=zone)
        for uid in ids:
            moments = [
                day_start + timedelta(seconds=rng.uniform(6 * 3600, 23.5 * 3600)) for _ in range(rng.randint(2, 6))
            ]
            edge = rng.random()
            if edge < 0.05:
                moments.append(day_start)
            elif edge < 0.10:
                moments.append(day_start + timedelta(days=1) - timedelta(microseconds=1))
            for moment in sorted(moments):
                base = baselines[uid]
                record = {
                    "user_id": uid,
                    "recorded_at": _format(moment, rng.choice(OFFSETS)),
                    "fatigue": min(10, max(0, base[0] + rng.randint(-2, 2))),
                    "mood": min(10, max(0, base[1] + rng.randint(-2, 2))),
                    "motivation": min(10, max(0, base[2] + rng.randint(-2, 2))),
                    "flags": rng.choice((0, 0, 0, 1, 2, 4, 8, 9)),
                }
                yield record
                if rng.random() < duplicate_rate:
                    yield record


def demo_days(today: date, days: int, start: date) -> list[date]:
    """The `days` complete local days before today, not before the first partition."""
    return [d for d in (today - timedelta(days=n) for n in range(days, 0, -1)) if d >= start]


def ensure_dagster_home(path: Path) -> Path:
    """The Dagster home shared by `make demo` and `make dev` (telemetry off, the concurrency limits)."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster-local.yaml", config)
    return path


# Firehose delivers a buffer at 5 MB or after its interval (at most 900 s): the demo waits that long.
DELIVERY_WAIT_S = 960.0


def table_rows(stack: Stack) -> int:
    """The rows in the table's current snapshot (0 before the first), from its metadata: no scan."""
    table = stack.table.iceberg_table()
    snapshot = table.current_snapshot() if table is not None else None
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.additional_properties.get("total-records", 0))


def wait_for_rows(stack: Stack, rows: int, timeout_s: float = DELIVERY_WAIT_S, poll_s: float = 1.0) -> bool:
    """Wait until the table holds `rows` rows: the aws mode's delivery stream (Firehose) delivers on
    its own schedule, and the summaries must see every record sent."""
    import time as clock

    deadline = clock.monotonic() + timeout_s
    while clock.monotonic() < deadline:
        if table_rows(stack) >= rows:
            return True
        clock.sleep(poll_s)
    return table_rows(stack) >= rows


def failure_reason(result: ExecuteInProcessResult) -> str:
    """The first failed step's error, as `: <step>: <message>` (empty when none is recorded)."""
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:  # Dagster's wrapper, then what the step raised
            error = error.cause
        if error is not None:
            return f": {event.step_key}: {error.message.strip()}"
    return ""


def run_demo(users: int = 300, days: int = 7) -> int:
    import dagster as dg

    from health_pipeline.definitions import defs
    from health_pipeline.delivery.producer import send_lines
    from health_pipeline.engines import stack_for
    from health_pipeline.settings import load_settings
    from health_pipeline.stack import SpooledDeliveryStream
    from health_pipeline.summary.days import export_key

    settings = load_settings()
    stack = stack_for(settings)
    today = datetime.now(settings.zone).date()
    window = demo_days(today, days, date.fromisoformat(settings.start_date))
    if not window:
        print(f"no complete day between HEALTH_PIPELINE_START_DATE={settings.start_date} and today; nothing to do")
        return 2
    print(f"sending {days} days ({window[0]} .. {window[-1]}, {settings.timezone}) for {users} users ...")
    lines = (
        (f"demo:{n}", (json.dumps(r, ensure_ascii=False) + "\n").encode())
        for n, r in enumerate(generate_records(users, window, settings.zone), start=1)
    )
    rows_before = table_rows(stack)
    report = send_lines(stack.delivery_stream, stack.desired_schema(), lines)
    if isinstance(stack.delivery_stream, SpooledDeliveryStream):  # Firehose delivers its own buffers
        stack.delivery_stream.flush()
    else:
        print(
            f"  accepted {report.accepted}; waiting for Firehose to deliver them (it buffers up to 5 MB or 300 s) ..."
        )
        if not wait_for_rows(stack, rows_before + report.accepted):
            print(
                f"  {stack.table.identifier} did not reach {rows_before + report.accepted} rows within"
                f" {DELIVERY_WAIT_S:.0f} s; see the stream's error output and the firehose_delivery check"
            )
            return 1
    print(f"  accepted {report.accepted}, rejected {len(report.rejected)}; delivered to {stack.table.identifier}")

    instance = dg.DagsterInstance.from_config(str(ensure_dagster_home(settings.dagster_home)))
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    schema_result = dg.materialize(
        [defs.get_assets_def("iceberg_schema")], instance=instance, resources=defs.resources, run_config=quiet
    )
    if not schema_result.success:
        return 1
    job = defs.resolve_job_def("daily_summary_job")
    for day in window:
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, run_config=quiet, raise_on_error=False
        )
        if not result.success:
            print(f"  {day}: the run failed{failure_reason(result)}; see the Dagster UI (make dev)")
            return 1
        print(f"  {day}: {stack.export_store.uri(export_key(day))}")
    for name in ("firehose_delivery", "table_maintenance"):  # the delivery check, then the maintenance
        result = dg.materialize(
            [defs.get_assets_def(name)], instance=instance, resources=defs.resources, run_config=quiet
        )
        if not result.success:
            print(f"  {name}: the run failed; see the Dagster UI (make dev)")
            return 1
        figures = result.asset_materializations_for_node(name)[0].metadata
        shown = ("state", "records_delivered_total", "days_compacted", "snapshots_before", "snapshots_after")
        print(f"  {name}: " + ", ".join(f"{k} {figures[k].value}" for k in shown if k in figures))
    checks = defs.resolve_job_def("data_quality_job").execute_in_process(instance=instance, run_config=quiet)
    print("\ndata-quality checks on health_records (the last week):")
    for evaluation in checks.get_asset_check_evaluations():
        state = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        print(f"  {evaluation.check_name:<28} {state}")
    last = stack.export_store.uri(export_key(window[-1]))
    print(f"\n{last} (first rows):")
    for line in stack.export_store.read(export_key(window[-1])).decode("utf-8").splitlines()[:6]:
        print("  " + line)
    from health_pipeline.alerts.messages import Links, test_alert

    stack.alert_destination.send(test_alert(settings.mode, stack.alert_destination.where, Links(settings.ui_url)))
    print(
        f"\nalerts: a test alert is in {stack.alert_destination.where}/; under `make dev`, alerts_sensor writes"
        " failed runs, failed checks and an overdue CSV there (docs/operations/alerts.md)."
    )
    print("\nOpen the Dagster UI over this state with `make dev` (http://127.0.0.1:3000).")
    return 0
