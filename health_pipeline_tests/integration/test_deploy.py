"""deploy/: the production instance on a real PostgreSQL server (the machine's Debian PostgreSQL on a
loopback port), with the ECS run launcher swapped for the default one, and the ECS run launcher's config checked against its schema."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._config import process_config
from dagster_aws.ecs import EcsRunLauncher

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline_tests.support import deliver as send
from health_pipeline_tests.support.deploy_config import DEPLOY, production_config
from health_pipeline_tests.support.postgres_server import postgres_server

TOKYO = ZoneInfo("Asia/Tokyo")
DAYS = [date(2026, 11, 10) + timedelta(days=n) for n in range(3)]


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_instance(postgres, tmp_path, monkeypatch):
    """deploy/dagster.yaml as it is, but for the run launcher (the default, in-process here) and TLS
    (the loopback server has none); the connection settings through the same environment variables."""
    config = production_config()
    del config["run_launcher"]
    config["storage"]["postgres"]["postgres_db"]["params"] = {"sslmode": "disable"}
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    for name, value in {"HOST": postgres.host, "PORT": str(postgres.port), "USERNAME": postgres.user,
                        "PASSWORD": "", "DB": postgres.database}.items():  # fmt: skip
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance, postgres


def query(server, sql: str, *params) -> list[tuple]:
    with psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname=server.database) as connection:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def test_the_production_instance_keeps_runs_events_and_pools_in_postgresql(pg_instance, stack):
    instance, server = pg_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    instance.event_log_storage.set_concurrency_slots("athena", 8)
    instance.event_log_storage.set_concurrency_slots("schema_migration", 1)

    send(stack, list(generate_records(30, DAYS, TOKYO, seed=8, duplicate_rate=0.0)))
    defs = build_definitions(stack.settings)
    job = defs.resolve_job_def("daily_summary_job")
    assert job.execute_in_process(partition_key="2026-11-11", instance=instance).success

    # A sensor tick against the same instance: its history of materializations comes from PostgreSQL.
    first = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, resources=defs.resources)
    )
    send(stack, [{"user_id": "late-phone", "recorded_at": "2026-11-11T21:00:00+09:00", "fatigue": 1, "mood": 2,
                  "motivation": 3, "flags": 4}])  # fmt: skip
    tick = defs.resolve_sensor_def("new_data_sensor")(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=defs.resources)
    )
    (late,) = [r for r in tick.run_requests if r.job_name == "daily_summary_job"]
    assert late.partition_key == "2026-11-11"
    assert job.execute_in_process(partition_key=late.partition_key, tags=late.tags, instance=instance).success

    # Read back with SQL, as another Dagster process (the webserver, the daemon) would see it.
    runs = query(server, "SELECT status, partition FROM runs WHERE pipeline_name = %s ORDER BY create_timestamp",
                 "daily_summary_job")  # fmt: skip
    assert runs == [("SUCCESS", "2026-11-11"), ("SUCCESS", "2026-11-11")]
    materialized = query(
        server,
        "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s"
        " AND partition = %s",
        '["daily_summary_csv"]',
        "2026-11-11",
    )
    assert materialized == [(2,)]
    tags = query(server, "SELECT value FROM run_tags WHERE key = 'health-pipeline/reason'")
    assert tags == [("late data",)]
    pools = dict(query(server, 'SELECT concurrency_key, "limit" FROM concurrency_limits'))
    assert pools == {"athena": 8, "schema_migration": 1}
    csv = stack.settings.export_uri + "daily_summary/date=2026-11-11/daily_summary.csv"
    assert "late-phone,1," in Path(csv).read_text()


def test_the_production_run_launcher_is_ecs_and_its_config_is_valid():
    launcher = production_config()["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    checked = process_config(EcsRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    text = (DEPLOY / "dagster.yaml").read_text()
    database = production_config()["storage"]["postgres"]["postgres_db"]
    assert all(set(value) == {"env"} for key, value in database.items() if key not in ("params", "scheme"))
    assert "password:" in text and "AKIA" not in text
