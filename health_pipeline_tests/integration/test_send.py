"""`health-pipeline send` / `flush` on the local delivery stream, through the real command."""

import base64
import json

from health_pipeline.engines.local.delivery_stream import SEGMENT_PROPERTY
from health_pipeline_tests.support import GOOD, jsonl, run_cli


def error_documents(stack):
    return [json.loads(p.read_text()) for p in stack.delivery_stream.errors.documents()]


def test_a_malformed_line_never_stops_a_send(tmp_path, cli_env, stack):
    lines = [
        jsonl([GOOD]),
        b"{this is not json\n",
        jsonl([{**GOOD, "user_id": "u2", "recorded_at": "2026-11-20T09:00:00"}]),
        jsonl([{**GOOD, "user_id": "u3", "fatigue": 12}]),
        jsonl([{**GOOD, "user_id": "u4"}]),
    ]
    source = tmp_path / "records.jsonl"
    source.write_bytes(b"".join(lines))
    sent = run_cli(cli_env, "send", str(source))
    assert sent.returncode == 1, sent.stderr
    assert b"accepted 2, rejected 3" in sent.stdout
    assert f"{source}:2".encode() in sent.stderr and b"no UTC offset" in sent.stderr

    documents = error_documents(stack)
    assert sorted(d["errorCode"] for d in documents) == [
        "Producer.InvalidJson",
        "Producer.ScoreOutOfRange",
        "Producer.TimestampWithoutOffset",
    ]
    for document in documents:
        assert document["errorMessage"] and document["arrivalTime"]
        assert base64.b64decode(document["rawData"]) in lines

    flushed = run_cli(cli_env, "flush")
    assert flushed.returncode == 0, flushed.stderr
    rows = stack.table.load().scan(selected_fields=("user_id",)).to_arrow()
    assert sorted(rows["user_id"].to_pylist()) == ["u1", "u4"]


def test_an_all_valid_send_exits_0_and_stdin_works(cli_env, stack):
    sent = run_cli(cli_env, "send", "-", "--flush", stdin=jsonl([GOOD, {**GOOD, "user_id": "ü"}]))
    assert sent.returncode == 0, sent.stderr
    assert stack.table.load().scan().to_arrow().num_rows == 2


def test_usage_and_setup_errors_exit_2(cli_env, tmp_path):
    assert run_cli(cli_env, "send").returncode == 2
    missing = run_cli(cli_env, "send", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and b"no such file" in missing.stderr
    bad_mode = run_cli({**cli_env, "HEALTH_PIPELINE_MODE": "cloud"}, "send", "-", stdin=b"")
    assert bad_mode.returncode == 2 and b"HEALTH_PIPELINE_MODE" in bad_mode.stderr


def test_raw_send_leaves_only_the_streams_checks(cli_env, stack):
    records = [
        {**GOOD, "fatigue": 42},  # fits the int column: the stream takes it
        {**GOOD, "extra": 1},  # not a column: the stream rejects it, as Firehose does
        {**GOOD, "mood": "high"},  # wrong type
    ]
    sent = run_cli(cli_env, "send", "--raw", "--flush", "-", stdin=jsonl(records))
    assert sent.returncode == 1
    assert sorted(d["errorCode"] for d in error_documents(stack)) == ["Stream.TypeMismatch", "Stream.UnknownField"]
    assert stack.table.load().scan().to_arrow()["fatigue"].to_pylist() == [42]


def test_the_stream_buffers_until_size_or_age_then_one_snapshot_per_buffer(stack):
    from health_pipeline.delivery.producer import send_lines

    clock = [1_000_000.0]
    delivery = stack.delivery_stream
    delivery.clock = lambda: clock[0]
    desired = stack.desired_schema()
    send_lines(delivery, desired, [("t:1", jsonl([GOOD]))])
    assert not stack.table.load().metadata.snapshots  # buffered, not delivered
    assert delivery.backlog()[0] == 1
    clock[0] += 301  # the 300 s buffer interval passes: the next put delivers
    send_lines(delivery, desired, [("t:2", jsonl([{**GOOD, "user_id": "u2"}]))])
    snapshots = stack.table.load().metadata.snapshots
    assert len(snapshots) == 1  # the aged buffer, with what joined it, in one commit
    assert snapshots[0].summary.additional_properties[SEGMENT_PROPERTY].startswith("segment-")
    assert stack.table.load().scan().to_arrow().num_rows == 2
    send_lines(delivery, desired, [("t:3", jsonl([{**GOOD, "user_id": "u3"}]))])
    assert len(stack.table.load().metadata.snapshots) == 1 and delivery.backlog()[0] == 1
    delivery.buffer_bytes = 10  # full buffers are delivered at once: u3's, then u4's
    send_lines(delivery, desired, [("t:4", jsonl([{**GOOD, "user_id": "u4"}]))])
    assert len(stack.table.load().metadata.snapshots) == 3
    assert delivery.backlog() == (0, 0, None)
    assert stack.table.load().scan().to_arrow().num_rows == 4


def test_a_segment_committed_before_a_crash_is_not_delivered_twice(stack):
    from health_pipeline.delivery.producer import send_lines

    desired = stack.desired_schema()
    send_lines(stack.delivery_stream, desired, [("t:1", jsonl([GOOD]))])
    segment = stack.delivery_stream.segments()[0]
    kept = segment.read_bytes()
    stack.delivery_stream.flush()
    segment.write_bytes(kept + b'{"user_id": "torn"')  # as if the process died after the commit, mid-write
    stack.delivery_stream.flush()
    assert stack.table.load().scan().to_arrow().num_rows == 1
