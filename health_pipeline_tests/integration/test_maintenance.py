"""table_maintenance on the local table: compaction, manifest merging and snapshot expiry keep every
record and every day's summary, make closed days one sorted file, and leave the new-data sensor exact."""

import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.engines.local.delivery_stream import LocalDeliveryStream
from health_pipeline.engines.local.maintenance import referenced_files
from health_pipeline.engines.local.table import local_path
from health_pipeline.maintenance import MaintenancePolicy
from health_pipeline.summary.days import daily_summary_query
from health_pipeline_tests.support import GOOD, deliver, unbound_assets

DAYS = [date(2026, 11, 10) + timedelta(days=n) for n in range(4)]
ALL = (datetime(2026, 11, 1), datetime(2026, 12, 1))


@pytest.fixture
def aged(stack: LocalStack) -> LocalStack:
    """Four days delivered in many small buffers (many files and snapshots a day), as Firehose does."""
    stack.__dict__["delivery_stream"] = LocalDeliveryStream(
        stack.settings.delivery_dir, stack.table, stack.desired_schema, buffer_bytes=20_000
    )
    records = list(generate_records(40, DAYS, stack.settings.zone, seed=2))
    for start in range(0, len(records), 40):
        assert not deliver(stack, records[start : start + 40]).rejected
    return stack


def all_rows(stack: LocalStack):
    table = stack.table.load()
    rows = table.scan().to_arrow()
    return rows.sort_by([(name, "ascending") for name in rows.column_names])


def summaries(stack: LocalStack) -> dict[date, list[dict]]:
    zone = stack.settings.zone
    return {
        day: stack.query_engine.run(daily_summary_query(day, zone, "health_records")).rows.to_pylist() for day in DAYS
    }


def files_by_day(stack: LocalStack) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for task in stack.table.load().scan().plan_files():
        out.setdefault(task.file.partition[0], []).append(local_path(task.file.file_path))
    return out


def test_maintenance_keeps_every_record_and_summary_and_compacts_closed_days(aged):
    rows_before, summaries_before = all_rows(aged), summaries(aged)
    before = aged.table.load()
    assert len(before.metadata.snapshots) > 10 and max(len(f) for f in files_by_day(aged).values()) > 2

    report = aged.maintenance.run(datetime.now(UTC), MaintenancePolicy(snapshot_retention=timedelta(0), keep_last=1))

    assert report.state == "OK", report.problems
    assert all_rows(aged).equals(rows_before)  # value by value
    assert summaries(aged) == summaries_before
    for files in files_by_day(aged).values():
        assert len(files) == 1  # every closed UTC day is one file now...
        times = pq.read_table(files[0], columns=["recorded_at"]).column(0).to_pylist()
        assert times == sorted(times)  # ...sorted by recorded_at
    after = aged.table.load()
    assert len(after.metadata.snapshots) <= 3  # the run's own: manifest merge, compaction, merge
    assert len(after.current_snapshot().manifests(after.io)) == 1
    assert report.figures["records_before"] == report.figures["records_after"] == rows_before.num_rows
    assert report.figures["days_compacted"] == len(files_by_day(aged))

    again = aged.maintenance.run(datetime.now(UTC), MaintenancePolicy(snapshot_retention=timedelta(0)))
    assert again.compacted_days == [] and all_rows(aged).equals(rows_before)  # nothing left to do


def test_an_open_day_is_not_compacted(aged):
    last_day_end = datetime.combine(DAYS[-1] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    report = aged.maintenance.run(
        last_day_end + timedelta(hours=1),  # the last UTC day ended an hour ago: still open
        MaintenancePolicy(closed_after=timedelta(hours=24)),
    )
    assert report.compacted_days and DAYS[-1].isoformat() not in report.compacted_days
    assert len(files_by_day(aged)[(DAYS[-1] - date(1970, 1, 1)).days]) > 1


def test_snapshots_the_sensor_has_not_read_are_not_expired(aged):
    history = aged.table.load().snapshots()
    cursor = history[len(history) // 2].snapshot_id  # the sensor has read half the history
    report = aged.maintenance.run(
        datetime.now(UTC), MaintenancePolicy(snapshot_retention=timedelta(0)), keep_from=cursor
    )
    kept = {s.snapshot_id for s in aged.table.load().metadata.snapshots}
    assert {s.snapshot_id for s in history[len(history) // 2 :]} <= kept
    assert report.figures["snapshots_expired"] == len(history) // 2


def test_the_sensor_finds_a_late_record_after_expiry_and_compaction(aged):
    settings = aged.settings
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("new_data_sensor")
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"stack": aged}) as context:
            return sensor(context)

    first = tick(None)
    for day in DAYS:  # every day was summarized after its data landed
        instance.report_runless_asset_event(dg.AssetMaterialization("daily_health_summary", partition=day.isoformat()))

    aged.maintenance.run(
        datetime.now(UTC), MaintenancePolicy(snapshot_retention=timedelta(0)), keep_from=int(first.cursor)
    )
    quiet = tick(first.cursor)
    late_days = [r.partition_key for r in getattr(quiet, "run_requests", None) or [] if r.partition_key]
    assert late_days == []  # maintenance itself is no new data

    late = {**GOOD, "user_id": "phone-was-offline", "recorded_at": "2026-11-11T21:00:00+09:00"}
    assert not deliver(aged, [late]).rejected
    cursor = getattr(quiet, "cursor", None) or first.cursor
    later = tick(cursor)
    assert [r.partition_key for r in later.run_requests if r.partition_key] == ["2026-11-11"]


def files_on_disk(stack: LocalStack) -> set[str]:
    root = Path(local_path(stack.table.load().location()))
    return {str(path) for folder in ("data", "metadata") for path in (root / folder).rglob("*") if path.is_file()}


def test_files_no_kept_snapshot_references_are_deleted_and_kept_snapshots_stay_readable(aged):
    """PyIceberg's expiry leaves every file on disk; maintenance deletes those no kept snapshot references
    (replaced by compaction, of expired snapshots, left by a crashed write) once an hour old."""
    history = aged.table.load().snapshots()
    cursor = history[-3].snapshot_id  # the sensor has not read the last three snapshots yet
    data = Path(local_path(aged.table.load().location())) / "data"
    crashed, writing = data / "crashed-write.parquet", data / "write-in-progress.parquet"
    for stray in (crashed, writing):
        pq.write_table(all_rows(aged).slice(0, 5), stray)
    two_hours_ago = time.time() - 7200
    for path in files_on_disk(aged) - {str(writing)}:
        os.utime(path, (two_hours_ago, two_hours_ago))  # written before the last hour, as in a day's use
    rows_before, before = all_rows(aged), files_on_disk(aged)
    started = time.time()

    report = aged.maintenance.run(
        datetime.now(UTC), MaintenancePolicy(snapshot_retention=timedelta(0)), keep_from=cursor
    )

    assert report.state == "OK" and all_rows(aged).equals(rows_before)
    table = aged.table.load()
    for snapshot in table.metadata.snapshots:  # every kept snapshot still reads, the sensor's included
        assert table.scan(snapshot_id=snapshot.snapshot_id).to_arrow().num_rows > 0
    after = files_on_disk(aged)
    assert not crashed.exists() and writing.exists()  # the write in progress is too recent to judge
    assert report.figures["unreferenced_files_removed"] == len(before - after) > 0  # expired snapshots' lists
    assert report.figures["unreferenced_bytes_removed"] > 0
    left = after - referenced_files(table)  # only what this run wrote and then stopped needing
    assert all(os.stat(path).st_mtime >= started - 1 for path in left) and str(writing) in left
    assert not [folder for folder in data.rglob("*") if folder.is_dir() and not any(folder.iterdir())]

    # The sensor has read on; two hours later the small files the first run compacted are unneeded.
    aged.maintenance.run(datetime.now(UTC) + timedelta(hours=2), MaintenancePolicy(snapshot_retention=timedelta(0)))
    assert files_on_disk(aged) == referenced_files(aged.table.load())  # exactly what the table references
    data_files = {path for path in files_on_disk(aged) if path.startswith(str(data))}
    assert data_files == {path for files in files_by_day(aged).values() for path in files}  # one per day
    assert all_rows(aged).equals(rows_before)


def test_the_asset_reports_its_figures_and_keeps_what_the_sensor_needs(aged):
    defs = build_definitions(aged.settings)
    result = dg.materialize(unbound_assets(defs, "table_maintenance"), resources={"stack": aged})
    assert result.success
    (materialization,) = result.asset_materializations_for_node("table_maintenance")
    metadata = materialization.metadata
    assert metadata["state"].value == "OK" and metadata["days_compacted"].value == len(files_by_day(aged))
    # The sensor has no cursor yet: its first tick reads the last 200 snapshots, so none is expired.
    assert metadata["snapshots_expired"].value == 0
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.check_name == "maintenance_healthy"


def test_compaction_rewrites_runs_of_consecutive_days_a_week_at_most():
    from health_pipeline.engines.local.maintenance import _batches

    days = [date(2026, 1, 1) + timedelta(days=n) for n in (*range(10), 12, 13)]
    assert [[d.day for d in batch] for batch in _batches(days)] == [[1, 2, 3, 4, 5, 6, 7], [8, 9, 10], [13, 14]]


def test_a_segment_left_in_the_spool_by_a_crash_after_its_commit_is_not_committed_twice(stack, tmp_path):
    """The stream knows a delivered segment by its snapshot's tag; maintenance keeps that snapshot while
    the segment is still spooled, so a crash between commit and removal never doubles a delivery."""
    stream, left = stack.delivery_stream, tmp_path / "left-by-the-crash"
    left.mkdir()
    commit = stream._deliver

    def commit_then_crash(paths, *args):
        for path in paths:  # the segment outlives its commit, as when the process dies right after it
            shutil.copy(path, left / path.name)
        return commit(paths, *args)

    stream._deliver = commit_then_crash
    records = list(generate_records(10, DAYS[:1], stack.settings.zone, seed=4))
    assert not deliver(stack, records).rejected
    stream._deliver = commit
    later = [{**record, "user_id": f"later-{n}"} for n, record in enumerate(records)]
    assert not deliver(stack, later).rejected  # the crashed segment's snapshot is no longer the newest
    for path in left.iterdir():
        shutil.copy(path, stream.spool_dir / path.name)

    report = stack.maintenance.run(datetime.now(UTC), MaintenancePolicy(snapshot_retention=timedelta(0)))
    assert report.state == "OK"
    stream.flush()  # the restarted stream delivers what it finds in the spool
    assert all_rows(stack).num_rows == len(records) + len(later)
    assert not stream.segments()
