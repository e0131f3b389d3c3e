"""A sensor whose ticks keep failing is told once per streak: the real sensor daemon ticks the code
location (loaded in its own code server, as `make dev` does) over a broken local catalog, and its own
alerts_sensor, ticking among them, tells it through the alert files."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import dagster as dg

from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import PROJECT_ROOT, Settings


def test_sensors_whose_last_three_ticks_failed_are_told_once_by_the_daemon_ticking_alerts_sensor(tmp_path, monkeypatch):
    # Dagster's daemon machinery, as dagster's own tests drive it (no public API runs daemon iterations).
    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.sensor import execute_sensor_iteration

    home = tmp_path / "home"
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()  # no partition is due yet
    for name, value in {"HEALTH_PIPELINE_HOME": str(home), "HEALTH_PIPELINE_START_DATE": tomorrow}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(home=home, start_date=tomorrow)
    settings.catalog_dir.mkdir(parents=True)
    (settings.catalog_dir / "catalog.db").write_bytes(b"not a SQLite database")  # every table read fails
    (tmp_path / "dagster").mkdir()
    target = ModuleTarget("health_pipeline.definitions", "defs", str(PROJECT_ROOT), "health_pipeline")
    now = datetime.now(UTC)
    alerts_seen = []
    with (
        dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance,
        create_test_daemon_workspace_context(target, instance) as workspace,
    ):
        for tick in range(6):  # each 61 s apart: every sensor's minimum interval is 60 s
            with freeze_time(now + timedelta(seconds=61 * tick)):
                list(execute_sensor_iteration(workspace, logging.getLogger("test"), None, None))
            alerts_seen.append([a.key for a in LocalStack(settings).alert_destination.read()])
        states = {s.instigator_name: s for s in instance.all_instigator_state()}
        ticks = instance.get_ticks(
            states["new_data_sensor"].instigator_origin_id, states["new_data_sensor"].selector_id
        )
        assert [t.status.value for t in ticks][:3] == ["FAILURE"] * 3, "the broken catalog fails new_data_sensor"
    final = alerts_seen[-1]
    failing = sorted(key.split(":")[2] for key in final)
    assert failing == ["new_data_sensor", "schema_drift_sensor"], final
    assert all(key.startswith("ticks-failing:sensor:") for key in final)
    assert alerts_seen[1] == [], "two failed ticks are not yet a streak"
    assert alerts_seen[-2] == final, "a sensor still failing is told once"
    (alert,) = [a for a in LocalStack(settings).alert_destination.read() if "new_data_sensor" in a.key]
    assert alert.subject == "sensor new_data_sensor keeps failing"
    # 3 failed ticks, or 4 when alerts_sensor ticked before new_data_sensor in that iteration.
    assert re.search(r"failed its last [34] ticks", alert.body) and "Newest error:" in alert.body
