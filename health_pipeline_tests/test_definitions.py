"""The code location as Dagster and an operator see it."""

import subprocess
import sys
from pathlib import Path

import pytest

from health_pipeline.settings import PROJECT_ROOT

DAGSTER = str(Path(sys.executable).parent / "dagster")


@pytest.mark.parametrize("mode", ["local", "aws"])
def test_dagster_definitions_validate_passes_without_io_or_deprecation(cli_env, settings, mode):
    # aws: no endpoint or credentials reachable here, so any AWS call at load time would fail it.
    env = {
        **cli_env,
        "PYTHONWARNINGS": "always::DeprecationWarning",
        "HEALTH_PIPELINE_MODE": mode,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "none",
        "AWS_SECRET_ACCESS_KEY": "none",
    }
    result = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    project_warnings = [
        line for line in result.stderr.splitlines() if "DeprecationWarning" in line and "health_pipeline" in line
    ]
    assert not project_warnings, project_warnings
    assert not settings.home.exists(), "loading the code location must not create local state"


def test_the_definitions_hold_the_designs_names():
    from health_pipeline.definitions import defs

    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys >= {"health_records", "iceberg_schema", "daily_health_summary", "daily_summary_csv"}
    schedule = defs.get_schedule_def("daily_summary_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.execution_timezone == "Asia/Tokyo"
    summary = defs.get_assets_def("daily_health_summary")
    partitions = summary.partitions_def
    assert partitions.timezone == "Asia/Tokyo"
    for node in repository.asset_graph.asset_nodes:  # what an operator reads on each asset's page
        spec = node.to_asset_spec()
        assert len(spec.description or "") > 80 and spec.owners and spec.group_name and spec.kinds, spec.key


def test_the_schedule_targets_the_day_before_in_tokyo():
    import dagster as dg

    from health_pipeline.definitions import defs

    schedule = defs.get_schedule_def("daily_summary_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=_tokyo(2026, 11, 21, 1, 0))
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-11-20"]


def _tokyo(*parts):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(*parts, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_every_step_that_runs_a_query_is_in_the_athena_pool_and_aws_mode_loads(tmp_path):
    """A month's backfill must not exceed Athena's active-query quota: every asset and check that
    queries the table shares pool "athena". The aws mode loads the same graph with the AWS resources."""
    from health_pipeline.definitions import build_definitions, defs
    from health_pipeline.settings import Settings

    assert defs.get_assets_def("daily_health_summary").node_def.pool == "athena"
    for check in defs.asset_checks:
        queries = "stack" in check.required_resource_keys
        assert (check.node_def.pool == "athena") is queries, check.node_def.name
    aws = build_definitions(Settings(mode="aws", home=tmp_path))
    assert {name: type(resource).__name__ for name, resource in aws.resources.items()} == {
        "stack": "AwsStack", "io_manager": "S3PickleIOManager"}  # fmt: skip
    summary = next(iter(aws.get_assets_def("daily_health_summary").specs))
    exported = next(iter(aws.get_assets_def("daily_summary_csv").specs))
    assert set(summary.kinds) == {"athena", "sql"} and set(exported.kinds) == {"csv", "s3"}
    assert (
        aws.get_repository_def().asset_graph.get_all_asset_keys()
        == defs.get_repository_def().asset_graph.get_all_asset_keys()
    )
