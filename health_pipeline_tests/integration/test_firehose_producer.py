"""The producer against Firehose: moto over HTTP for the happy path, botocore's Stubber (and a fake
client) for the failures moto cannot produce."""

import base64
import json
from collections import Counter

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from health_pipeline import cli
from health_pipeline.delivery.line_blocks import blocks_from_pairs
from health_pipeline.delivery.records import encode_record, parse_line, validate_record
from health_pipeline.delivery.stream import ErrorOutput, SendListener
from health_pipeline.engines.aws import AwsStack
from health_pipeline.engines.aws.delivery_stream import (
    PUT_BYTES_MAX,
    DeadLetterFile,
    DeadLetters,
    FirehoseDeliveryStream,
    FirehoseSetupError,
    PutRetryBackoff,
)
from health_pipeline.schema import read_desired_schema
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support import jsonl, run_cli

SCHEMA = read_desired_schema(PROJECT_ROOT / "terraform" / "modules" / "s3tables")
REGION = "ap-northeast-1"
OFFSETS = ("Z", "+09:00", "-05:00")


def record(n: int) -> dict:
    user = f"利用者-{n}" if n % 7 == 0 else f"user-{n}"
    return {
        "user_id": user,
        "recorded_at": f"2026-11-20T{n % 24:02d}:{n % 60:02d}:00.{n:06d}{OFFSETS[n % 3]}",
        "fatigue": n % 11,
        "mood": (n * 3) % 11,
        "motivation": (n * 7) % 11,
        "flags": n % 16,
    }


def raw_line(n: int) -> bytes:
    return jsonl([record(n)])


def stream_for(client, tmp_path, **options) -> FirehoseDeliveryStream:
    return FirehoseDeliveryStream(
        client,
        "hp-test",
        ErrorOutput(tmp_path / "errors"),
        DeadLetterFile(tmp_path / "dead-letter", "hp-test"),
        **options,
    )


def test_a_send_of_more_than_500_records_arrives_in_s3_exactly_once_each(aws, cli_env, tmp_path):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="hp-firehose", CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("firehose", region_name=REGION).create_delivery_stream(
        DeliveryStreamName="hp-test",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::hp-firehose",
            "Prefix": "raw/",
        },
    )
    source = tmp_path / "records.jsonl"
    source.write_bytes(b"".join(raw_line(n) for n in range(1234)))
    env = {**cli_env, "HEALTH_PIPELINE_MODE": "aws", "HEALTH_PIPELINE_FIREHOSE_STREAM": "hp-test"}
    sent = run_cli(env, "send", str(source))
    assert sent.returncode == 0, sent.stderr
    assert b"accepted 1234, rejected 0" in sent.stdout

    bodies = [
        s3.get_object(Bucket="hp-firehose", Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket="hp-firehose", Prefix="raw/")["Contents"]
    ]
    assert len(bodies) == 3  # PutRecordBatch calls of 500, 500 and 234 records
    assert all(body.endswith(b"\n") for body in bodies)
    delivered = Counter(line + b"\n" for body in bodies for line in body.split(b"\n")[:-1])
    expected = Counter(encode_record(validate_record(parse_line(raw_line(n)), SCHEMA)) for n in range(1234))
    assert delivered == expected and set(delivered.values()) == {1}
    assert "利用者-7".encode() in b"".join(bodies)  # UTF-8, not \\u escapes


def test_partial_failures_and_throttling_resend_only_what_failed_then_dead_letter(tmp_path):
    client = boto3.client("firehose", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    lines = [raw_line(n) for n in range(600)]

    def expect(indices, failures=(), error=None):
        params = {"DeliveryStreamName": "hp-test", "Records": [{"Data": lines[i]} for i in indices]}
        if error:
            stub.add_client_error(
                "put_record_batch", service_error_code=error, http_status_code=400, expected_params=params
            )
            return
        responses = [
            {"ErrorCode": failures[i], "ErrorMessage": "try again"} if i in failures else {"RecordId": f"id{i}"}
            for i in indices
        ]
        stub.add_response("put_record_batch", {"FailedPutCount": len(failures), "RequestResponses": responses}, params)

    expect(range(500), {7: "ServiceUnavailableException", 250: "ServiceUnavailableException", 499: "InternalFailure"})
    expect([7, 250, 499], error="ThrottlingException")  # the whole call throttled: the same three again
    expect([7, 250, 499], {250: "InternalFailure"})
    expect([250], {250: "InternalFailure"})
    expect([250], {250: "ServiceUnavailableException"})  # the fifth attempt: 250 goes to the dead-letter file
    expect(range(500, 600))
    sleeps: list[float] = []
    acks: list[tuple[int, str]] = []
    stream = stream_for(
        client, tmp_path, sleep=sleeps.append, retry=PutRetryBackoff(max_attempts=5, base_delay_s=0.2), draw=lambda: 1.0
    )
    with stub:
        report = stream.send(
            blocks_from_pairs((f"f:{n + 1}", line) for n, line in enumerate(lines)),
            None,
            SendListener(on_ack=lambda n, where: acks.append((n, where))),
        )
        stub.assert_no_pending_responses()  # every call made, with exactly the records expected

    assert report.accepted == 599 and report.dead_lettered == 1 and not report.complete
    assert sleeps == [0.2, 0.4, 0.8, 1.6]  # exponential (the jitter draw pinned to its maximum)
    assert acks == [(499, "f:500"), (599, "f:600")]
    (letter,) = [json.loads(line) for line in report.dead_letter_path.read_text().splitlines()]
    assert base64.b64decode(letter["data"]) == lines[250] and letter["where"] == "f:251"
    assert letter["errorCodes"] == [
        "ServiceUnavailableException",
        "ThrottlingException",
        "InternalFailure",
        "InternalFailure",
        "ServiceUnavailableException",
    ]


class FlakyFirehose:
    """Fails each entry (and sometimes a whole call) by a seeded plan; remembers what it accepted."""

    def __init__(self, plan):
        self.plan = iter(plan)
        self.accepted: list[bytes] = []
        self.sent_after_success: list[bytes] = []

    def put_record_batch(self, DeliveryStreamName, Records):
        from botocore.exceptions import ClientError

        if next(self.plan, 0) == 3:
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailableException", "Message": "slow down"}}, "PutRecordBatch"
            )
        responses = []
        for entry in Records:
            if entry["Data"] in self.accepted:
                self.sent_after_success.append(entry["Data"])
            if next(self.plan, 0) == 1:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"})
            else:
                self.accepted.append(entry["Data"])
                responses.append({"RecordId": "x"})
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=3000), st.integers(1, 1300))
def test_every_record_is_delivered_once_or_dead_lettered_never_lost(plan, count):
    client = FlakyFirehose(plan)
    dead = DeadLetters("hp-test")
    stream = FirehoseDeliveryStream(
        client, "hp-test", None, dead, sleep=lambda s: None, retry=PutRetryBackoff(max_attempts=4)
    )
    lines = [raw_line(n) for n in range(count)]
    report = stream.send(blocks_from_pairs((f"f:{n}", line) for n, line in enumerate(lines)), None)
    lettered = [base64.b64decode(d["data"]) for d in dead.records]
    assert not client.sent_after_success
    assert Counter(client.accepted) + Counter(lettered) == Counter(lines)
    assert report.accepted == len(client.accepted) and report.dead_lettered == len(lettered)


def test_a_record_over_1000_kib_is_rejected_with_its_size_and_not_sent(tmp_path):
    client = FlakyFirehose([])
    huge = jsonl([{**record(1), "user_id": "x" * 1_100_000}])
    report = stream_for(client, tmp_path).send(
        blocks_from_pairs([("f:1", raw_line(0)), ("f:2", huge), ("f:3", raw_line(2))]), SCHEMA
    )
    assert [r.code for r in report.rejected] == ["Producer.RecordTooLarge"]
    assert f"{len(encode_record(validate_record(parse_line(huge), SCHEMA))):,} bytes" in report.rejected[0].reason
    assert len(client.accepted) == 2 and report.accepted == 2


def test_batches_stay_within_500_records_and_4_mib():
    calls = []

    class Recorder:
        def put_record_batch(self, DeliveryStreamName, Records):
            calls.append([len(r["Data"]) for r in Records])
            return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"} for _ in Records]}

    big = [jsonl([{"pad": "y" * 900_000, "n": n}]) for n in range(9)]
    small = [raw_line(n) for n in range(1200)]
    pairs = [(f"f:{n}", line) for n, line in enumerate(big + small)]
    report = FirehoseDeliveryStream(Recorder(), "hp-test", None, DeadLetters("hp-test")).send(
        blocks_from_pairs(pairs), None
    )
    assert report.accepted == 1209
    assert all(len(call) <= 500 and sum(call) <= PUT_BYTES_MAX for call in calls)
    assert [len(call) for call in calls] == [4, 4, 500, 500, 201]  # 4 x 900 KB fill 4 MiB; then 500 a call


def test_send_exits_1_and_says_how_many_were_dead_lettered_and_where(monkeypatch, tmp_path, capsys):
    client = FlakyFirehose([1] * 10_000)  # every entry fails, every time
    monkeypatch.setenv("HEALTH_PIPELINE_MODE", "aws")
    monkeypatch.setenv("HEALTH_PIPELINE_HOME", str(tmp_path / "home"))

    def delivery_stream(stack: AwsStack) -> FirehoseDeliveryStream:  # the stack's own, on the flaky client
        s = stack.settings
        errors, dead = (
            ErrorOutput(s.delivery_dir / "errors"),
            DeadLetterFile(s.delivery_dir / "dead-letter", s.firehose_stream),
        )
        return FirehoseDeliveryStream(client, s.firehose_stream, errors, dead, sleep=lambda seconds: None)

    monkeypatch.setattr(AwsStack, "delivery_stream", property(delivery_stream))
    source = tmp_path / "records.jsonl"
    source.write_bytes(b"".join(raw_line(n) for n in range(3)) + b"{not json\n")
    assert cli.main(["send", str(source)]) == 1
    out = capsys.readouterr().out
    assert "accepted 0, rejected 1" in out
    assert "3 records were not delivered after every retry (ServiceUnavailableException x3)" in out
    (path,) = (tmp_path / "home" / "delivery" / "dead-letter").iterdir()
    assert str(path) in out and len(path.read_text().splitlines()) == 3


def test_a_stream_that_does_not_exist_is_a_setup_error_before_anything_is_sent(aws, tmp_path):
    client = boto3.client("firehose", region_name=REGION)
    stream = stream_for(client, tmp_path)
    with pytest.raises(FirehoseSetupError, match="ResourceNotFoundException.*HEALTH_PIPELINE_FIREHOSE_STREAM"):
        stream.send(blocks_from_pairs([("f:1", raw_line(1))]), SCHEMA)
    assert not (tmp_path / "dead-letter").exists()
