"""Faults of the machine (a full disk, a read-only file system, an unwritable home, a home that is a
file) end `send` and `flush` with one clear message and exit 2, and lose no acknowledged record: once
the fault is gone, `flush` delivers each acknowledged record once and a re-send from the line named
completes the input. The disk is a real small tmpfs (mounting one needs root)."""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
from health_pipeline_tests.support import run_cli
from health_pipeline_tests.support.other_user import readable_cli
from health_pipeline_tests.support.small_disk import fill, small_disk
from health_pipeline_tests.support.synthetic_records import write_jsonl

ACKNOWLEDGED = re.compile(r"acknowledged: (\d+) records, through (.+):(\d+); re-send from line (\d+)")
PROGRESS = re.compile(r"^acknowledged (\d+) through (.+):(\d+)$", re.M)


def users_in_table(home: Path) -> Counter:
    """Every user_id of the table's current snapshot, read by PyIceberg (not through the stream)."""
    stack = LocalStack(Settings(home=home))
    if not stack.table.exists() or stack.table.load().current_snapshot() is None:
        return Counter()
    return Counter(stack.table.load().scan(selected_fields=("user_id",)).to_arrow()["user_id"].to_pylist())


def spooled(home: Path) -> bytes:
    segments = sorted((home / "delivery" / "spool").glob("segment-*"))
    return b"".join(path.read_bytes() for path in segments)


def parquet_files(home: Path) -> list[Path]:
    return sorted((home / "warehouse").rglob("*.parquet"))


def said_plainly(result: subprocess.CompletedProcess, *phrases: str) -> str:
    """The command's message, checked: exit 2, no traceback, every phrase in it."""
    text = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, text)
    assert "Traceback" not in text, text
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    return text


def test_a_full_disk_ends_send_and_flush_with_what_was_acknowledged_and_loses_nothing(tmp_path, cli_env):
    source = write_jsonl(tmp_path / "records.jsonl", 60_000, prefix="a-", unique_users=True)  # ~6.9 MB
    lines = source.read_bytes().splitlines(keepends=True)
    with small_disk(tmp_path / "disk", "6m") as disk:
        home = disk / "home"
        env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home)}

        # The first 5 MB buffer lands and is sealed; the next one runs out of space part-way.
        sent = run_cli(env, "send", str(source), "--progress")
        text = said_plainly(
            sent, "send could not write to the spool", "No space left on device [ENOSPC]", "df -h", "safe on disk"
        )
        count, where, line, resume = ACKNOWLEDGED.search(text).groups()
        count, line, resume = int(count), int(line), int(resume)
        assert where == str(source) and 0 < count < len(lines) and line == count and resume == count + 1, text
        assert PROGRESS.findall(text)[-1] == (str(count), str(source), str(line))  # the last acknowledgement
        assert f"{count} acknowledged records in" in text
        assert spooled(home) == b"".join(lines[:count])  # exactly the acknowledged lines, none of the rest

        # Flush on the full disk: it fails whole, leaving no data file and no new record in the table.
        filler = fill(disk)
        flushed = run_cli(env, "flush")
        said_plainly(flushed, "health-pipeline flush could not", f"{count} acknowledged records in", "flush` again")
        assert parquet_files(home) == [] and users_in_table(home) == Counter()
        assert spooled(home) == b"".join(lines[:count])

        # Space freed: flush delivers what was acknowledged; the re-send from the line named the rest.
        filler.unlink()
        assert run_cli(env, "flush").returncode == 0
        assert users_in_table(home) == Counter({f"a-{n}": 1 for n in range(1, count + 1)})
        rest = tmp_path / "rest.jsonl"
        rest.write_bytes(b"".join(lines[resume - 1 :]))
        again = run_cli(env, "send", str(rest), "--flush")
        assert again.returncode == 0, again.stderr.decode()
        assert users_in_table(home) == Counter({f"a-{n}": 1 for n in range(1, len(lines) + 1)})


def test_a_read_only_file_system_keeps_the_spool_until_it_is_writable_again(tmp_path, cli_env):
    first = write_jsonl(tmp_path / "first.jsonl", 1000, prefix="f-", unique_users=True)
    second = write_jsonl(tmp_path / "second.jsonl", 10, prefix="s-", unique_users=True)
    with small_disk(tmp_path / "disk", "8m") as disk:
        home = disk / "home"
        env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home)}
        assert run_cli(env, "send", str(first)).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            said_plainly(
                run_cli(env, "send", str(second)),
                "Read-only file system [EROFS]",
                "acknowledged: no record of this send; re-send the whole input",
                "1000 acknowledged records in 1 spool segment(s)",
                "remount it read-write",
            )
            said_plainly(run_cli(env, "flush"), "[EROFS]", "1000 acknowledged records in 1 spool segment(s)")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert run_cli(env, "flush").returncode == 0
        assert users_in_table(home) == Counter({f"f-{n}": 1 for n in range(1, 1001)})


def test_an_unwritable_home_is_told_to_the_user_who_cannot_write_it(tmp_path, cli_env):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user takes root and setpriv")
    base = Path(tempfile.mkdtemp(prefix="unwritable-home-", dir="/tmp"))  # pytest's tmp_path is root's alone
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir()
        source = write_jsonl(base / "records.jsonl", 100, prefix="n-", unique_users=True)
        env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home), "HOME": str(base)}
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        nobody_cli, nobody_env = readable_cli(base / "cli")  # the checkout may sit where nobody cannot read

        def run_as_nobody(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [*as_nobody, *nobody_cli, *args],
                capture_output=True,
                env={**env, **nobody_env},
                cwd=base,
                timeout=120,
            )

        said_plainly(
            run_as_nobody("send", str(source)), "Permission denied [EACCES]", "give the user nobody write permission"
        )
        assert run_cli(env, "send", str(source)).returncode == 0  # its owner spools 100 records
        said_plainly(run_as_nobody("flush"), "[EACCES]", "100 acknowledged records in 1 spool segment(s)")
        assert run_cli(env, "flush").returncode == 0
        assert users_in_table(home) == Counter({f"n-{n}": 1 for n in range(1, 101)})
    finally:
        shutil.rmtree(base)


def test_a_home_that_is_a_file_is_named_as_the_thing_to_move(tmp_path, cli_env):
    home = tmp_path / "home"
    home.write_text("not a directory\n")
    source = write_jsonl(tmp_path / "records.jsonl", 10)
    env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home)}
    for args in (("send", str(source)), ("flush",)):
        said_plainly(run_cli(env, *args), "[ENOTDIR]", f"{home} is a file where health-pipeline needs a directory")
    assert home.read_text() == "not a directory\n"


def test_a_catalog_another_process_holds_locked_is_named_and_the_spool_kept(tmp_path, cli_env, stack):
    source = write_jsonl(tmp_path / "records.jsonl", 50, prefix="l-", unique_users=True)
    assert run_cli(cli_env, "send", str(source), "--flush").returncode == 0
    assert run_cli(cli_env, "send", str(source)).returncode == 0  # 50 more wait in the spool
    holder = sqlite3.connect(stack.table.catalog_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a writer that does not let go would
    try:
        said_plainly(
            run_cli(cli_env, "flush"),
            "SQLite: database is locked",
            "another process holds the catalog's write lock",
            "50 acknowledged records in 1 spool segment(s)",
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert run_cli(cli_env, "flush").returncode == 0
    assert users_in_table(stack.settings.home) == Counter({f"l-{n}": 2 for n in range(1, 51)})  # sent twice


def test_a_missing_catalog_is_told_rather_than_replaced_by_an_empty_table(tmp_path, cli_env, stack):
    source = write_jsonl(tmp_path / "records.jsonl", 50, prefix="m-", unique_users=True)
    assert run_cli(cli_env, "send", str(source), "--flush").returncode == 0
    backup = tmp_path / "catalog.db"
    shutil.move(stack.table.catalog_db, backup)
    said_plainly(
        run_cli(cli_env, "send", str(source)),
        "the local catalog has no table",
        "but the warehouse holds its files",
        f"restore {stack.table.catalog_db} from a backup",
    )
    shutil.move(backup, stack.table.catalog_db)
    assert users_in_table(stack.settings.home) == Counter({f"m-{n}": 1 for n in range(1, 51)})


def test_send_flush_whose_flush_fails_says_every_record_of_the_send_is_acknowledged(tmp_path, cli_env):
    source = write_jsonl(tmp_path / "records.jsonl", 10_000, prefix="p-", unique_users=True)
    with small_disk(tmp_path / "disk", "8m") as disk:
        home = disk / "home"
        env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home)}
        first = write_jsonl(tmp_path / "first.jsonl", 1, prefix="q-")
        assert run_cli(env, "send", str(first), "--flush").returncode == 0  # the home and its table made
        filler = fill(disk)
        room = source.stat().st_size + 8192  # the spool's append fits; the table's data files do not
        os.truncate(filler, filler.stat().st_size - room)
        text = said_plainly(
            run_cli(env, "send", str(source), "--flush"),
            "health-pipeline flush could not write the table's files",
            "[ENOSPC]",
            f"acknowledged: 10000 records, through {source}:10000; re-send from line 10001",
            "10000 acknowledged records in 1 spool segment(s)",
        )
        assert len(parquet_files(home)) == 1, text  # the first record's: no file of the failed flush stays
        filler.unlink()
        assert run_cli(env, "flush").returncode == 0
        assert users_in_table(home) == Counter({"q-0": 1} | {f"p-{n}": 1 for n in range(1, 10_001)})


def test_a_delivery_that_fails_during_a_send_keeps_what_it_acknowledged(tmp_path, cli_env):
    source = write_jsonl(tmp_path / "records.jsonl", 60_000, prefix="d-", unique_users=True)  # ~6.9 MB
    with small_disk(tmp_path / "disk", "16m") as disk:
        home = disk / "home"
        env = {**cli_env, "HEALTH_PIPELINE_HOME": str(home)}
        first = write_jsonl(tmp_path / "first.jsonl", 1, prefix="q-")
        assert run_cli(env, "send", str(first), "--flush").returncode == 0
        filler = fill(disk)
        os.truncate(filler, filler.stat().st_size - source.stat().st_size - 8192)
        # The first 5 MB buffer is sealed and delivered while the send goes on: its data files do not fit.
        said_plainly(
            run_cli(env, "send", str(source)),
            "health-pipeline send could not write the table's files",
            "[ENOSPC]",
            f"acknowledged: 60000 records, through {source}:60000",
            "60000 acknowledged records in 2 spool segment(s)",
        )
        assert len(parquet_files(home)) == 1
        filler.unlink()
        assert run_cli(env, "flush").returncode == 0
        assert users_in_table(home) == Counter({"q-0": 1} | {f"d-{n}": 1 for n in range(1, 60_001)})
