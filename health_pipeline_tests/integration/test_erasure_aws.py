"""Erasure in aws mode against moto over HTTP: the Athena DELETE's text as it goes over the wire (no
ExecutionParameters, ids only as their SHA-256 hex, the window rendered), the re-export of the touched day, the Firehose error prefix purged on
S3, the replaced CSV versions deleted, and the receipt kept under erasure/receipts/."""

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest

from health_pipeline.engines.aws import AwsStack
from health_pipeline.engines.aws.athena.literals import athena_literal
from health_pipeline.erasure import erase
from health_pipeline.erasure.receipt import hashed_user_id
from health_pipeline.settings import Settings
from health_pipeline.sql import load_sql
from health_pipeline.sql.render import render_value, with_rendered
from health_pipeline.summary.days import daily_summary_query, export_key
from health_pipeline.summary.refresh import export_day, summarize_days
from health_pipeline_tests.support import preset_athena_results
from health_pipeline_tests.support.aws_moto import CATALOG, SUMMARY_ROWS, SUMMARY_TYPES, glue_table, moto_engine

REGION = "ap-northeast-1"
BUCKET = "health-logger-prod"
ERRORS = "hp-errors"
DATABASE = "health_logger_prod_health_logs"
DAY = "2026-11-11"
ERASED = "o'brien"
HOSTILE = "x'); DROP TABLE health_records; -- 患者" + "y" * 10_000  # longer than one Athena parameter


def good_line(user_id: str) -> bytes:
    return (json.dumps({"user_id": user_id, "recorded_at": "2026-11-11T01:00:00Z", "fatigue": 3}) + "\n").encode()


def _error_line(user_id: str) -> bytes:
    raw = json.dumps({"user_id": user_id, "recorded_at": "2026-11-11T01:00:00Z", "fatigue": 99}) + "\n"
    document = {"errorCode": "Iceberg.InvalidValue", "rawData": base64.b64encode(raw.encode()).decode()}
    return (json.dumps(document) + "\n").encode()


@pytest.fixture
def aws_stack(aws, tmp_path, moto_aws):
    s3 = moto_aws["s3"]
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=ERRORS, CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("firehose", region_name=REGION).create_delivery_stream(
        DeliveryStreamName="health-logger-prod-records",
        DeliveryStreamType="DirectPut",
        IcebergDestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "CatalogConfiguration": {"CatalogARN": f"arn:aws:glue:{REGION}:123456789012:catalog"},
            "DestinationTableConfigurationList": [
                {"DestinationDatabaseName": DATABASE, "DestinationTableName": "health_records"}
            ],
            "S3Configuration": {
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{ERRORS}",
                "ErrorOutputPrefix": "firehose-errors/",
            },
        },
    )
    settings = Settings(
        mode="aws",
        home=tmp_path / "home",
        database=DATABASE,
        athena_catalog=CATALOG,
        start_date="2026-11-01",
        athena_output=f"s3://{BUCKET}/athena-results/",
        export_uri=f"s3://{BUCKET}/exports/",
        s3_endpoint_url=aws,
    )
    stack = AwsStack(settings)
    stack.__dict__["query_engine"] = moto_engine(moto_aws)  # moto's Athena, its requests captured
    return settings, stack


def test_erasure_in_aws_mode_deletes_by_hashed_ids_reexports_and_purges_the_error_prefix(aws_stack, moto_aws):
    settings, stack = aws_stack
    s3, sent = moto_aws["s3"], moto_aws["sent"]
    endpoint = moto_aws["endpoint"]
    day = datetime.fromisoformat(DAY).date()
    # The day as the schedule wrote it: its kept summary and CSV hold the person.
    preset_athena_results(endpoint, SUMMARY_ROWS, types=SUMMARY_TYPES)
    _, by_day = summarize_days(stack, [day], ZoneInfo(settings.timezone))
    export_day(stack, day, by_day[day])
    csv_key = "exports/" + export_key(day)
    assert ERASED.encode() in s3.get_object(Bucket=BUCKET, Key=csv_key)["Body"].read()
    # Firehose's error output: an object with the person's and someone else's records, one only theirs.
    mixed = _error_line(ERASED) + _error_line("someone-else")
    s3.put_object(Bucket=ERRORS, Key="firehose-errors/2026/11/11/01/mixed", Body=mixed)
    s3.put_object(
        Bucket=ERRORS, Key="firehose-errors/2026/11/11/02/theirs.gz", Body=gzip.compress(_error_line(HOSTILE))
    )
    # This machine's dead-letter file (records Firehose refused after every retry): one line each.
    dead_letters = settings.delivery_dir / "dead-letter"
    dead_letters.mkdir(parents=True)
    lines = [json.dumps({"data": base64.b64encode(good_line(uid)).decode(), "errorCodes": ["ServiceUnavailableException"]}) + "\n"
             for uid in (ERASED, "someone-else")]  # fmt: skip
    (dead_letters / "20261111T010000Z-stream-abc.jsonl").write_text("".join(lines))
    sent.clear()

    preset_athena_results(
        endpoint, [["minute_utc", "records"], ["2026-11-11 01:02:00.000", "2"]], types=["timestamp", "bigint"]
    )
    preset_athena_results(endpoint, [["rows"]])  # the DELETE (moto hands each execution the next result)
    preset_athena_results(endpoint, [["minute_utc", "records"]], types=["timestamp", "bigint"])  # after the DELETE
    preset_athena_results(endpoint, [SUMMARY_ROWS[0], SUMMARY_ROWS[2]], types=SUMMARY_TYPES)  # the day again
    receipt = erase(stack, settings, [ERASED, HOSTILE], reason="APPI 9")

    find, delete, verify, summary = sent
    match = f"lower(to_hex(sha256(to_utf8(user_id)))) IN ('{hashed_user_id(ERASED)}', '{hashed_user_id(HOSTILE)}')"
    window_start = datetime(2026, 10, 31, 15)  # the first partition day's midnight in Tokyo, in UTC
    assert delete["QueryString"] == with_rendered(
        load_sql("erasure_delete").replace("user_id IN ('{user_ids}')", match),
        window_start=window_start,
        window_end=datetime.fromisoformat(find["ExecutionParameters"][1].removeprefix("TIMESTAMP '").rstrip("'")),
    )
    assert (
        f"WHERE {match} AND recorded_at >= TIMESTAMP '2026-10-31 15:00:00.000000' AND recorded_at < TIMESTAMP '20"
        in (delete["QueryString"])
    )
    assert "ExecutionParameters" not in delete  # Athena takes none in a DELETE
    start, end = find["ExecutionParameters"]  # the SELECTs: the window as WHERE parameters, the ids by hash
    assert start == "TIMESTAMP '2026-10-31 15:00:00.000000'" and end.startswith("TIMESTAMP '20")
    assert find["QueryString"] == verify["QueryString"] and f"WHERE {match} AND recorded_at >= ?" in find["QueryString"]
    assert verify["ExecutionParameters"] == find["ExecutionParameters"]
    for request in sent:  # no id, nor any part of one, is SQL text or a parameter
        for text in (request["QueryString"], *request.get("ExecutionParameters", [])):
            assert "brien" not in text and "DROP" not in text and "患者" not in text
        assert request["QueryExecutionContext"] == {"Catalog": CATALOG, "Database": DATABASE}
    expected = daily_summary_query(day, ZoneInfo(settings.timezone), "health_records")  # the day, re-summarized
    assert summary["QueryString"] == expected.text
    assert summary["ExecutionParameters"] == [athena_literal(value) for value in expected.parameters]

    # The day re-exported without them; the replaced version (which held them) deleted.
    assert ERASED.encode() not in s3.get_object(Bucket=BUCKET, Key=csv_key)["Body"].read()
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=csv_key).get("Versions", [])
    assert len(versions) == 1
    # The error prefix: their records gone, the other person's kept.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ERRORS, Prefix="firehose-errors/").get("Contents", [])]
    assert keys == ["firehose-errors/2026/11/11/01/mixed"]
    assert s3.get_object(Bucket=ERRORS, Key=keys[0])["Body"].read() == _error_line("someone-else")

    assert (dead_letters / "20261111T010000Z-stream-abc.jsonl").read_text() == lines[1]
    # The receipt, kept in S3: counts, hashed ids, and when S3 Tables will have removed the bytes.
    assert receipt.rows_deleted == {
        "health_records": 2, "daily_health_summary": 1, "daily_summary_csv": 1, "error_output": 3
    }  # fmt: skip
    assert receipt.days_reexported == [DAY]
    assert receipt.details["table"]["query_id"]
    gone_by = datetime.fromisoformat(receipt.bytes_gone_by)
    completed = datetime.fromisoformat(receipt.completed_at)
    assert (
        timedelta(hours=120, days=13) - timedelta(minutes=1)
        <= gone_by - completed
        <= timedelta(hours=120, days=13, minutes=1)
    )
    assert receipt.location.startswith(f"s3://{BUCKET}/erasure/receipts/")
    kept = s3.get_object(Bucket=BUCKET, Key=receipt.location.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    assert json.loads(kept)["user_id_sha256"] == [hashed_user_id(ERASED), hashed_user_id(HOSTILE)]
    assert b"brien" not in kept and datetime.now(UTC) - completed < timedelta(minutes=5)


def test_retention_in_aws_mode_deletes_through_athena_and_removes_the_old_days_files(aws_stack, moto_aws):
    """One Athena DELETE from the table's oldest recorded_at (read through Glue and S3) to the cutoff;
    the kept summary and CSV of a day before the cutoff are removed with every version, newer ones stay."""
    import dataclasses

    import pyarrow as pa

    from health_pipeline.erasure.retention import apply_retention, retention_cutoff
    from health_pipeline.schema import read_desired_schema

    settings, stack = aws_stack
    settings = dataclasses.replace(settings, retention_days=3)
    stack.settings = settings
    table = glue_table(settings, read_desired_schema(settings.s3tables_module_dir))
    now = datetime.now(UTC)
    cutoff_day, cutoff = retention_cutoff(settings, now)
    oldest = cutoff - timedelta(days=5, hours=2)
    rows = pa.table({"user_id": ["a", "b"], "recorded_at": pa.array([oldest, cutoff + timedelta(hours=1)], pa.timestamp("us")),
                     "fatigue": pa.array([1, 2], pa.int32()), "mood": pa.array([1, 2], pa.int32()),
                     "motivation": pa.array([1, 2], pa.int32()), "flags": pa.array([0, 0], pa.int32())})  # fmt: skip
    table.append(rows.cast(table.schema().as_arrow()))
    old_day, new_day = cutoff_day - timedelta(days=1), cutoff_day
    for day in (old_day, new_day):
        for _ in range(2):  # two versions of each
            stack.summary_store.write(f"daily_health_summary/date={day}/summary.parquet", b"PAR1")
            stack.export_store.write(export_key(day), b"date,user_id\n")
    s3, sent = moto_aws["s3"], moto_aws["sent"]
    sent.clear()
    preset_athena_results(moto_aws["endpoint"], [["rows"]])

    outcome = apply_retention(stack, settings, now)

    [delete] = sent
    assert delete["QueryString"] == with_rendered(load_sql("retention_delete"), window_start=oldest, window_end=cutoff)
    assert f"recorded_at >= {render_value(oldest)} AND recorded_at < {render_value(cutoff)}" in delete["QueryString"]
    assert "ExecutionParameters" not in delete  # Athena takes none in a DELETE
    assert outcome.cutoff_day == cutoff_day and outcome.days_removed == [old_day.isoformat()]
    for key, gone in (("exports/" + export_key(old_day), True), ("exports/" + export_key(new_day), False)):
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
        assert (len(versions) == 0) is gone and (gone or len(versions) == 2)
    summaries = s3.list_object_versions(Bucket=BUCKET, Prefix="athena-results/summaries/").get("Versions", [])
    assert {v["Key"].split("/")[-2] for v in summaries} == {f"date={new_day}"}
