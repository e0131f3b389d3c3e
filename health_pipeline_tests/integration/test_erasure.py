"""Erasing people (local mode): after `health-pipeline erase`, an independent read of the table, of every
file under the warehouse, of every snapshot a reader can open, of the CSVs, kept summaries, spool and
error output finds nothing of theirs, and everything of everyone else is as it was."""

import base64
import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.table import StaticTable

from health_pipeline.demo import generate_records
from health_pipeline.engines.local import LocalStack
from health_pipeline.erasure import erase
from health_pipeline.erasure.receipt import hashed_user_id
from health_pipeline.quality.snapshots import new_data, snapshots_after
from health_pipeline.settings import Settings
from health_pipeline.summary.days import export_key, read_summary_parquet, summary_key
from health_pipeline_tests.support import GOOD, deliver, jsonl_line, materialize, run_cli

DAYS = [date(2026, 11, 20) + timedelta(days=n) for n in range(4)]
# Quotes, SQL, unicode and 10 kB: erased exactly, never as SQL text.
HOSTILE = "o'brien\"); DELETE FROM health_records; -- 患者🙂" + "x" * 10_000
ERASED = ["user-0003", HOSTILE]
NEAR = ["user-00031", "o'brien", "user-0003 "]  # look-alikes that must stay
SUMMARY = ["daily_health_summary", "daily_summary_csv"]


def _records() -> list[dict]:
    records = list(generate_records(24, DAYS, Settings().zone, seed=5))
    hostile = [{**r, "user_id": HOSTILE} for r in records if r["user_id"] == "user-0007"]
    near = [{**r, "user_id": uid} for r in records if r["user_id"] == "user-0009" for uid in NEAR]
    return records + hostile + near


def _table_rows(stack: LocalStack) -> list[tuple]:
    """Every row of the table as an independent reader sees it (the current metadata file, a fresh scan)."""
    table = stack.table.read()
    rows = table.scan().to_arrow().sort_by([("user_id", "ascending"), ("recorded_at", "ascending")])
    return [tuple(row.values()) for row in rows.to_pylist()]


def _csv_lines(exports: Path, day: date) -> list[bytes]:
    return (exports / export_key(day)).read_bytes().splitlines(keepends=True)


def _mine(line: bytes) -> bool:
    return next(csv.reader([line.decode()]))[1] in ERASED


def _holds_hostile(data: bytes) -> bool:
    """The hostile id's first 16 characters (what a manifest keeps as a string bound) or its unicode part."""
    return HOSTILE[:16].encode() in data or "患者🙂xxxx".encode() in data


def _setup(tmp_path) -> tuple[Settings, LocalStack]:
    settings = Settings(home=tmp_path / "home", start_date=DAYS[0].isoformat())
    stack = LocalStack(settings)
    assert not deliver(stack, _records()).rejected
    for day in DAYS:
        assert materialize(settings, SUMMARY, partition_key=day.isoformat()).success
    # Rejected records of an erased person and of someone else, and an unparseable line naming one.
    rejected = [
        {**GOOD, "user_id": "user-0003", "fatigue": 99},
        {**GOOD, "user_id": "user-0004", "fatigue": 99},
    ]
    lines = [(f"r:{n}", jsonl_line(r)) for n, r in enumerate(rejected)]
    lines.append(("r:2", b'{"user_id": "user-0003", "recorded_at": \n'))
    from health_pipeline.delivery.producer import send_lines

    report = send_lines(stack.delivery_stream, stack.desired_schema(), lines)
    assert len(report.rejected) == 3
    # An accepted record still in the spool (not flushed) when the request comes.
    spooled = {**GOOD, "user_id": HOSTILE, "recorded_at": "2026-11-22T10:00:00+09:00"}
    send_lines(stack.delivery_stream, stack.desired_schema(), [("s:0", jsonl_line(spooled))])
    assert stack.delivery_stream.segments()
    return settings, stack


def test_erasing_two_people_removes_them_everywhere_and_changes_nothing_else(tmp_path, cli_env):
    settings, stack = _setup(tmp_path)
    exports = settings.home / "exports"
    others_before = [row for row in _table_rows(stack) if row[0] not in ERASED]
    csv_before = {day: _csv_lines(exports, day) for day in DAYS}
    assert all(any(_mine(line) for line in lines) for lines in csv_before.values())
    expected_rows = sum(1 for r in _records() if r["user_id"] in ERASED) + 1  # + the spooled one
    before_snapshot = stack.table.load().current_snapshot().snapshot_id

    files = [path for path in settings.home.rglob("*") if path.is_file()]
    assert any(_holds_hostile(path.read_bytes()) for path in files)  # so the check below can fail
    cli_env.update(HEALTH_PIPELINE_START_DATE=DAYS[0].isoformat())
    done = run_cli(cli_env, "erase", "--user", ERASED[0], "--user", HOSTILE, "--reason", "APPI request 42")
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    receipt = json.loads(done.stdout)

    # The table: none of theirs, everyone else's rows exactly as before (an independent read).
    after = _table_rows(stack)
    assert not [row for row in after if row[0] in ERASED]
    assert after == others_before
    assert {row[0] for row in after} >= set(NEAR)
    # Every data file on disk, read with pyarrow alone: no file holds their rows any more.
    for path in (settings.warehouse_dir).rglob("*.parquet"):
        users = pq.read_table(path, columns=["user_id"])["user_id"]
        assert not pc.any(pc.is_in(users, value_set=__import__("pyarrow").array(ERASED))).as_py(), path
    # No file under the home holds the hostile id's bytes, nor its first 16 characters (what Iceberg
    # keeps of a string as a column bound in a manifest): data, manifests, metadata, CSVs, receipts.
    for path in settings.home.rglob("*"):
        assert not (path.is_file() and _holds_hostile(path.read_bytes())), path
    # No snapshot a reader can time-travel to holds them: each snapshot of each metadata file left.
    table = stack.table.load()
    for metadata in (settings.warehouse_dir).rglob("*.metadata.json"):
        static = StaticTable.from_metadata(str(metadata))
        for snapshot in static.metadata.snapshots:
            try:
                rows = static.scan(snapshot_id=snapshot.snapshot_id, selected_fields=("user_id",)).to_arrow()
            except FileNotFoundError:  # its manifest list or files are deleted: nothing to travel to
                continue
            assert not set(rows["user_id"].to_pylist()) & set(ERASED)
    assert len(table.metadata.snapshots) == 1

    # CSVs: their lines gone, every other line byte-identical; each file as a normal run writes it.
    for day in DAYS:
        lines = _csv_lines(exports, day)
        assert not any(_mine(line) for line in lines)
        assert lines == [line for line in csv_before[day] if not _mine(line)]
    erased_bytes = {day: (exports / export_key(day)).read_bytes() for day in DAYS}
    assert materialize(settings, SUMMARY, partition_key=DAYS[1].isoformat()).success
    assert (exports / export_key(DAYS[1])).read_bytes() == erased_bytes[DAYS[1]]
    # Kept summaries, spool, error output: no line of theirs; the other person's rejection stays.
    for day in DAYS:
        rows, _ = read_summary_parquet(stack.summary_store.read(summary_key(day)))
        assert not set(rows["user_id"].to_pylist()) & set(ERASED)
    assert not stack.delivery_stream.segments()
    documents = [json.loads(path.read_text()) for path in stack.delivery_stream.errors.documents()]
    raws = [base64.b64decode(doc["rawData"]) for doc in documents]
    assert len(raws) == 1 and b"user-0004" in raws[0]

    # The receipt: what was done, the ids only hashed, no health value.
    assert receipt["user_id_sha256"] == [hashed_user_id(uid) for uid in ERASED]
    assert receipt["reason"] == "APPI request 42"
    assert receipt["rows_deleted"]["health_records"] == expected_rows
    assert receipt["rows_deleted"]["error_output"] == 2
    assert receipt["rows_deleted"]["daily_summary_csv"] == sum(
        1 for lines in csv_before.values() for line in lines if _mine(line)
    )
    assert receipt["days_reexported"] == [day.isoformat() for day in DAYS]
    assert datetime.fromisoformat(receipt["bytes_gone_by"]) <= datetime.fromisoformat(receipt["completed_at"])
    kept = Path(done.stderr.decode().strip().splitlines()[-1].removeprefix("receipt kept at "))
    assert kept.parent.parent == settings.home / "erasure" / "receipts"
    text = kept.read_text()
    assert json.loads(text) == receipt
    assert "user-0003" not in text and "brien" not in text and "fatigue" not in text

    # The new-data sensor sees no late data in the erasure's commits.
    assert all(not found.days for found in new_data(table, snapshots_after(table, before_snapshot), settings.zone))


def test_a_later_record_of_an_erased_person_is_accepted_and_a_second_erasure_finds_nothing(tmp_path):
    settings = Settings(home=tmp_path / "home", start_date=DAYS[0].isoformat())
    stack = LocalStack(settings)
    assert not deliver(stack, list(generate_records(12, DAYS[:2], settings.zone, seed=2))).rejected
    first = erase(stack, settings, ["user-0001"])
    assert first.rows_deleted["health_records"] > 0
    later = {**GOOD, "user_id": "user-0001", "recorded_at": "2026-11-21T09:00:00+09:00"}
    assert not deliver(stack, [later]).rejected
    assert [row for row in _table_rows(stack) if row[0] == "user-0001"]
    second = erase(stack, settings, ["user-0001"])
    assert second.rows_deleted["health_records"] == 1
    third = erase(stack, settings, ["user-0001", "nobody"])
    assert third.rows_deleted["health_records"] == 0 and third.days_reexported == []


def test_erase_without_a_user_is_a_usage_error(cli_env):
    done = run_cli(cli_env, "erase")
    assert done.returncode == 2 and b"--user" in done.stderr
    done = run_cli(cli_env, "erase", "--user", "")
    assert done.returncode == 2 and b"empty user id" in done.stderr


def test_an_erasure_waits_for_a_maintenance_commit_in_flight(tmp_path):
    """Erasure takes the table's one commit lock, which table maintenance holds for each of its commits."""
    import threading
    import time

    from health_pipeline.engines.local.table import flocked

    settings = Settings(home=tmp_path / "home", start_date=DAYS[0].isoformat())
    stack = LocalStack(settings)
    assert not deliver(stack, list(generate_records(12, DAYS[:1], settings.zone, seed=3))).rejected
    receipts = []
    with flocked(stack.delivery_stream.commit_lock):  # as LocalTableMaintenance.run holds it
        worker = threading.Thread(target=lambda: receipts.append(erase(LocalStack(settings), settings, ["user-0001"])))
        worker.start()
        time.sleep(2)
        assert worker.is_alive() and not receipts
        assert "user-0001" in {row[0] for row in _table_rows(stack)}
    worker.join(timeout=60)
    assert receipts and receipts[0].rows_deleted["health_records"] > 0
    assert "user-0001" not in {row[0] for row in _table_rows(stack)}
