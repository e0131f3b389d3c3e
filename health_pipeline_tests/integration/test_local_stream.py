"""The local delivery stream: hostile input, crashes, restarts and concurrent senders lose nothing."""

import base64
import io
import json
import multiprocessing
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from health_pipeline.delivery.json_lines import check_line
from health_pipeline.delivery.producer import send_file, send_lines
from health_pipeline.delivery.records import RecordRejected
from health_pipeline.engines.local import LocalStack
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.settings import PROJECT_ROOT, Settings
from health_pipeline_tests.support import CLI, GOOD, jsonl, run_cli
from health_pipeline_tests.support.hostile_lines import lines as any_line
from health_pipeline_tests.support.synthetic_records import write_jsonl

ACK = re.compile(rb"acknowledged (\d+) through .*:(\d+)$")


def table_rows(stack: LocalStack) -> list[dict]:
    if not stack.table.exists():
        return []
    return stack.table.load().scan().to_arrow().to_pylist()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(any_line, min_size=50, max_size=70), st.booleans())
def test_fuzzed_hostile_lines_each_rejected_with_a_reason_and_every_valid_line_delivered(line_list, raw):
    # 25 examples x 50-70 lines: more than 1,000 generated lines, the last of each without its "\n".
    data = b"".join(line_list)[:-1]
    with tempfile.TemporaryDirectory() as home:
        stack = LocalStack(Settings(home=Path(home)))
        desired = stack.desired_schema()
        report = send_file(stack.delivery_stream, desired, io.BytesIO(data), "fuzz.jsonl", raw=raw)
        stack.delivery_stream.flush()

        sent = data.split(b"\n")  # as received: the last line has no "\n", the others have theirs
        sent = [line + b"\n" for line in sent[:-1]] + ([sent[-1]] if sent[-1] else [])  # a final "\n" ends the file
        expected_rows, expected_errors = [], {}
        for number, line in enumerate(sent, start=1):
            try:
                expected_rows.append(check_line(line, desired, producer=not raw)[0])
            except RecordRejected as err:
                expected_errors[f"fuzz.jsonl:{number}"] = (err.code, line)

        documents = [json.loads(path.read_text(encoding="utf-8")) for path in stack.delivery_stream.errors.documents()]
        assert report.accepted == len(expected_rows) and len(report.rejected) == len(expected_errors)
        assert len(documents) == len(expected_errors)
        for document in documents:
            code, line = expected_errors[document["where"]]
            assert document["errorCode"] == ("Stream." if raw else "Producer.") + code
            assert document["errorMessage"] and document["arrivalTime"]
            assert base64.b64decode(document["rawData"]) == line
        key = lambda row: json.dumps(row, sort_keys=True, default=str)  # noqa: E731
        assert sorted(map(key, table_rows(stack))) == sorted(map(key, expected_rows))


def test_a_spool_written_by_one_process_is_delivered_by_another(settings):
    first = LocalStack(settings)
    report = send_lines(
        first.delivery_stream,
        first.desired_schema(),
        [(f"t:{n}", jsonl([{**GOOD, "user_id": f"u{n}"}])) for n in range(50)],
    )
    assert report.accepted == 50 and not first.table.load().metadata.snapshots
    second = LocalStack(settings)  # no rows in memory: it reads the segment back
    assert len(second.delivery_stream.flush()) == 1
    assert sorted(row["user_id"] for row in table_rows(second)) == sorted(f"u{n}" for n in range(50))
    assert first.delivery_stream.flush() == []  # the first one's memory of the segment is not used twice


def test_a_column_the_table_lacks_is_refused_by_the_stream_even_when_the_producer_accepts_it(settings):
    # Terraform declares `sleep`, the live table does not have it yet: Firehose would refuse the record.
    stack = LocalStack(settings)
    live = stack.desired_schema()
    stack.table.load_or_create(live)
    desired = TableSchema(live.columns + (Column("sleep", "int"),))
    stack.delivery_stream.desired_schema = lambda: desired
    report = send_lines(
        stack.delivery_stream, desired, [("t:1", jsonl([{**GOOD, "sleep": 7}])), ("t:2", jsonl([GOOD]))]
    )
    assert report.accepted == 1 and [r.code for r in report.rejected] == ["Stream.UnknownField"]
    assert "'sleep'" in report.rejected[0].reason


def _open_table(home: str) -> int:
    stack = LocalStack(Settings(home=Path(home)))
    return stack.table.load_or_create(stack.desired_schema()).metadata.table_uuid.int


def test_processes_meeting_an_empty_home_at_once_create_one_table(tmp_path):
    """Sends, flushes and Dagster runs may all be first: SQLite catalog set-up and table creation
    race (CI once saw a send fail this way); every process must get the same table."""
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        uuids = pool.map(_open_table, [str(tmp_path / "home")] * 6)
    assert len(set(uuids)) == 1


def test_concurrent_sends_deliver_every_record_exactly_once(tmp_path, cli_env, stack):
    files = [write_jsonl(tmp_path / f"p{n}.jsonl", 60_000, prefix=f"p{n}-", unique_users=True) for n in range(2)]
    env = {**cli_env}
    senders = [
        subprocess.Popen(
            [*CLI, "send", str(f), "--flush"], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for f in files
    ]
    for sender in senders:
        out, err = sender.communicate(timeout=120)
        assert sender.returncode == 0, err.decode()
    counts = Counter(row["user_id"] for row in table_rows(stack))
    assert len(counts) == 120_000 and set(counts.values()) == {1}


def test_kill_9_at_any_moment_loses_no_acknowledged_record(tmp_path, cli_env, stack):
    """`send --progress` prints `acknowledged N through FILE:LINE` only once those lines are fsynced.
    Three sends run at once and are killed (SIGKILL) at different moments: right after an fsync,
    while the next block is checked and spooled, while full segments are committed; then a flush is
    killed part-way. The last flush must leave every acknowledged line in the table, and none twice."""
    plans = {0: (1, 0.0), 1: (1, 0.2), 2: (2, 0.05)}  # run: (kill after this many acks, then wait s)
    sources = {
        run: write_jsonl(tmp_path / f"run{run}.jsonl", 160_000, prefix=f"r{run}-", unique_users=True) for run in plans
    }
    through = {run: 0 for run in plans}
    said: dict[int, list[str]] = {run: [] for run in plans}
    outcome = {}

    def killed_send(run: int) -> None:
        acks_before_kill, delay = plans[run]
        process = subprocess.Popen(
            [*CLI, "send", str(sources[run]), "--progress"],
            env=cli_env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        acks = 0
        for line in process.stderr:
            match = ACK.search(line.rstrip())
            if not match:
                said[run].append(line.rstrip())
            if match:
                acks, through[run] = acks + 1, int(match.group(2))
                if acks == acks_before_kill:
                    threading.Timer(delay, process.send_signal, (signal.SIGKILL,)).start()
        outcome[run] = process.wait(timeout=120)

    senders = [threading.Thread(target=killed_send, args=(run,)) for run in plans]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert outcome == {run: -signal.SIGKILL for run in plans}, (outcome, said)  # each was killed mid-send
    left = stack.delivery_stream.backlog()[0]
    assert left > 1, "the killed sends should have left segments in the spool"
    data_files = lambda: len(list(stack.settings.warehouse_dir.rglob("*.parquet")))  # noqa: E731
    written = data_files()
    flush = subprocess.Popen(
        [*CLI, "flush"], env=cli_env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while data_files() == written and flush.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    flush.send_signal(signal.SIGKILL)  # as its first data files land: before (or just after) its commit
    assert flush.wait(timeout=60) == -signal.SIGKILL
    final = run_cli(cli_env, "flush")
    assert final.returncode == 0, final.stderr

    counts = Counter(row["user_id"] for row in table_rows(stack))
    acknowledged = {f"r{run}-{n}" for run, last in through.items() for n in range(1, last + 1)}
    assert all(through.values()), through
    missing = acknowledged - counts.keys()
    assert not missing, f"{len(missing)} acknowledged lines lost, e.g. {sorted(missing)[:3]}"
    assert max(counts.values()) == 1, "a line was delivered twice"
    assert {user.split("-")[0] for user in counts} <= {f"r{run}" for run in plans}
    assert stack.delivery_stream.backlog()[0] == 0
