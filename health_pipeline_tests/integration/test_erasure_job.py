"""The user_erasure job: launched with the people's ids (as from the Launchpad), it erases them through
the same code path as the CLI; the receipt is in the run's metadata, and the re-exported days are
recorded as materializations of the summary assets."""

import json
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.erasure.receipt import hashed_user_id
from health_pipeline.settings import Settings
from health_pipeline_tests.support import deliver

DAYS = [date(2026, 11, 20) + timedelta(days=n) for n in range(2)]


def test_the_job_erases_and_records_the_receipt(tmp_path):
    settings = Settings(home=tmp_path / "home", start_date=DAYS[0].isoformat())
    stack = LocalStack(settings)
    assert not deliver(stack, list(generate_records(12, DAYS, settings.zone, seed=4))).rejected
    defs = build_definitions(settings)
    job = defs.get_job_def("user_erasure")
    config = {"ops": {"erase_users": {"config": {"user_ids": ["user-0002"], "reason": "ticket 7"}}}}
    result = job.execute_in_process(run_config=config, instance=dg.DagsterInstance.ephemeral())
    assert result.success

    rows = stack.table.read().scan(selected_fields=("user_id",)).to_arrow()["user_id"].to_pylist()
    assert "user-0002" not in rows and "user-0003" in rows
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["user_id_sha256"].value == hashed_user_id("user-0002")
    assert metadata["rows_deleted"].value["health_records"] > 0
    assert metadata["days_reexported"].value == ", ".join(day.isoformat() for day in DAYS)
    receipt = json.loads(Path(metadata["receipt"].value).read_text())
    assert receipt["reason"] == "ticket 7" and receipt["request_id"] == metadata["request_id"].value
    materialized = {
        (m.asset_key.to_user_string(), m.partition) for m in result.asset_materializations_for_node("erase_users")
    }
    assert materialized == {
        (name, day.isoformat()) for name in ("daily_health_summary", "daily_summary_csv") for day in DAYS
    }


def test_the_job_refuses_an_empty_request(tmp_path):
    settings = Settings(home=tmp_path / "home")
    job = build_definitions(settings).get_job_def("user_erasure")
    result = job.execute_in_process(
        run_config={"ops": {"erase_users": {"config": {"user_ids": []}}}}, raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("erase_users")
    assert "no user id to erase" in failure.error.message
