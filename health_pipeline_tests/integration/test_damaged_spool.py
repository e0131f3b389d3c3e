"""A spool segment damaged on disk (cut short, or with bytes appended that the stream did not write)
is found at the next send or flush: its intact records are delivered once, each damaged line goes to
the error output with its reason, and the command says so on stderr."""

import base64
import json
from collections import Counter

from health_pipeline.engines.local import LocalStack
from health_pipeline_tests.support import GOOD, jsonl_line, run_cli
from health_pipeline_tests.support.synthetic_records import write_jsonl


def users_in_table(stack: LocalStack) -> Counter:
    return Counter(stack.table.load().scan(selected_fields=("user_id",)).to_arrow()["user_id"].to_pylist())


def error_documents(stack: LocalStack) -> list[dict]:
    return [json.loads(path.read_text()) for path in stack.delivery_stream.errors.documents()]


def the_segment(stack: LocalStack):
    (segment,) = stack.delivery_stream.segments()
    return segment


def test_a_segment_cut_short_delivers_its_whole_lines_and_moves_the_cut_one_aside(tmp_path, cli_env, stack):
    source = write_jsonl(tmp_path / "records.jsonl", 200, prefix="c-", unique_users=True)
    assert run_cli(cli_env, "send", str(source)).returncode == 0
    segment = the_segment(stack)
    data = segment.read_bytes()
    segment.write_bytes(data[:-30])  # the last line loses its end (and its newline)

    flushed = run_cli(cli_env, "flush")
    assert flushed.returncode == 0, flushed.stderr.decode()
    told = flushed.stderr.decode()
    assert f"spool segment {segment.stem}.jsonl: 1 damaged line(s)" in told and "Spool.TornTail" in told, told
    assert users_in_table(stack) == Counter({f"c-{n}": 1 for n in range(1, 200)})
    (document,) = error_documents(stack)
    assert document["errorCode"] == "Spool.TornTail" and "cut short" in document["errorMessage"]
    assert document["where"] == f"spool/{segment.stem}.jsonl:200"  # sealed by the flush
    assert base64.b64decode(document["rawData"]) == data[data.rfind(b"\n", 0, len(data) - 1) + 1 : -30]
    assert stack.delivery_stream.segments() == []


def test_garbage_appended_to_a_segment_is_moved_aside_and_every_record_delivered_once(tmp_path, cli_env, stack):
    first = write_jsonl(tmp_path / "first.jsonl", 200, prefix="g-", unique_users=True)
    second = write_jsonl(tmp_path / "second.jsonl", 100, prefix="h-", unique_users=True)
    assert run_cli(cli_env, "send", str(first)).returncode == 0
    segment = the_segment(stack)
    garbage = [b"\x00\xff not a record\n", b"[1, 2]\n", b'{"user_id": "cut']  # bad UTF-8, not an object, cut short
    with open(segment, "ab") as handle:
        handle.write(b"".join(garbage))

    sent = run_cli(cli_env, "send", str(second))  # it appends to the same segment: the cut line is cut first
    assert sent.returncode == 0, sent.stderr.decode()
    assert "1 damaged line(s)" in sent.stderr.decode() and "Spool.TornTail" in sent.stderr.decode()
    flushed = run_cli(cli_env, "flush")
    assert flushed.returncode == 0, flushed.stderr.decode()
    assert "2 damaged line(s)" in flushed.stderr.decode() and "Spool.CorruptLine" in flushed.stderr.decode()

    expected = {f"g-{n}": 1 for n in range(1, 201)} | {f"h-{n}": 1 for n in range(1, 101)}
    assert users_in_table(stack) == Counter(expected)
    moved = sorted((doc["errorCode"], base64.b64decode(doc["rawData"])) for doc in error_documents(stack))
    assert moved == sorted(
        [("Spool.CorruptLine", garbage[0]), ("Spool.CorruptLine", garbage[1]), ("Spool.TornTail", garbage[2])]
    )
    again = run_cli(cli_env, "flush")
    assert again.returncode == 0 and "damaged" not in again.stderr.decode()
    assert len(error_documents(stack)) == 3


def test_a_damaged_segment_left_after_a_failed_delivery_is_moved_aside_once(tmp_path, stack):
    """The segment is rewritten as its intact lines once its damage is moved aside, so a delivery tried
    again (after a fault, or by a second process) finds nothing more to move."""
    from health_pipeline.delivery.producer import send_lines
    from health_pipeline.engines.local.delivery_stream.damage import read_segment

    lines = [(f"t:{n}", jsonl_line({**GOOD, "user_id": f"d-{n}"})) for n in range(5)]
    assert send_lines(stack.delivery_stream, stack.desired_schema(), lines).accepted == 5
    segment = the_segment(stack)
    with open(segment, "ab") as handle:
        handle.write(b"garbage\n")
    desired = stack.desired_schema()
    stream = stack.delivery_stream
    rows, damaged = read_segment(segment, stream.errors, lambda: desired, desired)
    assert rows.num_rows == 5 and [d.lines for d in damaged] == [1]
    rows, damaged = read_segment(segment, stream.errors, lambda: desired, desired)
    assert rows.num_rows == 5 and damaged == []
    assert len(stream.errors.documents()) == 1
