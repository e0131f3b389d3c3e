"""Retention: with HEALTH_PIPELINE_RETENTION_DAYS set, table_maintenance deletes the records older than
that (in snapshots the new-data sensor does not take for data) and those days' summaries and CSVs;
newer records, summaries and CSVs are untouched."""

from datetime import UTC, datetime, timedelta

import pytest

from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.erasure.retention import retention_cutoff
from health_pipeline.quality.snapshots import new_data, snapshots_after
from health_pipeline.settings import Settings, SettingsError, load_settings
from health_pipeline.summary.days import export_key, summary_key
from health_pipeline_tests.support import deliver, materialize

SUMMARY = ["daily_health_summary", "daily_summary_csv"]


def test_table_maintenance_deletes_what_is_older_than_the_retention(tmp_path):
    zone = Settings().zone
    today = datetime.now(UTC).astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(6, 0, -1)]
    settings = Settings(home=tmp_path / "home", start_date=(today - timedelta(days=10)).isoformat(), retention_days=3)
    stack = LocalStack(settings)
    assert not deliver(stack, list(generate_records(12, days, zone, seed=8))).rejected
    for day in days:
        assert materialize(settings, SUMMARY, partition_key=day.isoformat()).success
    cutoff_day, cutoff = retention_cutoff(settings, datetime.now(UTC))
    assert cutoff_day == today - timedelta(days=3)
    rows = stack.table.read().scan().to_arrow()
    kept_before = sorted(tuple(r.values()) for r in rows.to_pylist() if r["recorded_at"] >= cutoff)
    exports = settings.home / "exports"
    newer_csvs = {day: (exports / export_key(day)).read_bytes() for day in days if day >= cutoff_day}
    before = stack.table.load().current_snapshot().snapshot_id

    result = materialize(settings, ["table_maintenance"])
    assert result.success
    [materialization] = result.asset_materializations_for_node("table_maintenance")
    metadata = materialization.metadata
    assert metadata["retention_cutoff_day"].value == cutoff_day.isoformat()
    assert metadata["retention_rows_deleted"].value == len(rows) - len(kept_before) > 0

    after = sorted(tuple(r.values()) for r in stack.table.read().scan().to_arrow().to_pylist())
    assert after == kept_before
    for day in days:
        old = day < cutoff_day
        assert (exports / export_key(day)).exists() is not old
        assert (settings.home / "summaries" / summary_key(day)).exists() is not old
    assert {day: (exports / export_key(day)).read_bytes() for day in newer_csvs} == newer_csvs
    table = stack.table.load()
    assert all(not found.days for found in new_data(table, snapshots_after(table, before), zone))


def test_the_retention_setting_is_checked():
    assert load_settings({"HEALTH_PIPELINE_RETENTION_DAYS": " 30 "}).retention_days == 30
    assert load_settings({}).retention_days is None
    for bad in ("0", "-3", "a month"):
        with pytest.raises(SettingsError, match="HEALTH_PIPELINE_RETENTION_DAYS"):
            load_settings({"HEALTH_PIPELINE_RETENTION_DAYS": bad})
