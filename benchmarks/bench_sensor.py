"""sensor_tick_ms: one evaluation of new_data_sensor on a local table with 2,000 snapshots (issue 6's
target: well under a second). Each snapshot is a small append of check-ins spread over the last 60
Tokyo days, as a stream of 300 s Firehose buffers with late phones would leave it; the ticks are timed
with the sensor's own code path (build_sensor_context, the real resource, an ephemeral instance in which
every one of those days has a materialized summary, so each touched day is looked up in the event log).
Building the table takes minutes: each fast append rewrites a manifest list naming every earlier manifest.

Figures (median of 7 ticks each, after one warm-up):
- sensor_tick_ms: 10 new snapshots since the cursor (a few minutes of deliveries), the usual tick;
- sensor_tick_ms_idle: no new snapshot (the cursor is current);
- sensor_tick_ms_first: no cursor yet (the first tick reads the last 200 snapshots).
Then, on the same table: ingest_records_per_s_2000_snapshots against ingest_records_per_s_new_table,
and aged_table_disk_mb (the table's files) before and after table_maintenance.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from benchmarks.bench_ingest import send_run
from health_pipeline.definitions import build_definitions
from health_pipeline.engines.local import LocalStack
from health_pipeline.engines.local.pyiceberg_patches import append_each, conform_rows
from health_pipeline.engines.local.table import local_path
from health_pipeline.maintenance import MaintenancePolicy
from health_pipeline.settings import Settings
from health_pipeline_tests.support.synthetic_records import write_jsonl

SNAPSHOTS = 2_000
PER_COMMIT = 100  # snapshots per catalog commit while building (the figures do not depend on it)
RECORDS_PER_SNAPSHOT = 20
AGED_RECORDS = 200_000  # about 22 MB: four 5 MB buffers and a last one


def build(home: Path, rng: np.random.Generator) -> LocalStack:
    stack = LocalStack(Settings(home=home))
    table = stack.table.load_or_create(stack.desired_schema())
    now = datetime.now(UTC).replace(tzinfo=None)
    for first in range(0, SNAPSHOTS, PER_COMMIT):
        batches = []
        for n in range(first, first + PER_COMMIT):
            # Most records are from the last hours; one in ten is a phone syncing days late.
            lag_s = np.where(
                rng.random(RECORDS_PER_SNAPSHOT) < 0.9,
                rng.integers(0, 6 * 3600, RECORDS_PER_SNAPSHOT),
                rng.integers(0, 60 * 86400, RECORDS_PER_SNAPSHOT),
            )
            rows = pa.table({
                "user_id": [f"u{rng.integers(0, 500)}" for _ in range(RECORDS_PER_SNAPSHOT)],
                "recorded_at": pa.array([now - timedelta(seconds=int(s)) for s in lag_s], pa.timestamp("us")),
                "fatigue": pa.array(rng.integers(0, 11, RECORDS_PER_SNAPSHOT), pa.int32()),
                "mood": pa.array(rng.integers(0, 11, RECORDS_PER_SNAPSHOT), pa.int32()),
                "motivation": pa.array(rng.integers(0, 11, RECORDS_PER_SNAPSHOT), pa.int32()),
                "flags": pa.array(rng.integers(0, 16, RECORDS_PER_SNAPSHOT), pa.int32()),
            })  # fmt: skip
            batches.append((conform_rows(rows, table), {"bench-snapshot": str(n)}))
        append_each(table, batches)
        table = stack.table.load()
    return stack


def table_disk_mb(stack: LocalStack) -> float:
    root = Path(local_path(stack.table.load().location()))
    return round(sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / 1e6, 1)


def tick_ms(defs: dg.Definitions, cursor: str | None, instance: dg.DagsterInstance) -> tuple[float, object]:
    context = dg.build_sensor_context(cursor=cursor, instance=instance, resources=dict(defs.resources))
    started = time.perf_counter()
    result = defs.resolve_sensor_def("new_data_sensor")(context)
    return (time.perf_counter() - started) * 1000, result


def sensor_figures() -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="hp-bench-sensor-") as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        stack = build(home, np.random.default_rng(6))
        snapshots = [s.snapshot_id for s in stack.table.load().metadata.snapshots]
        metadata_bytes = Path(local_path(stack.table.load().metadata_location)).stat().st_size
        print(
            f"sensor table: {len(snapshots)} snapshots built in {time.perf_counter() - started:.1f} s"
            f" (metadata file {metadata_bytes / 1e6:.1f} MB)"
        )
        resource = build_definitions(stack.settings)
        figures: dict[str, float | int] = {"sensor_snapshots": len(snapshots)}
        with dg.DagsterInstance.ephemeral() as instance:
            # Every day already summarized, so each touched day is looked up in the event log as in production.
            today = datetime.now(UTC).date()
            for n in range(1, 62):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization("daily_health_summary", partition=(today - timedelta(days=n)).isoformat())
                )
            for name, cursor in (("sensor_tick_ms", str(snapshots[-11])), ("sensor_tick_ms_idle", str(snapshots[-1])),
                                 ("sensor_tick_ms_first", None)):  # fmt: skip
                tick_ms(resource, cursor, instance)  # warm-up: imports, first catalog connection
                times, result = zip(*(tick_ms(resource, cursor, instance) for _ in range(7)))
                figures[name] = round(statistics.median(times), 1)
                requested = len(getattr(result[-1], "run_requests", None) or [])
                print(f"{name}: {figures[name]} ms (median of 7; {requested} run request(s))")
        figures.update(aged_ingest(stack, Path(tmp)))
        started = time.perf_counter()
        current = stack.table.load().current_snapshot().snapshot_id  # the sensor is up to date
        disk_before = table_disk_mb(stack)
        # Nothing else writes here: files unreferenced by the expiry may go at once, not after an hour.
        policy = MaintenancePolicy(snapshot_retention=timedelta(0), unreferenced_after=timedelta(0))
        report = stack.maintenance.run(datetime.now(UTC), policy, current)
        print(f"table_maintenance of the aged table: {report.figures} in {time.perf_counter() - started:.1f} s")
        figures["aged_table_disk_mb"], figures["aged_table_disk_mb_maintained"] = disk_before, table_disk_mb(stack)
        print(f"aged table on disk: {disk_before} MB before table_maintenance, {table_disk_mb(stack)} MB after")
        maintained = aged_ingest(stack, Path(tmp), label="maintained")
        figures["ingest_records_per_s_2000_snapshots_maintained"] = maintained["ingest_records_per_s_2000_snapshots"]
        figures["ingest_aged_vs_new"] = round(
            maintained["ingest_records_per_s_2000_snapshots"] / maintained["ingest_records_per_s_new_table"], 3
        )
        print(f"ingest_aged_vs_new: {figures['ingest_aged_vs_new']} (after table_maintenance)")
    return figures


def aged_ingest(aged: LocalStack, tmp: Path, label: str = "") -> dict[str, int]:
    """`send` + `flush` of the same 200,000 records into this 2,000-snapshot table and into a new one,
    in turn, best of 2 each: how much an aged local table slows the stream (docs/known-limits.md)."""
    source = write_jsonl(tmp / "aged.jsonl", AGED_RECORDS)
    best: dict[str, float] = {}
    for n in range(2):
        for name, stack in (("new", LocalStack(Settings(home=tmp / f"new-{label}{n}"))), ("aged", aged)):
            timing, report = send_run(stack, source)
            if report.accepted != AGED_RECORDS:
                raise RuntimeError(f"aged ingest: {report.accepted} of {AGED_RECORDS} accepted")
            best[name] = min(best.get(name, float("inf")), timing.seconds)
    figures = {
        "ingest_records_per_s_new_table": round(AGED_RECORDS / best["new"]),
        "ingest_records_per_s_2000_snapshots": round(AGED_RECORDS / best["aged"]),
    }
    print(
        f"ingest of {AGED_RECORDS:,} records: {figures['ingest_records_per_s_new_table']:,}/s into a new table,"
        f" {figures['ingest_records_per_s_2000_snapshots']:,}/s into the {SNAPSHOTS:,}-snapshot one"
    )
    return figures


if __name__ == "__main__":
    print(sensor_figures())
