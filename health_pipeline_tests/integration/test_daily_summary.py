"""The daily summary end to end on the local stack, against an independent computation in pandas."""

import dataclasses
import os
import subprocess
import sys
import time
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.summary.csv_format import CSV_COLUMNS
from health_pipeline.summary.days import day_window
from health_pipeline_tests.support import deliver, materialize
from health_pipeline_tests.support.summary_oracle import (
    EDGE_RECORDS,
    expected_summary,
    read_summary_csv,
    read_summary_csv_bytes,
)
from health_pipeline_tests.support.synthetic_records import synthetic_day

DAY = date(2026, 11, 11)


@pytest.fixture
def loaded(stack):
    records = list(generate_records(60, [date(2026, 11, 10), DAY, date(2026, 11, 12)], stack.settings.zone, seed=3))
    records += EDGE_RECORDS
    report = deliver(stack, records)
    assert report.accepted == len(records) and not report.rejected
    return records


def materialize_day(settings, day: date) -> dg.ExecuteInProcessResult:
    result = materialize(settings, ["daily_health_summary", "daily_summary_csv"], partition_key=day.isoformat())
    assert result.success
    return result


def test_the_csv_matches_an_independent_computation(loaded, stack):
    result = materialize_day(stack.settings, DAY)
    path = stack.settings.home / "exports" / "daily_summary" / f"date={DAY}" / "daily_summary.csv"
    actual = read_summary_csv(path)
    assert list(actual.columns) == list(CSV_COLUMNS)
    expected = expected_summary(loaded, DAY)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)

    edge = actual.set_index("user_id")
    assert edge.loc["edge-start", "record_count"] == 2 and edge.loc["edge-start", "flags_any"] == 3
    assert edge.loc["edge-end", "record_count"] == 2 and edge.loc["edge-end", "flags_any"] == 12
    assert edge.loc['o\'brien, "the" user', "record_count"] == 2
    assert path.read_bytes().decode("utf-8").startswith(",".join(CSV_COLUMNS) + "\n")

    meta = result.asset_materializations_for_node("daily_health_summary")[0].metadata
    assert meta["dagster/row_count"].value == len(expected)
    assert meta["records_counted"].value == int(expected["record_count"].sum())
    assert meta["files_scanned"].value == 2  # a Tokyo day spans two UTC-day partitions, no more


def test_every_day_and_a_rerun_replaces_the_file(loaded, stack):
    for day in (date(2026, 11, 10), DAY, date(2026, 11, 12)):
        materialize_day(stack.settings, day)
        path = stack.settings.home / "exports" / "daily_summary" / f"date={day}" / "daily_summary.csv"
        pd.testing.assert_frame_equal(read_summary_csv(path), expected_summary(loaded, day), check_dtype=False)

    path = stack.settings.home / "exports" / "daily_summary" / f"date={DAY}" / "daily_summary.csv"
    before = path.read_bytes()
    materialize_day(stack.settings, DAY)
    assert path.read_bytes() == before  # idempotent

    late = {
        "user_id": "late-phone",
        "recorded_at": "2026-11-11T21:00:00+09:00",
        "fatigue": 4,
        "mood": 4,
        "motivation": 4,
        "flags": 0,
    }
    deliver(stack, [late])
    materialize_day(stack.settings, DAY)
    after = read_summary_csv(path)
    assert "late-phone" in set(after["user_id"]) and len(after) == len(read_summary_csv_bytes(before)) + 1
    assert not list(path.parent.glob(".*"))  # no temp file left behind


def test_a_day_without_records_gives_a_header_only_csv(loaded, stack):
    materialize_day(stack.settings, date(2026, 11, 20))
    path = stack.settings.home / "exports" / "daily_summary" / "date=2026-11-20" / "daily_summary.csv"
    assert path.read_text(encoding="utf-8") == ",".join(CSV_COLUMNS) + "\n"


def test_a_bug_fails_the_summary_at_once_not_after_its_retries(settings):
    class Broken:
        def run(self, query):
            return query.text.missing_attribute  # an AttributeError, as a bug would raise

    stack = LocalStack(settings)
    stack.query_engine = Broken()
    result = materialize(settings, ["daily_health_summary"], stack, partition_key=DAY.isoformat(), raise_on_error=False)
    assert not result.success
    types = [event.event_type_value for event in result.all_events]
    assert "STEP_UP_FOR_RETRY" not in types and types.count("STEP_FAILURE") == 1  # before: two retries, 90 s
    (failure,) = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    assert "query daily_summary could not run: AttributeError" in error.message and "not retried" in error.message
    assert "AttributeError" in error.cause.message  # the bug's own traceback is kept


def test_a_day_over_the_memory_budget_fails_saying_which_setting_to_raise(settings):
    """DuckDB runs within HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB (spilling to disk), not 80% of the
    machine; a day that does not fit fails with the setting to raise, and the same day fits the default."""
    tight = dataclasses.replace(settings, local_query_memory_mb=16)
    stack = LocalStack(tight)
    start = day_window(DAY, tight.zone)[0]
    stack.table.append(synthetic_day(start, 600_000, 150_000, np.random.default_rng(5)), stack.desired_schema())

    result = materialize(tight, ["daily_health_summary"], partition_key=DAY.isoformat(), raise_on_error=False)
    assert not result.success
    (failure,) = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "needed more memory than the local engine's budget of 16 MB" in message
    assert "set HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB higher" in message
    assert not result.asset_materializations_for_node("daily_health_summary")
    assert not any(tight.query_spill_dir.glob("*"))  # DuckDB's spill files go with the failed query

    result = materialize_day(settings, DAY)  # the default budget: 64 MB per DuckDB thread
    meta = result.asset_materializations_for_node("daily_health_summary")[0].metadata
    assert meta["records_counted"].value == 600_000 - duplicates(stack, DAY)


def duplicates(stack: LocalStack, day: date) -> int:
    """Records of the day that repeat an earlier (user_id, recorded_at): counted once by the summary."""
    start, end = day_window(day, stack.settings.zone)
    rows = stack.table.load().scan(selected_fields=("user_id", "recorded_at")).to_arrow().to_pandas()
    inside = rows[(rows["recorded_at"] >= start) & (rows["recorded_at"] < end)]
    return int(inside.duplicated(["user_id", "recorded_at"]).sum())


def test_a_process_that_only_summarizes_loads_neither_the_writers_nor_pandas(loaded, stack):
    """The summary reads the table through its catalog pointer (sqlite3 + PyIceberg's StaticTable), so a
    process that only queries skips SQLAlchemy, PyIceberg's Arrow IO and pandas (~65 MB of its peak,
    summary_peak_rss_mb in make bench) and still sees every commit."""
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from health_pipeline.engines.local import LocalStack\n"
        "from health_pipeline.settings import Settings\n"
        "from health_pipeline.summary.days import daily_summary_query\n"
        "from health_pipeline.summary.csv_format import summary_csv\n"
        f"stack = LocalStack(Settings(home=Path({str(stack.settings.home)!r})))\n"
        f"query = daily_summary_query(date.fromisoformat({DAY.isoformat()!r}), stack.settings.zone, 'health_records')\n"
        "result = stack.query_engine.run(query)\n"
        "summary_csv(result.rows)\n"
        "heavy = ('pandas', 'sqlalchemy', 'pyiceberg.io.pyarrow', 'pyarrow.dataset')\n"
        "print(result.rows.num_rows, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split(maxsplit=1) == [str(len(expected_summary(loaded, DAY))), "[]\n"]

    committed = stack.table.load().current_snapshot().snapshot_id
    assert stack.table.read().current_snapshot().snapshot_id == committed
    deliver(stack, [{**loaded[0], "user_id": "one-more"}])
    assert stack.table.read().current_snapshot().snapshot_id == stack.table.load().current_snapshot().snapshot_id
    assert stack.table.read().current_snapshot().snapshot_id != committed


def test_a_spill_folder_left_by_a_killed_query_is_removed_a_day_later(loaded, stack):
    """DuckDB removes a query's spill folder when it closes; a query killed while spilling leaves it."""
    spill_root = stack.settings.query_spill_dir
    abandoned, recent = spill_root / "4242-killed-yesterday", spill_root / "4243-killed-just-now"
    for folder in (abandoned, recent):
        folder.mkdir(parents=True)
        (folder / "duckdb_temp_storage-0.tmp").write_bytes(b"spilled")
    two_days_ago = time.time() - 2 * 86_400
    for path in (abandoned / "duckdb_temp_storage-0.tmp", abandoned):
        os.utime(path, (two_days_ago, two_days_ago))

    materialize_day(stack.settings, DAY)

    assert not abandoned.exists() and recent.exists()  # a day untouched, or a query that may still run
