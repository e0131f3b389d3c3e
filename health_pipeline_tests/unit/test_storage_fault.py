"""Which exceptions are faults of the machine, and what their message says to do."""

import errno
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.exc import OperationalError

from health_pipeline.storage_fault import acknowledged_text, storage_fault


def test_an_oserror_names_its_file_and_the_remedy_for_its_errno(tmp_path):
    error = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "spool" / "segment"))
    fault = storage_fault(error, "send could not write", tmp_path)
    assert fault.path == tmp_path / "spool" / "segment"
    assert fault.reason == "No space left on device [ENOSPC]"
    assert f"df -h {tmp_path}" in fault.remedy  # the nearest folder that exists


def test_a_file_named_in_bytes_is_told_as_a_path(tmp_path):
    """os.open(b"...") and friends give OSError.filename as bytes; it is decoded, not passed to Path."""
    error = OSError(errno.EACCES, "Permission denied", bytes(tmp_path / "spool"))
    fault = storage_fault(error, "send could not write", tmp_path)
    assert fault is not None and fault.path == tmp_path / "spool"
    assert fault.reason == "Permission denied [EACCES]"


def test_pyarrows_error_is_recognised_by_the_errno_in_its_text(tmp_path):
    with pytest.raises(OSError) as raised:
        pq.write_table(pa.table({"a": [1]}), str(tmp_path / "no" / "such" / "folder" / "x.parquet"))
    fault = storage_fault(raised.value, "flush", tmp_path)
    assert fault is None  # a folder that is not there ([errno 2]): not a fault of the machine
    text = OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
    assert storage_fault(text, "flush", tmp_path).reason == "No space left on device [ENOSPC]"


def test_sqlite_through_sqlalchemy_and_a_cause_chain_are_followed(tmp_path):
    locked = OperationalError("UPDATE iceberg_tables", {}, sqlite3.OperationalError("database is locked"))
    assert "write lock" in storage_fault(locked, "flush", tmp_path).remedy
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system")
        except OSError as inner:
            raise RuntimeError("commit failed") from inner
    except RuntimeError as outer:
        assert "remount it read-write" in storage_fault(outer, "flush", tmp_path).remedy


def test_a_home_that_is_a_file_is_named_as_the_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("")
    fault = storage_fault(NotADirectoryError(errno.ENOTDIR, "Not a directory", str(home / "warehouse")), "x", home)
    assert fault.remedy.startswith(f"{home} is a file where health-pipeline needs a directory")


def test_bugs_and_bad_input_are_not_faults_of_the_machine(tmp_path):
    assert storage_fault(ValueError("bad"), "x", tmp_path) is None
    assert storage_fault(FileNotFoundError(errno.ENOENT, "No such file"), "x", tmp_path) is None
    assert storage_fault(sqlite3.OperationalError("no such table: x"), "x", tmp_path) is None


def test_what_was_acknowledged_says_where_to_re_send_from():
    assert acknowledged_text(0, None) == "no record of this send; re-send the whole input"
    text = acknowledged_text(7, "data/in.jsonl:9")
    assert (
        text
        == "7 records, through data/in.jsonl:9; re-send from line 10 (`tail -n +10 data/in.jsonl | health-pipeline send -`)"
    )
    assert acknowledged_text(3, "<stdin>:3") == "3 records, through <stdin>:3; re-send from line 4"
