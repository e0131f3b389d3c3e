"""firehose_delivery and its checks, on the local stream and on Firehose (moto over HTTP)."""

import base64
import json
from datetime import UTC, datetime, timedelta

import boto3
import dagster as dg
import pytest

from health_pipeline.defs.delivery.assets import firehose_delivery
from health_pipeline.delivery.producer import send_lines
from health_pipeline.engines import stack_for
from health_pipeline.settings import Settings
from health_pipeline_tests.support import GOOD, jsonl

REGION = "ap-northeast-1"
STREAM = "health-logger-prod-records"
DATABASE, TABLE = "health_logger_prod_health_logs", "health_records"


def observe(stack, instance):
    result = dg.materialize([firehose_delivery], resources={"stack": stack}, instance=instance)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("firehose_delivery")
    checks = {check.check_name: check for check in result.get_asset_check_evaluations()}
    return materialization.metadata, checks


# -- local ------------------------------------------------------------------------------------------
def test_local_figures_errors_and_a_cursor_across_runs(settings, stack):
    resource = stack
    instance = dg.DagsterInstance.ephemeral()
    lines = [(f"t:{n}", jsonl([{**GOOD, "user_id": f"u{n}"}])) for n in range(20)] + [("t:bad", b'{"mood": 99}\n')]
    send_lines(stack.delivery_stream, stack.desired_schema(), lines)

    metadata, checks = observe(resource, instance)
    assert metadata["records_received"].value == 21 and metadata["records_rejected"].value == 1
    assert metadata["spool_records"].value == 20 and metadata["records_delivered"].value == 0
    assert "| records received | 21 |" in metadata["summary"].value
    assert "Producer.MissingField" in metadata["error_codes"].value
    assert "file://" in metadata["error_samples"].value and "t:bad" in metadata["error_samples"].value
    assert checks["stream_active"].passed and checks["data_freshness"].passed
    errors = checks["no_new_delivery_errors"]
    assert not errors.passed and errors.metadata["expected"].value == 0 and errors.metadata["actual"].value == 1

    stack.delivery_stream.flush()
    metadata, checks = observe(resource, instance)  # the cursor: only what happened since the last run
    assert metadata["records_delivered"].value == 20 and metadata["records_rejected"].value == 0
    assert metadata["records_received"].value == 0 and metadata["spool_records"].value == 0
    assert all(check.passed for check in checks.values())


def test_local_freshness_fails_when_the_oldest_record_waits_over_twice_the_buffer(settings, stack):
    send_lines(stack.delivery_stream, stack.desired_schema(), [("t:1", jsonl([GOOD]))])
    (segment,) = stack.delivery_stream.segments()
    sequence, created, rest = segment.stem.split("-", 1)[1].split("-", 2)
    segment.rename(
        segment.with_name(f"segment-{sequence}-{int(created) - 700_000}-{rest}{segment.suffix}")
    )  # 700 s old

    _, checks = observe(stack, dg.DagsterInstance.ephemeral())
    freshness = checks["data_freshness"]
    assert not freshness.passed
    assert freshness.metadata["expected"].value == "<= 600 s" and freshness.metadata["actual_s"].value >= 700


# -- aws (moto) -------------------------------------------------------------------------------------
@pytest.fixture
def firehose_stream(aws):
    """An ACTIVE Direct PUT stream into the Iceberg table, its error output in S3."""
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="hp-errors", CreateBucketConfiguration={"LocationConstraint": REGION}
    )

    def create(name=STREAM, database=DATABASE, table=TABLE, interval=300):
        boto3.client("firehose", region_name=REGION).create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            IcebergDestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "CatalogConfiguration": {
                    "CatalogARN": f"arn:aws:glue:{REGION}:123456789012:catalog/s3tablescatalog/health"
                },
                "DestinationTableConfigurationList": [
                    {"DestinationDatabaseName": database, "DestinationTableName": table}
                ],
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": interval},
                "S3Configuration": {
                    "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                    "BucketARN": "arn:aws:s3:::hp-errors",
                    "ErrorOutputPrefix": "firehose-errors/",
                },
            },
        )

    return create


def seed_metrics(values: dict[str, float], stream=STREAM, minutes_ago=2):
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/Firehose",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "DeliveryStreamName", "Value": stream}],
                "Timestamp": at,
                "Value": value,
            }
            for name, value in values.items()
        ],
    )


def put_error_object(key: str, codes: list[str]):
    body = "".join(
        json.dumps(
            {
                "attemptsMade": 1,
                "errorCode": code,
                "errorMessage": f"{code} for a record",
                "rawData": base64.b64encode(jsonl([{**GOOD, "sleep": n}])).decode(),
            }
        )
        + "\n"
        for n, code in enumerate(codes)
    )
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="hp-errors", Key=f"firehose-errors/{key}", Body=body.encode()
    )


def resource(stream=STREAM):
    settings = Settings(mode="aws", aws_region=REGION, firehose_stream=stream, database=DATABASE, table=TABLE)
    return stack_for(settings)


def test_aws_figures_error_objects_and_a_cursor_across_runs(firehose_stream):
    firehose_stream()
    seed_metrics(
        {
            "IncomingRecords": 1002,
            "DeliveryToIceberg.SuccessfulRowCount": 1000,
            "DeliveryToIceberg.FailedRowCount": 2,
            "DeliveryToIceberg.DataFreshness": 120,
        }
    )
    put_error_object("2026/11/20/10/hp-1-2026-11-20-10-00-00-a", ["Iceberg.MissingColumnWithinRecord"] * 2)
    instance = dg.DagsterInstance.ephemeral()

    metadata, checks = observe(resource(), instance)
    assert metadata["incoming_records"].value == 1002 and metadata["rows_delivered"].value == 1000
    assert metadata["rows_failed"].value == 2 and metadata["data_freshness_s"].value == 120
    assert metadata["new_error_objects"].value == 1 and metadata["new_error_records"].value == 2
    assert metadata["buffering"].value == "5 MB / 300 s"
    assert "Iceberg.MissingColumnWithinRecord` | 2 |" in metadata["error_codes"].value
    assert "console.aws.amazon.com/s3/object/hp-errors" in metadata["error_samples"].value
    assert '"sleep": 0}' in metadata["error_samples"].value  # the record itself, decoded
    assert checks["stream_active"].passed and checks["data_freshness"].passed
    assert not checks["no_new_delivery_errors"].passed
    assert checks["no_new_delivery_errors"].metadata["actual"].value == 2

    metadata, checks = observe(resource(), instance)  # nothing new since the first run
    assert metadata["new_error_objects"].value == 0 and metadata["rows_delivered"].value == 0
    assert checks["no_new_delivery_errors"].passed

    put_error_object("2026/11/20/11/hp-1-2026-11-20-11-00-00-b", ["Iceberg.InvalidTypeForColumn"])
    metadata, checks = observe(resource(), instance)
    assert metadata["new_error_objects"].value == 1
    assert "Iceberg.InvalidTypeForColumn" in checks["no_new_delivery_errors"].metadata["error_codes"].value


def test_aws_a_stream_into_another_table_or_late_data_fails_its_checks(firehose_stream):
    firehose_stream(name="other-stream", table="other_table")
    seed_metrics({"DeliveryToIceberg.DataFreshness": 1500}, stream="other-stream")
    _, checks = observe(resource("other-stream"), dg.DagsterInstance.ephemeral())
    active = checks["stream_active"]
    assert not active.passed and "not health_logger_prod_health_logs.health_records" in active.description
    assert active.metadata["expected"].value.endswith(f"Iceberg {DATABASE}.{TABLE}")
    freshness = checks["data_freshness"]
    assert not freshness.passed and freshness.metadata["actual"].value == "1500 s"


def test_aws_a_missing_stream_is_reported_not_raised(aws):
    _, checks = observe(resource("nope"), dg.DagsterInstance.ephemeral())
    assert not checks["stream_active"].passed and "ResourceNotFoundException" in checks["stream_active"].description


def test_the_asset_is_registered_with_its_checks_group_kind_and_owner(settings):
    from health_pipeline.definitions import build_definitions

    asset = build_definitions(settings).get_assets_def("firehose_delivery")
    spec = next(iter(asset.specs))
    assert spec.group_name == "ingestion" and spec.owners == ["team:health-pipeline"] and spec.kinds
    assert spec.description.startswith("How records reach health_records")
    assert {key.name for key in asset.check_keys} == {"stream_active", "no_new_delivery_errors", "data_freshness"}
