"""An asset that meets a fault of the machine (here a full disk) fails with the same message the CLI
gives: what failed, where, what is safe and what to do; not retried, and nothing lost."""

from collections import Counter
from pathlib import Path

from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.engines.local import LocalStack
from health_pipeline.engines.local.delivery_stream import LocalDeliveryStream
from health_pipeline.settings import Settings
from health_pipeline_tests.support import materialize
from health_pipeline_tests.support.small_disk import fill, small_disk
from health_pipeline_tests.support.synthetic_records import jsonl_records

RECORDS = 4000


def failure_text(result) -> str:
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    data = failure.step_failure_data
    assert data.user_failure_data is not None, data.error  # a dg.Failure, not an exception with a traceback
    return data.user_failure_data.description


def users(stack: LocalStack) -> Counter:
    return Counter(stack.table.load().scan(selected_fields=("user_id",)).to_arrow()["user_id"].to_pylist())


def filled_home(disk: Path) -> LocalStack:
    """A home on `disk` holding RECORDS records in many small snapshots, as a day of buffers leaves it."""
    stack = LocalStack(Settings(home=disk / "home"))
    stream = LocalDeliveryStream(stack.settings.delivery_dir, stack.table, stack.desired_schema, buffer_bytes=20_000)
    data = jsonl_records(RECORDS, prefix="m-", unique_users=True, days=7)
    assert stream.send([LineBlock.of(data, source="m")], stack.desired_schema()).accepted == RECORDS
    stream.flush()
    return stack


def test_table_maintenance_on_a_full_disk_fails_saying_so_and_the_next_run_completes(tmp_path):
    expected = Counter({f"m-{n}": 1 for n in range(1, RECORDS + 1)})
    with small_disk(tmp_path / "disk", "12m") as disk:
        stack = filled_home(disk)
        filler = fill(disk)
        result = materialize(stack.settings, ["table_maintenance"], raise_on_error=False)
        assert not result.success
        text = failure_text(result)
        for phrase in (
            "table maintenance could not maintain the table",
            "No space left on device [ENOSPC]",
            "safe on disk: the table as its last commit left it, every record once",
            "to do: free space on the file system that holds",
            "then run table_maintenance again",
        ):
            assert phrase in text, (phrase, text)
        assert users(stack) == expected
        filler.unlink()
        assert materialize(stack.settings, ["table_maintenance"]).success
        assert users(stack) == expected


def test_the_daily_summary_and_its_csv_on_a_full_disk_fail_saying_what_to_do(tmp_path):
    with small_disk(tmp_path / "disk", "12m") as disk:
        stack = filled_home(disk)
        filler = fill(disk)
        names = ["daily_health_summary", "daily_summary_csv"]
        result = materialize(stack.settings, names, partition_key="2026-11-03", raise_on_error=False)
        assert not result.success
        text = failure_text(result)
        assert "No space left on device [ENOSPC]" in text and "to do: free space" in text, text
        filler.unlink()
        assert materialize(stack.settings, names, partition_key="2026-11-03").success
        assert (stack.settings.home / "exports" / "daily_summary" / "date=2026-11-03" / "daily_summary.csv").exists()
