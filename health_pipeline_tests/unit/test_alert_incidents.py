"""The plain parts of alerting: when the daily CSV is due, when a sensor's ticks count as failing,
and the overdue alert the sensor sends once per day (on a real instance)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from health_pipeline.alerts.delivery import AlertCursor, deliver
from health_pipeline.alerts.incidents import CheckFailed, TicksFailing, due_day, failing_streak
from health_pipeline.alerts.messages import Alert
from health_pipeline.definitions import build_definitions
from health_pipeline.defs.summary.assets import CSV_DEADLINE_HOUR
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("now_utc", "zone", "due", "deadline"),
    [
        # 02:59 in Tokyo on the 12th: the 10th's CSV was due at 03:00 on the 11th.
        ("2026-11-11T17:59:00", "Asia/Tokyo", "2026-11-10", "2026-11-11T03:00:00+09:00"),
        ("2026-11-11T18:00:00", "Asia/Tokyo", "2026-11-11", "2026-11-12T03:00:00+09:00"),
        # New York's spring-forward day: 03:00 EDT is 07:00 UTC.
        ("2026-03-08T06:59:00", "America/New_York", "2026-03-06", "2026-03-07T03:00:00-05:00"),
        ("2026-03-08T07:00:00", "America/New_York", "2026-03-07", "2026-03-08T03:00:00-04:00"),
    ],
)
def test_the_csv_due_is_the_day_before_the_last_deadline_in_the_partition_zone(now_utc, zone, due, deadline):
    day, at = due_day(datetime.fromisoformat(now_utc).replace(tzinfo=UTC), ZoneInfo(zone), CSV_DEADLINE_HOUR)
    assert (day.isoformat(), at.isoformat()) == (due, deadline)


def test_a_failing_streak_counts_finished_failures_newest_first_and_ends_at_a_success():
    ticks = [(9, "STARTED", 9.0, ""), (8, "FAILURE", 8.0, "boom 8"), (7, "FAILURE", 7.0, "boom 7"),
             (6, "FAILURE", 6.0, "boom 6"), (5, "SUCCESS", 5.0, ""), (4, "FAILURE", 4.0, "old")]  # fmt: skip
    assert failing_streak(ticks, 3) == (3, 6, 6.0, "boom 8")
    assert failing_streak(ticks, 4) is None
    assert failing_streak([(2, "SKIPPED", 2.0, ""), *ticks[1:]], 1) is None


class Flaky:
    where = "a destination that is down, then up"

    def __init__(self) -> None:
        self.up, self.got = False, []

    def send(self, alert: Alert) -> None:
        if not self.up:
            raise ConnectionError("endpoint unreachable")
        self.got.append(alert.key)


def test_undelivered_alerts_wait_in_the_cursor_in_order_and_each_key_goes_once():
    alerts = [Alert(f"k{n}", "ERROR", f"s{n}", "b", None, float(n)) for n in range(3)]
    destination, cursor = Flaky(), AlertCursor()
    report = deliver(cursor, alerts, destination)
    assert (report.sent, [a.key for a in report.waiting]) == ([], ["k0", "k1", "k2"])
    assert "ConnectionError: endpoint unreachable" in report.error
    cursor = AlertCursor.parse(cursor.dump())  # as the next tick reads it
    destination.up = True
    deliver(cursor, [alerts[1], Alert("k3", "WARN", "s3", "b", None, 3.0)], destination)
    assert destination.got == ["k0", "k1", "k2", "k3"]
    deliver(cursor, alerts, destination)
    assert destination.got == ["k0", "k1", "k2", "k3"] and cursor.pending == []


def test_a_check_is_told_once_until_it_passes_and_a_streak_once_until_a_good_tick():
    def failure(run_id: str) -> CheckFailed:
        return CheckFailed("health_records", "records_are_fresh", None, "WARN", "no records", {}, run_id, 1.0)

    cursor = AlertCursor()
    assert cursor.newly_failing([failure("r1")], set()) == [failure("r1")]
    cursor = AlertCursor.parse(cursor.dump())
    assert cursor.newly_failing([failure("r2")], set()) == []
    assert cursor.newly_failing([], {"health_records:records_are_fresh"}) == []
    assert cursor.newly_failing([failure("r4")], set()) == [failure("r4")]

    streak = TicksFailing("new_data_sensor", "sensor", 3, 11, 1.0, "boom")
    assert cursor.new_streaks([streak]) == [streak]
    assert cursor.new_streaks([TicksFailing("new_data_sensor", "sensor", 4, 12, 2.0, "boom")]) == []
    assert cursor.new_streaks([]) == []  # it ticked well
    assert cursor.new_streaks([streak]) == [streak]


def test_an_unreadable_cursor_starts_over_instead_of_stopping_the_sensor():
    assert AlertCursor.parse("{not json") == AlertCursor()
    assert AlertCursor.parse('{"version": 99}') == AlertCursor()


def test_the_daily_csv_missing_at_its_deadline_is_told_once(tmp_path):
    settings = Settings(home=tmp_path / "home", start_date="2026-11-01")
    defs = build_definitions(settings)
    stack = LocalStack(settings)
    due, deadline = due_day(datetime.now(UTC), settings.zone, CSV_DEADLINE_HOUR)
    with dg.DagsterInstance.ephemeral() as instance:
        cursor = None
        for _ in range(2):
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources)
            defs.resolve_sensor_def("alerts_sensor")(context)
            cursor = context.cursor
        (alert,) = stack.alert_destination.read()
    assert alert.key == f"overdue:daily_summary_csv:{due.isoformat()}"
    assert alert.subject == f"daily_summary_csv {due} overdue"
    assert (
        f"deadline {deadline.isoformat(timespec='minutes')}" in alert.body and "never been materialized" in alert.body
    )


def test_no_overdue_alert_when_the_due_day_is_there_or_before_the_first_partition(tmp_path):
    due, _ = due_day(datetime.now(UTC), TOKYO, CSV_DEADLINE_HOUR)
    for start, exported in ((date(2026, 11, 1), True), (due.replace(year=due.year + 1), False)):
        settings = Settings(home=tmp_path / str(start), start_date=start.isoformat())
        defs = build_definitions(settings)
        with dg.DagsterInstance.ephemeral() as instance:
            if exported:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization("daily_summary_csv", partition=due.isoformat())
                )
            defs.resolve_sensor_def("alerts_sensor")(
                dg.build_sensor_context(instance=instance, resources=defs.resources)
            )
        assert LocalStack(settings).alert_destination.read() == []


def test_every_check_daily_summary_job_runs_is_blocking(tmp_path):
    """alerts_sensor does not read the checks of that job's successful runs (definitions.py): a failure
    of any of them must fail the run, and so be told with it."""
    defs = build_definitions(Settings(home=tmp_path / "home"))
    summary_assets = {dg.AssetKey("daily_health_summary"), dg.AssetKey("daily_summary_csv")}
    specs = [spec for checks in defs.asset_checks for spec in checks.check_specs if spec.asset_key in summary_assets]
    specs += [spec for asset in defs.assets if isinstance(asset, dg.AssetsDefinition) for spec in asset.check_specs
              if spec.asset_key in summary_assets]  # fmt: skip
    assert len(specs) >= 3 and all(spec.blocking for spec in specs), [(s.name, s.blocking) for s in specs]
