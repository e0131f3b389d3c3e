"""What watches the watcher: alerts_sensor's heartbeat and daily_summary_csv's export, as CloudWatch
data points on moto over HTTP (aws mode, read back with get_metric_data) and as the local home's
record that `health-pipeline alerts status` compares with the alarms' windows."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import dagster as dg
import pytest

from health_pipeline.alerts.liveness import (
    CODE_LOCATION,
    CODE_LOCATION_DIMENSION,
    EXPORT_METRIC,
    HEARTBEAT_METRIC,
    NAMESPACE,
)
from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.engines.aws import AwsStack
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
from health_pipeline_tests.support import deliver, free_loopback_port, materialize, preset_athena_results, run_cli
from health_pipeline_tests.support.alerts_scenarios import yesterday_is_exported
from health_pipeline_tests.support.aws_moto import SUMMARY_ROWS, SUMMARY_TYPES

REGION = "ap-northeast-1"
BUCKET = "health-logger-prod"


def datapoints(metric: str, stat: str, since: datetime) -> list[float]:
    """The metric's values per minute since `since`, read back from CloudWatch (moto) as an alarm reads them."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]  # moto's, whatever a test set for CloudWatch alone
    answer = boto3.client("cloudwatch", region_name=REGION, endpoint_url=endpoint).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "watched",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": CODE_LOCATION_DIMENSION, "Value": CODE_LOCATION}],
                    },
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        StartTime=since - timedelta(minutes=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
    )
    (result,) = answer["MetricDataResults"]
    return result["Values"]


def tick(settings: Settings, instance: dg.DagsterInstance, stack, cursor: str | None = None):
    """One tick of alerts_sensor as the daemon runs it, with `stack` as its resource."""
    defs = build_definitions(settings)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={**defs.resources, "stack": stack})
    result = defs.resolve_sensor_def("alerts_sensor")(context)
    return result, context.cursor


@pytest.fixture
def quiet_instance(tmp_path):
    """An instance where nothing failed and yesterday's CSV is there: a tick has nothing to tell."""
    settings = Settings(home=tmp_path / "home")
    instance = dg.DagsterInstance.ephemeral()
    yesterday_is_exported(instance, settings)
    return settings, instance


def test_each_completed_tick_publishes_one_heartbeat_to_cloudwatch(aws, tmp_path, quiet_instance):
    settings, instance = quiet_instance
    stack = AwsStack(Settings(mode="aws", home=tmp_path / "aws-home"))
    since = datetime.now(UTC)
    result, cursor = tick(settings, instance, stack)
    assert isinstance(result, dg.SkipReason) and result.skip_message == "nothing to tell"
    tick(settings, instance, stack, cursor)
    assert sum(datapoints(HEARTBEAT_METRIC, "SampleCount", since)) == 2
    assert sum(datapoints(HEARTBEAT_METRIC, "Sum", since)) == 2


def test_a_tick_whose_heartbeat_fails_completes_and_the_next_tick_publishes(aws, tmp_path, quiet_instance, monkeypatch):
    settings, instance = quiet_instance
    stack = AwsStack(Settings(mode="aws", home=tmp_path / "aws-home"))
    since = datetime.now(UTC)
    # CloudWatch unreachable (nothing listens there); SNS and the rest still reach moto.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", f"http://127.0.0.1:{free_loopback_port()}")
    started = datetime.now(UTC)
    result, cursor = tick(settings, instance, stack)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    assert isinstance(result, dg.SkipReason), "the tick completes all the same"
    assert json.loads(cursor)["pending"] == [], "the cursor is kept as on any tick"
    assert elapsed < 20, f"a tick with CloudWatch unreachable took {elapsed:.1f} s"
    assert datapoints(HEARTBEAT_METRIC, "SampleCount", since) == []

    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDWATCH")  # CloudWatch is back
    tick(settings, instance, stack, cursor)
    assert sum(datapoints(HEARTBEAT_METRIC, "SampleCount", since)) == 1


def test_the_exported_day_is_published_as_its_age_in_days(aws, tmp_path):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    settings = Settings(
        mode="aws",
        home=tmp_path / "home",
        athena_output=f"s3://{BUCKET}/athena-results/",
        export_uri=f"s3://{BUCKET}/exports/",
        s3_endpoint_url=aws,
    )
    yesterday = (datetime.now(settings.zone) - timedelta(days=1)).date()
    rows = [SUMMARY_ROWS[0]] + [[yesterday.isoformat(), *row[1:]] for row in SUMMARY_ROWS[1:]]
    preset_athena_results(aws, rows, types=SUMMARY_TYPES)
    since = datetime.now(UTC)
    result = materialize(
        settings,
        ["daily_health_summary", "daily_summary_csv"],
        partition_key=yesterday.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    exported = boto3.client("s3", region_name=REGION).get_object(
        Bucket=BUCKET, Key=f"exports/daily_summary/date={yesterday}/daily_summary.csv"
    )
    assert list(csv.reader(io.StringIO(exported["Body"].read().decode()))) == rows
    assert datapoints(EXPORT_METRIC, "Minimum", since) == [1.0], "yesterday's CSV is one day old"
    metadata = result.asset_materializations_for_node("daily_summary_csv")[0].metadata
    assert metadata["export_metric"].value.startswith(f"told to CloudWatch namespace {NAMESPACE}")


def status(cli_env: dict[str, str]) -> tuple[int, str]:
    done = run_cli(cli_env, "alerts", "status")
    assert done.stderr == b"", done.stderr.decode()
    return done.returncode, done.stdout.decode()


def test_alerts_status_on_a_fresh_home_says_nothing_ticked_and_what_to_do(cli_env, settings):
    code, text = status(cli_env)
    assert code == 1
    assert f"alerts_sensor: NEVER ticked (no heartbeat at {settings.watch_dir})" in text and "make dev" in text
    assert "daily_summary_csv: NEVER exported" in text


def test_alerts_status_after_a_real_tick_and_export_is_healthy_then_late(cli_env, settings):
    stack = LocalStack(settings)
    yesterday = (datetime.now(settings.zone) - timedelta(days=1)).date()
    deliver(stack, list(generate_records(5, [yesterday], settings.zone)))
    assert materialize(
        settings, ["daily_health_summary", "daily_summary_csv"], partition_key=yesterday.isoformat()
    ).success
    instance = dg.DagsterInstance.ephemeral()
    yesterday_is_exported(instance, settings)
    tick(settings, instance, stack)

    code, text = status(cli_env)
    assert code == 0, text
    assert "alerts_sensor: last ticked" in text and "window 15 min: ok" in text
    assert f"(the CSV of {yesterday})" in text and "window 27 h: ok" in text

    now = datetime.now(UTC)
    stack.liveness.heartbeat(now - timedelta(minutes=16))  # the daemon stopped 16 minutes ago
    code, text = status(cli_env)
    assert code == 1 and "window 15 min: LATE" in text and "window 27 h: ok" in text

    stack.liveness.heartbeat(now)
    stack.liveness.exported([yesterday], yesterday, now - timedelta(hours=28))  # no export for 28 h
    code, text = status(cli_env)
    assert code == 1 and "window 15 min: ok" in text and "window 27 h: LATE" in text


def test_alerts_status_in_aws_mode_reads_the_metrics_back_from_cloudwatch(aws, cli_env, tmp_path, quiet_instance):
    settings, instance = quiet_instance
    stack = AwsStack(Settings(mode="aws", home=tmp_path / "aws-home"))
    env = {**cli_env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}, "HEALTH_PIPELINE_MODE": "aws"}
    code, text = status(env)
    assert code == 1 and "alerts_sensor: NEVER ticked (no heartbeat at CloudWatch namespace health-pipeline" in text

    tick(settings, instance, stack)
    code, text = status(env)
    assert code == 1, "no export yet: the export alarm would be in ALARM too"
    assert "window 15 min: ok" in text and "daily_summary_csv: NEVER exported" in text

    now = datetime.now(UTC)
    today = now.astimezone(settings.zone).date()
    stack.liveness.exported([today - timedelta(days=30)], today, now)  # a backfill of an old day does not count
    assert status(env)[0] == 1
    stack.liveness.exported([today - timedelta(days=1)], today, now)
    code, text = status(env)
    assert code == 0, text
    assert "window 27 h: ok" in text
