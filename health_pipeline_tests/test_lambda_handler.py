"""The Lambda example: a fake event in, records in S3 through moto's Firehose, a response per record."""

import base64
import json

import boto3
import pytest

from health_pipeline.lambda_handler import event_lines, make_handler
from health_pipeline.settings import load_settings
from health_pipeline_tests.conftest import GOOD

REGION = "ap-northeast-1"
COLUMNS = [
    ("user_id", "string"),
    ("recorded_at", "timestamp"),
    ("fatigue", "int"),
    ("mood", "int"),
    ("motivation", "int"),
    ("flags", "int"),
]


@pytest.fixture
def deployed(aws, monkeypatch):
    """What the Lambda finds in the account: the Glue table and a stream writing to S3."""
    monkeypatch.setenv("HEALTH_PIPELINE_MODE", "aws")
    monkeypatch.setenv("HEALTH_PIPELINE_FIREHOSE_STREAM", "hp-lambda")
    settings = load_settings()
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": settings.database})
    glue.create_table(
        DatabaseName=settings.database,
        TableInput={
            "Name": settings.table,
            "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in COLUMNS]},
        },
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="hp-lambda", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("firehose", region_name=REGION).create_delivery_stream(
        DeliveryStreamName="hp-lambda",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/f",
            "BucketARN": "arn:aws:s3:::hp-lambda",
        },
    )


def delivered() -> list[dict]:
    s3 = boto3.client("s3", region_name=REGION)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="hp-lambda").get("Contents", [])]
    data = b"".join(s3.get_object(Bucket="hp-lambda", Key=key)["Body"].read() for key in keys)
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def test_the_handler_validates_encodes_and_puts_the_events_records(deployed):
    handler = make_handler()
    event = {
        "records": [GOOD, {**GOOD, "user_id": "利用者", "recorded_at": "2026-11-20T00:00:00Z"}, {**GOOD, "mood": 11}]
    }
    response = handler(event, None)
    assert response["statusCode"] == 207
    body = json.loads(response["body"])
    assert body["accepted"] == 2 and body["failed"] == []
    assert body["rejected"] == [{"index": 2, "code": "Producer.ScoreOutOfRange", "reason": "mood=11 is outside 0-10"}]
    records = delivered()
    assert [r["user_id"] for r in records] == ["u1", "利用者"]
    assert [r["recorded_at"] for r in records] == [
        "2026-11-19T23:30:00.000000+00:00",
        "2026-11-20T00:00:00.000000+00:00",
    ]


def test_an_api_gateway_body_of_json_lines_is_read_and_a_bad_event_is_a_400(deployed):
    handler = make_handler()
    lines = (json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "user_id": "u2"})).encode()
    response = handler({"body": base64.b64encode(lines).decode(), "isBase64Encoded": True}, None)
    assert response["statusCode"] == 200 and json.loads(response["body"])["accepted"] == 2
    assert handler({"detail": "no records"}, None)["statusCode"] == 400


def test_event_lines_reads_records_arrays_and_json_lines():
    assert [where for where, _ in event_lines({"records": [GOOD, GOOD]})] == ["record 0", "record 1"]
    assert len(event_lines({"body": json.dumps([GOOD, GOOD, GOOD])})) == 3
    assert len(event_lines({"body": json.dumps(GOOD) + "\n\n" + json.dumps(GOOD) + "\n"})) == 2
