"""Data-quality checks and the new-data sensor: clean data passes, each break is caught with its numbers."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.quality.checks import table_outcomes
from health_pipeline_tests.support import deliver as send
from health_pipeline_tests.support import jsonl, run_cli

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=TOKYO)
DAYS = [date(2026, 11, 8) + timedelta(days=n) for n in range(7)]  # 11-08 .. 11-14, complete days


def this_morning(count: int) -> list[dict]:
    """Records up to an hour before NOW, so the freshness check sees a flowing stream."""
    start = NOW - timedelta(hours=4)
    return [
        {
            "user_id": f"morning-{n}",
            "recorded_at": (start + timedelta(minutes=n)).isoformat(),
            "fatigue": 3,
            "mood": 4,
            "motivation": 5,
            "flags": 0,
        }
        for n in range(count)
    ]


@pytest.fixture
def clean(stack):
    send(stack, list(generate_records(40, DAYS, TOKYO, seed=11, duplicate_rate=0.0)) + this_morning(150))
    return stack


def outcomes(stack):
    return {o.name: o for o in table_outcomes(stack.query_engine, "health_records", NOW, TOKYO)}


def test_clean_data_passes_every_check(clean):
    results = outcomes(clean)
    assert len(results) == 7
    failed = {name: o.metadata for name, o in results.items() if not o.passed}
    assert not failed


BREAKS = {
    "no_missing_user_or_time": (
        [
            {
                "user_id": None,
                "recorded_at": "2026-11-14T10:00:00+09:00",
                "fatigue": 1,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            },
            {
                "user_id": "",
                "recorded_at": "2026-11-14T10:00:00+09:00",
                "fatigue": 1,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            },
            {"user_id": "no-time", "fatigue": 1, "mood": 1, "motivation": 1, "flags": 0},
        ],
        {"actual_missing_user_id": 2, "actual_missing_recorded_at": 1},
    ),
    "scores_within_0_10": (
        [
            {
                "user_id": "u",
                "recorded_at": "2026-11-13T10:00:00+09:00",
                "fatigue": 11,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            },
            {
                "user_id": "u",
                "recorded_at": "2026-11-13T11:00:00+09:00",
                "fatigue": 1,
                "mood": -3,
                "motivation": 1,
                "flags": 0,
            },
        ],
        {"actual": 2},
    ),
    "flags_non_negative": (
        [
            {
                "user_id": "u",
                "recorded_at": "2026-11-13T10:00:00+09:00",
                "fatigue": 1,
                "mood": 1,
                "motivation": 1,
                "flags": -1,
            }
        ],
        {"actual": 1},
    ),
    "duplicates_below_threshold": (
        [
            {
                "user_id": "dup",
                "recorded_at": "2026-11-12T10:00:00+09:00",
                "fatigue": 1,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            }
        ]
        * 40,
        {"duplicate_copies": 39},
    ),
    "no_future_records": (
        [
            {
                "user_id": "u",
                "recorded_at": "2026-11-16T10:00:00+09:00",
                "fatigue": 1,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            }
        ],
        {"actual": 1},
    ),
    "daily_volume_normal": (
        [
            {
                "user_id": f"spike-{n}",
                "recorded_at": f"2026-11-14T1{n % 10}:00:00+09:00",
                "fatigue": 1,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            }
            for n in range(2000)
        ],
        {"day": "2026-11-14"},
    ),
}


@pytest.mark.parametrize("check", sorted(BREAKS))
def test_each_check_catches_data_made_to_break_it(clean, cli_env, tmp_path, check):
    records, expected_metadata = BREAKS[check]
    source = tmp_path / "bad.jsonl"
    source.write_bytes(jsonl(records))
    sent = run_cli(cli_env, "send", "--raw", "--flush", str(source))
    assert sent.returncode == 0, sent.stderr  # the stream takes what fits the columns
    results = outcomes(clean)
    assert not results[check].passed, results[check].metadata
    for key, value in expected_metadata.items():
        assert results[check].metadata[key] == value
    others = [name for name, o in results.items() if not o.passed and name != check]
    assert not [n for n in others if n != "duplicates_below_threshold"], others  # a spike also adds nothing else


def test_a_stream_that_went_quiet_is_not_fresh(stack):
    send(stack, list(generate_records(40, DAYS, TOKYO, seed=11, duplicate_rate=0.0)))
    fresh = outcomes(stack)["records_are_fresh"]
    assert not fresh.passed and fresh.metadata["actual_recent_records"] == 0
    assert fresh.metadata["records_in_24h_before"] > 0


@pytest.fixture
def pipeline(clean):
    defs = build_definitions(clean.settings)
    return clean, defs, dg.DagsterInstance.ephemeral()


def test_a_failed_blocking_check_stops_the_export(pipeline):
    stack, defs, instance = pipeline
    send(
        stack,
        [
            {
                "user_id": "bad",
                "recorded_at": "2026-11-12T09:00:00+09:00",
                "fatigue": 42,
                "mood": 1,
                "motivation": 1,
                "flags": 0,
            }
        ],
        raw=True,
    )
    job = defs.resolve_job_def("daily_summary_job")
    result = job.execute_in_process(partition_key="2026-11-12", instance=instance, raise_on_error=False)
    evaluation = {e.check_name: e for e in result.get_asset_check_evaluations()}["day_records_valid"]
    assert not evaluation.passed and evaluation.metadata["actual_score_out_of_range"].value == 1
    assert not result.asset_materializations_for_node("daily_summary_csv")
    assert not (stack.settings.home / "exports" / "daily_summary" / "date=2026-11-12").exists()
    clean_day = job.execute_in_process(partition_key="2026-11-13", instance=instance)
    assert clean_day.success and all(e.passed for e in clean_day.get_asset_check_evaluations())


def test_late_data_rematerializes_just_that_day(pipeline):
    stack, defs, instance = pipeline
    job = defs.resolve_job_def("daily_summary_job")
    for day in ("2026-11-12", "2026-11-13"):
        assert job.execute_in_process(partition_key=day, instance=instance).success

    first = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, resources=defs.resources)
    )
    quiet = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=defs.resources)
    )
    assert isinstance(quiet, dg.SkipReason) and "no new snapshot" in quiet.skip_message

    late = {
        "user_id": "late-phone",
        "recorded_at": "2026-11-12T22:30:00+09:00",
        "fatigue": 2,
        "mood": 3,
        "motivation": 4,
        "flags": 0,
    }
    send(stack, [late])
    tick = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=defs.resources)
    )
    summaries = [r for r in tick.run_requests if r.job_name == "daily_summary_job"]
    assert [r.partition_key for r in summaries] == ["2026-11-12"]
    assert summaries[0].run_key == f"late-data:{tick.cursor}:2026-11-12"
    assert [r.job_name for r in tick.run_requests].count("data_quality_job") == 1

    assert job.execute_in_process(partition_key="2026-11-12", instance=instance).success
    csv = (stack.settings.home / "exports" / "daily_summary" / "date=2026-11-12" / "daily_summary.csv").read_text()
    assert "late-phone,1," in csv

    after = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources=defs.resources)
    )
    assert isinstance(after, dg.SkipReason)


def test_late_days_are_found_across_several_snapshots_even_when_a_later_one_removed_the_file(pipeline):
    """The sensor takes each new snapshot's files from the current manifest list; a file a later
    snapshot deleted (or compaction rewrote) is no longer there, and the snapshot's own list is read."""
    from pyiceberg.expressions import EqualTo

    stack, defs, instance = pipeline
    job = defs.resolve_job_def("daily_summary_job")
    for day in ("2026-11-10", "2026-11-11", "2026-11-12"):
        assert job.execute_in_process(partition_key=day, instance=instance).success
    first = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, resources=defs.resources)
    )
    late = {"recorded_at": "", "fatigue": 2, "mood": 3, "motivation": 4, "flags": 0}
    send(stack, [{**late, "user_id": "late-a", "recorded_at": "2026-11-10T08:00:00+09:00"}])
    send(stack, [{**late, "user_id": "late-b", "recorded_at": "2026-11-12T23:00:00+09:00"}])
    stack.table.load().delete(EqualTo("user_id", "late-a"))  # a later snapshot removes the first late file
    tick = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=defs.resources)
    )
    late_days = sorted(r.partition_key for r in tick.run_requests if r.job_name == "daily_summary_job")
    assert late_days == ["2026-11-10", "2026-11-12"]


def test_the_data_quality_job_runs_every_table_check(pipeline):
    stack, defs, instance = pipeline
    result = defs.resolve_job_def("data_quality_job").execute_in_process(instance=instance)
    names = {e.check_name for e in result.get_asset_check_evaluations()}
    assert names == {
        "no_missing_user_or_time",
        "scores_within_0_10",
        "flags_non_negative",
        "duplicates_below_threshold",
        "no_future_records",
        "records_are_fresh",
        "daily_volume_normal",
    }
