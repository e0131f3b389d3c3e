"""The code location in aws mode, end to end against moto over HTTP: the Definitions an operator
loads with HEALTH_PIPELINE_MODE=aws, real Dagster runs, boto3's own credential chain."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from zoneinfo import ZoneInfo

import boto3
import dagster as dg
import pytest

from health_pipeline.definitions import build_definitions
from health_pipeline.defs.common import run_query
from health_pipeline.engines.aws.athena import AthenaQueryError
from health_pipeline.schema import read_desired_schema
from health_pipeline.schema.model import TableSchema
from health_pipeline.settings import PROJECT_ROOT, Settings
from health_pipeline.summary.csv_format import CSV_COLUMNS
from health_pipeline_tests.support import CLI, preset_athena_results, unbound_assets
from health_pipeline_tests.support.aws_moto import (
    BUCKET,
    REGION,
    SUMMARY_ROWS,
    SUMMARY_TYPES,
    aws_env,
    glue_table,
)

DAY = "2026-11-11"


def schema_status(settings: Settings) -> subprocess.CompletedProcess:
    """`health-pipeline schema status --json` in aws mode, as an operator runs it."""
    return subprocess.run(
        [*CLI, "schema", "status", "--json"], env=aws_env(settings), cwd=PROJECT_ROOT, capture_output=True, text=True
    )


def test_the_daily_summary_runs_on_athena_and_its_csv_is_copied_into_the_export_uri(aws, aws_settings):
    defs = build_definitions(aws_settings)
    s3 = boto3.client("s3", region_name=REGION)
    preset_athena_results(aws, SUMMARY_ROWS, types=SUMMARY_TYPES)

    summary_asset, csv_asset = unbound_assets(defs, "daily_health_summary", "daily_summary_csv")
    result = dg.materialize(
        [summary_asset, csv_asset],
        partition_key=DAY,
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
    )

    assert result.success
    exported = s3.get_object(Bucket=BUCKET, Key=f"exports/daily_summary/date={DAY}/daily_summary.csv")
    rows = list(csv.reader(io.StringIO(exported["Body"].read().decode("utf-8"))))
    assert rows == SUMMARY_ROWS and rows[0] == list(CSV_COLUMNS)
    summary = result.asset_materializations_for_node("daily_health_summary")[0].metadata
    query_id = summary["query_id"].value
    assert summary["engine"].value == "athena"
    assert summary["console"].value.endswith(f"#/query-editor/history/{query_id}")
    assert summary["cost_usd"].value > 0 and summary["dagster/row_count"].value == 2
    assert summary["result_location"].value == f"s3://{BUCKET}/athena-results/{query_id}.csv"
    exported_meta = result.asset_materializations_for_node("daily_summary_csv")[0].metadata
    assert exported_meta["path"].value == f"s3://{BUCKET}/exports/daily_summary/date={DAY}/daily_summary.csv"
    assert exported_meta["bytes"].value == exported["ContentLength"]
    # The day's rows are kept beside Athena's results, where the role may write, for the export and checks.
    stored = s3.list_objects_v2(Bucket=BUCKET, Prefix="athena-results/summaries/")["Contents"]
    assert [item["Key"] for item in stored] == [
        f"athena-results/summaries/daily_health_summary/date={DAY}/summary.parquet"
    ]

    # Re-materializing the CSV alone (a later run, on another machine) reads the summary back from S3.
    s3.delete_object(Bucket=BUCKET, Key=f"exports/daily_summary/date={DAY}/daily_summary.csv")
    again = dg.materialize(
        [csv_asset],
        partition_key=DAY,
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        selection=[csv_asset],
    )
    assert again.success
    exported = s3.get_object(Bucket=BUCKET, Key=f"exports/daily_summary/date={DAY}/daily_summary.csv")
    assert list(csv.reader(io.StringIO(exported["Body"].read().decode("utf-8")))) == SUMMARY_ROWS


def test_a_failed_athena_query_fails_the_run_with_its_reason_and_retries_only_when_retryable():
    class Failing:
        def __init__(self, retryable: bool) -> None:
            self.retryable = retryable

        def run(self, query):
            raise AthenaQueryError(
                "Athena query daily_summary (q-1) FAILED: HIVE_BAD_DATA", query_id="q-1", state="FAILED",
                reason="HIVE_BAD_DATA", error_category=2, error_type=1000, retryable=self.retryable,
                console_url="https://example.invalid/q-1",
            )  # fmt: skip

    for retryable in (True, False):
        with pytest.raises(dg.Failure) as failure:
            run_query(Failing(retryable=retryable), object())
        assert failure.value.allow_retries is retryable
        assert "HIVE_BAD_DATA" in failure.value.description
        assert failure.value.metadata["query_id"].value == "q-1"
        assert failure.value.metadata["console"].value == "https://example.invalid/q-1"


def test_schema_status_in_aws_mode_compares_terraform_glue_and_the_live_iceberg_schema(aws, aws_settings):
    desired = read_desired_schema(aws_settings.s3tables_module_dir)
    glue_table(aws_settings, TableSchema(desired.columns[:-1]))  # the last Terraform column not yet applied
    done = schema_status(aws_settings)
    assert done.returncode == 3, done.stderr
    plan = json.loads(done.stdout)
    missing = desired.columns[-1]
    assert plan["state"] == "additive_drift"
    assert [c["name"] for c in plan["live"]["columns"]] == [c.name for c in desired.columns[:-1]]
    # The catalog view is what Glue holds (PyIceberg wrote the StorageDescriptor columns).
    assert [c["name"] for c in plan["catalog"]["columns"]] == [c.name for c in desired.columns[:-1]]
    assert plan["ddl"]["add_columns"] == f"ALTER TABLE health_records ADD COLUMNS ({missing.name} {missing.glue_type})"
    laid_out = {"partition_spec": "day(recorded_at)", "sort_order": "recorded_at ASC NULLS FIRST"}
    assert plan["layout"] == {"desired": laid_out, "live": laid_out}


def test_schema_status_in_aws_mode_reports_an_unpartitioned_live_table_as_needing_a_person(aws, aws_settings):
    # What the first Terraform (aws_s3tables_table, no partition spec) created: the columns are right,
    # the layout is not, and only a person can change it.
    glue_table(aws_settings, read_desired_schema(aws_settings.s3tables_module_dir), laid_out=False)
    done = schema_status(aws_settings)
    assert done.returncode == 4, done.stderr
    plan = json.loads(done.stdout)
    assert plan["state"] == "needs_person" and plan["ddl"]["add_columns"] is None
    assert plan["layout"]["live"] == {"partition_spec": "unpartitioned", "sort_order": "unsorted"}
    (item,) = plan["drift"]
    assert item["live_type"] == "unpartitioned / unsorted"
    assert (
        "S3 Tables' Iceberg REST endpoint" in item["reason"]
        and "ADD PARTITION FIELD days(recorded_at)" in item["reason"]
    )


def test_new_data_sensor_in_aws_mode_reads_snapshots_through_glue_and_s3(aws, aws_settings):
    """Firehose's commits seen as the sensor sees them in production: the Iceberg table through
    PyIceberg's Glue catalog, its manifests read from S3 (moto), the history from the instance."""
    import pyarrow as pa

    desired = read_desired_schema(aws_settings.s3tables_module_dir)
    table = glue_table(aws_settings, desired)
    defs = build_definitions(aws_settings)
    new_data_sensor, resources = defs.resolve_sensor_def("new_data_sensor"), dict(defs.resources)
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor: str | None = None):
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            return new_data_sensor(context)

    quiet = tick()
    assert isinstance(quiet, dg.SkipReason) and "no snapshot yet" in quiet.skip_message

    def firehose_commit(user: str, recorded_at: str) -> None:
        from datetime import datetime

        when = datetime.fromisoformat(recorded_at).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        rows = pa.table({"user_id": [user], "recorded_at": pa.array([when], pa.timestamp("us")),
                         "fatigue": pa.array([1], pa.int32()), "mood": pa.array([2], pa.int32()),
                         "motivation": pa.array([3], pa.int32()), "flags": pa.array([0], pa.int32())})  # fmt: skip
        table.append(rows.cast(table.schema().as_arrow()))

    firehose_commit("on-time", "2026-11-11T12:00:00+09:00")
    first = tick()
    assert [r.job_name for r in first.run_requests] == ["data_quality_job"]  # nothing summarized yet
    instance.report_runless_asset_event(dg.AssetMaterialization("daily_health_summary", partition="2026-11-11"))

    firehose_commit("late-phone", "2026-11-11T23:30:00+09:00")
    later = tick(first.cursor)
    late = [r for r in later.run_requests if r.job_name == "daily_summary_job"]
    assert [r.partition_key for r in late] == ["2026-11-11"]
    assert later.cursor == str(table.refresh().current_snapshot().snapshot_id) != first.cursor
