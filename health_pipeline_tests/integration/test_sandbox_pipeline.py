"""The sandbox's Firehose delivering into the Iceberg table, and the aws mode (the project's own
Settings, AwsStack and Athena engine) computing the daily summary on the sandbox: the same CSV bytes
as the local mode computes from the same records."""

from __future__ import annotations

import base64
import json
import shutil
import urllib.request
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from pyiceberg.types import DoubleType

from health_pipeline.engines.aws import AwsStack
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings, load_settings
from health_pipeline.summary.days import export_key
from health_pipeline.summary.refresh import export_day, summarize_days
from health_pipeline_tests.support.sandbox_records import expected_day_summary, sandbox_records
from sandbox.client import SandboxProcess, iceberg_catalog

DATABASE = "health_logger_prod_health_logs"
DAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with SandboxProcess.started(tmp_path_factory.mktemp("sandbox_home")) as running:
        yield running


def flush(sandbox: SandboxProcess) -> dict:
    request = urllib.request.Request(f"{sandbox.endpoint}/_sandbox/firehose/flush", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wire(row: dict) -> bytes:
    """A record as the producer puts it: one JSON object, recorded_at in epoch microseconds."""
    moment = row["recorded_at"]
    micros = (moment - datetime(1970, 1, 1)) // pa.scalar(1, pa.duration("us")).as_py()
    return (json.dumps({**row, "recorded_at": micros}) + "\n").encode()


def put(firehose, stream: str, datas: list[bytes]) -> None:
    for start in range(0, len(datas), 500):
        response = firehose.put_record_batch(
            DeliveryStreamName=stream, Records=[{"Data": d} for d in datas[start : start + 500]]
        )
        assert response["FailedPutCount"] == 0


def probe_stream(sandbox, size_mb: int, interval_s: int) -> tuple[str, str]:
    """A table of its own (health_records' columns and layout) and an Iceberg-destination stream into it."""
    catalog = iceberg_catalog(sandbox)
    main = catalog.load_table((DATABASE, "health_records"))
    name = f"firehose_probe_{uuid.uuid4().hex[:8]}"
    catalog.create_table((DATABASE, name), schema=main.schema(), partition_spec=main.spec(),
                         location=f"s3://health-logger-prod-tables/{DATABASE}/{name}")  # fmt: skip
    stream = f"probe-{uuid.uuid4().hex[:8]}"
    sandbox.client("firehose").create_delivery_stream(
        DeliveryStreamName=stream,
        IcebergDestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/probe",
            "CatalogConfiguration": {"CatalogARN": "arn:aws:glue:ap-northeast-1:123456789012:catalog"},
            "DestinationTableConfigurationList": [{"DestinationDatabaseName": DATABASE, "DestinationTableName": name}],
            "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval_s},
            "S3Configuration": {"RoleARN": "arn:aws:iam::123456789012:role/probe",
                                "BucketARN": "arn:aws:s3:::health-logger-prod", "ErrorOutputPrefix": "probe-errors/"},
        },
    )  # fmt: skip
    return name, stream


def test_the_buffer_is_delivered_when_it_reaches_its_size_or_its_interval(sandbox):
    import time

    firehose, catalog = sandbox.client("firehose"), iceberg_catalog(sandbox)
    row = {"recorded_at": 1_700_000_000_000_000, "fatigue": 1, "mood": 2, "motivation": 3, "flags": 0}
    by_size, size_stream = probe_stream(sandbox, size_mb=1, interval_s=900)
    big = [json.dumps({**row, "user_id": f"{n}-" + "x" * 600_000}).encode() for n in range(2)]
    put(firehose, size_stream, big[:1])
    assert catalog.load_table((DATABASE, by_size)).scan().to_arrow().num_rows == 0  # 0.6 MB < 1 MB: buffered
    put(firehose, size_stream, big[1:])  # 1.2 MB >= 1 MB: delivered at once
    assert catalog.load_table((DATABASE, by_size)).scan().to_arrow().num_rows == 2

    by_time, time_stream = probe_stream(sandbox, size_mb=128, interval_s=2)
    put(firehose, time_stream, [json.dumps({**row, "user_id": "t"}).encode()])
    assert catalog.load_table((DATABASE, by_time)).scan().to_arrow().num_rows == 0
    deadline = time.monotonic() + 30
    while catalog.load_table((DATABASE, by_time)).scan().to_arrow().num_rows == 0:
        assert time.monotonic() < deadline, "the 2 s interval passed and nothing was delivered"
        time.sleep(0.5)


def test_firehose_delivers_good_records_into_the_table_and_bad_ones_to_the_error_prefix(sandbox):
    catalog = iceberg_catalog(sandbox)
    firehose = sandbox.client("firehose")
    name, stream = probe_stream(sandbox, size_mb=1, interval_s=900)
    good = sandbox_records(seed=11, count=40).to_pylist()
    iso = {**good[0], "user_id": "iso-user", "recorded_at": "2026-11-02T09:30:00.123456+09:00"}
    bad = [
        b'{"user_id": "u-extra", "recorded_at": 1, "fatigue": 1, "mood": 1, "motivation": 1, "flags": 0, "steps": 5}',
        b'{"user_id": "u-type", "recorded_at": 1, "fatigue": "high", "mood": 1, "motivation": 1, "flags": 0}',
        b'{"user_id": "u-time", "recorded_at": "yesterday", "fatigue": 1, "mood": 1, "motivation": 1, "flags": 0}',
        b"[1, 2, 3]",
        b"not json",
    ]
    put(firehose, stream, [wire(r) for r in good] + [json.dumps(iso).encode()] + bad)

    # Buffered (1 MB / 900 s): nothing is in the table until the buffer is delivered.
    assert catalog.load_table((DATABASE, name)).scan().to_arrow().num_rows == 0
    delivered = flush(sandbox)[stream]
    assert delivered["delivered"] == 41 and delivered["failed"] == 5

    table = catalog.load_table((DATABASE, name))
    landed = table.scan().to_arrow().sort_by([("user_id", "ascending"), ("recorded_at", "ascending")])
    expected = pa.Table.from_pylist(good, schema=table.schema().as_arrow())
    iso_row = {**good[0], "user_id": "iso-user", "recorded_at": datetime(2026, 11, 2, 0, 30, 0, 123456)}
    expected = pa.concat_tables([expected, pa.Table.from_pylist([iso_row], schema=expected.schema)])
    assert landed.equals(expected.sort_by([("user_id", "ascending"), ("recorded_at", "ascending")]))
    assert len(table.snapshots()) == 1  # one delivery, one commit

    s3 = sandbox.client("s3")
    [key] = delivered["error_objects"]
    assert key.startswith("probe-errors/") and key.count("/") == 5  # prefix + YYYY/MM/DD/HH/ + object
    documents = [
        json.loads(line) for line in s3.get_object(Bucket="health-logger-prod", Key=key)["Body"].read().splitlines()
    ]
    by_data = {base64.b64decode(d["rawData"]): d for d in documents}
    assert set(by_data) == set(bad)
    assert "'steps'" in by_data[bad[0]]["errorMessage"] and by_data[bad[0]]["errorCode"] == "Iceberg.SchemaMismatch"
    assert "fatigue" in by_data[bad[1]]["errorMessage"] and by_data[bad[1]]["errorCode"] == "Iceberg.TypeMismatch"
    assert "microseconds" in by_data[bad[2]]["errorMessage"]
    assert by_data[bad[3]]["errorCode"] == by_data[bad[4]]["errorCode"] == "Iceberg.InvalidJson"
    assert all(d["dataCatalogTable"]["tableName"] == name and d["attemptsMade"] >= 1 for d in documents)

    # The delivery is in CloudWatch, where the firehose_delivery check reads it.
    cloudwatch = sandbox.client("cloudwatch")
    metrics = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="AWS/Firehose")["Metrics"]
               if m["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": stream}]}  # fmt: skip
    assert {"DeliveryToIceberg.SuccessfulRowCount", "DeliveryToIceberg.FailedRowCount"} <= metrics


def test_put_record_batch_refuses_what_the_api_refuses(sandbox):
    from botocore.exceptions import ClientError

    firehose = sandbox.client("firehose")
    stream = sandbox.env["HEALTH_PIPELINE_FIREHOSE_STREAM"]
    with pytest.raises(ClientError, match="at most 1,024,000 bytes"):
        firehose.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": b"x" * (1000 * 1024 + 1)}])
    with pytest.raises(ClientError, match="1 to 500 records"):
        firehose.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": b"{}"}] * 501)


@pytest.fixture(scope="module")
def delivered(sandbox) -> pa.Table:
    """Records sent through the sandbox's Firehose stream (the one sandbox.env names) and delivered."""
    records = sandbox_records(seed=21, count=4000)
    stream = sandbox.env["HEALTH_PIPELINE_FIREHOSE_STREAM"]
    put(sandbox.client("firehose"), stream, [wire(r) for r in records.to_pylist()])
    assert flush(sandbox)[stream] == {"delivered": 4000, "failed": 0, "error_objects": []}
    return records


@pytest.fixture
def aws_env(sandbox, monkeypatch) -> dict[str, str]:
    """The sandbox's sandbox.env in this process's environment (boto3 reads it), as an operator sources it."""
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return dict(sandbox.env)


def local_csvs(records: pa.Table, home, zone_name: str, days: list[date]) -> dict[date, bytes]:
    local = LocalStack(Settings(home=home, timezone=zone_name))
    local.table.load_or_create(local.desired_schema()).append(records)
    _, by_day = summarize_days(local, days, ZoneInfo(zone_name))
    for day in days:
        export_day(local, day, by_day[day])
    return {day: (home / "exports" / export_key(day)).read_bytes() for day in days}


def test_the_aws_mode_computes_the_same_daily_summary_csv_as_the_local_mode(sandbox, delivered, aws_env, tmp_path):
    """The day summarized by the project's aws stack (its Settings read from sandbox.env, Athena's SQL
    run on the sandbox) and by the local stack from the same records: the same CSV bytes."""
    settings = load_settings({**aws_env, "HEALTH_PIPELINE_HOME": str(tmp_path / "aws_home")})
    assert settings.mode == "aws" and settings.athena_workgroup == "health-logger-prod"
    records = delivered
    zone = ZoneInfo(settings.timezone)
    aws = AwsStack(settings)
    [(query, result)], _ = summarize_days(aws, [DAY], zone)
    assert result.engine == "athena" and result.bytes_scanned > 0 and result.rows.num_rows > 0
    aws_file = export_day(aws, DAY, result.rows)
    bucket, _, prefix = settings.export_uri[len("s3://") :].partition("/")
    aws_csv = sandbox.client("s3").get_object(Bucket=bucket, Key=prefix + export_key(DAY))["Body"].read()
    assert aws_file.location == f"{settings.export_uri}{export_key(DAY)}"

    local_csv = local_csvs(records, tmp_path / "local_home", settings.timezone, [DAY])[DAY]
    assert aws_file.size_bytes == len(local_csv)
    assert aws_csv == local_csv
    assert local_csv.count(b"\n") > 10  # a real day: a header and a row per user

    # The same day through the code location's assets (what `make dev` runs against the sandbox).
    import dagster as dg

    from health_pipeline.definitions import build_definitions
    from health_pipeline_tests.support import unbound_assets

    s3 = sandbox.client("s3")
    s3.delete_object(Bucket=bucket, Key=prefix + export_key(DAY))
    defs = build_definitions(settings)
    summary_asset, csv_asset = unbound_assets(defs, "daily_health_summary", "daily_summary_csv")
    run = dg.materialize([summary_asset, csv_asset], partition_key=DAY.isoformat(), resources=defs.resources,
                         instance=dg.DagsterInstance.ephemeral())  # fmt: skip
    assert run.success
    metadata = run.asset_materializations_for_node("daily_health_summary")[0].metadata
    assert metadata["engine"].value == "athena" and metadata["bytes_scanned"].value > 0
    assert s3.get_object(Bucket=bucket, Key=prefix + export_key(DAY))["Body"].read() == local_csv


def test_a_range_across_a_dst_change_is_one_athena_query_and_each_day_matches_pandas(delivered, aws_env, tmp_path):
    """America/New_York's 2026-11-01 has 25 hours; the two days are one query on the sandbox's Athena,
    and each day's CSV equals the local mode's bytes and an independent pandas computation."""
    import io

    import pandas as pd

    zone_name, days = "America/New_York", [date(2026, 11, 1), date(2026, 11, 2)]
    settings = load_settings(
        {**aws_env, "HEALTH_PIPELINE_HOME": str(tmp_path / "aws_home"), "HEALTH_PIPELINE_TIMEZONE": zone_name}
    )
    aws = AwsStack(settings)
    results, by_day = summarize_days(aws, days, ZoneInfo(zone_name))
    assert len(results) == 1 and results[0][1].engine == "athena"
    local = local_csvs(delivered, tmp_path / "local_home", zone_name, days)
    for day in days:
        export_day(aws, day, by_day[day])
        aws_csv = aws.export_store.read(export_key(day))
        assert aws_csv == local[day], day
        actual = pd.read_csv(io.BytesIO(aws_csv), dtype={"user_id": str, "date": str}, keep_default_na=False)
        expected = expected_day_summary(delivered, day, zone_name)
        pd.testing.assert_frame_equal(actual[list(expected.columns)], expected, check_dtype=False)
    assert sum(len(by_day[d]) for d in days) > 40  # both days hold most users


def test_the_table_quality_queries_compute_real_figures_on_the_sandbox(delivered, aws_env, tmp_path):
    """quality_copies and quality_hourly (what the table checks send) on the sandbox's Athena, against
    pandas over the delivered records."""
    from health_pipeline.sql import Query, load_sql

    settings = load_settings({**aws_env, "HEALTH_PIPELINE_HOME": str(tmp_path / "aws_home")})
    engine = AwsStack(settings).query_engine
    window = (datetime(2026, 11, 1, 6), datetime(2026, 11, 2, 18))

    def run(name: str) -> list[dict]:
        query = Query(name=name, text=load_sql(name), parameters=window, window=window, table=settings.table)
        return engine.run(query).rows.to_pylist()

    frame = delivered.to_pandas()
    inside = frame[(frame.recorded_at >= window[0]) & (frame.recorded_at < window[1])]
    keyed = inside.groupby(["user_id", "recorded_at"]).size()
    [copies] = run("quality_copies")
    assert copies == {"distinct_records": len(keyed), "extra_copies": int((keyed - 1).sum())}
    assert copies["extra_copies"] > 0  # the records hold exact duplicates
    hourly = {row["hour_utc"]: row["records"] for row in run("quality_hourly")}
    expected = inside.groupby(inside.recorded_at.dt.floor("h")).size()
    assert hourly == {hour.to_pydatetime(): int(count) for hour, count in expected.items()}
    assert len(hourly) == 36


def test_a_schema_migration_evolves_the_sandbox_table_and_its_verification_query_reads_the_new_column(
    sandbox, delivered, aws_env, tmp_path
):
    """The schema_migration's DDL (ALTER TABLE ... ADD COLUMNS) runs on the sandbox's Athena and evolves
    the Iceberg table and Glue; its verification query selects the new column. Last in this module: it
    changes health_records' schema."""
    import dataclasses

    from health_pipeline.schema.migrate import migrate
    from health_pipeline.settings import PROJECT_ROOT
    from health_pipeline_tests.support.s3tables_columns import set_column

    terraform = tmp_path / "terraform"
    shutil.copytree(PROJECT_ROOT / "terraform" / "modules" / "s3tables", terraform / "modules" / "s3tables")
    set_column(terraform, "sleep_hours", "double")
    settings = dataclasses.replace(
        load_settings({**aws_env, "HEALTH_PIPELINE_HOME": str(tmp_path / "aws_home")}), terraform_dir=terraform
    )
    target = AwsStack(settings).schema_target
    assert [i.column for i in target.read_plan().additive] == ["sleep_hours"]

    outcome = migrate(target, log=lambda line: None)
    assert outcome.applied and outcome.applied[0].startswith(
        "ALTER TABLE health_records ADD COLUMNS (sleep_hours double)"
    )
    assert outcome.verification["columns"] == ["sleep_hours"]
    assert outcome.after.state == "in_sync" and not outcome.after.additive
    live = iceberg_catalog(sandbox).load_table((DATABASE, "health_records"))
    assert live.schema().find_field("sleep_hours").field_type == DoubleType()
    assert live.scan(selected_fields=("sleep_hours",)).to_arrow()["sleep_hours"].null_count == len(delivered)
    glue = sandbox.client("glue").get_table(DatabaseName=DATABASE, Name="health_records")["Table"]
    assert "sleep_hours" in [c["Name"] for c in glue["StorageDescriptor"]["Columns"]]
