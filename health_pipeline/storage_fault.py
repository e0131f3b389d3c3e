"""A fault of the machine a user can meet: no space left, permission denied, a read-only file system, a
home that is a file, a catalog that cannot be opened or is locked. `storage_fault` recognises one in
an exception (an OSError, pyarrow's, or SQLite's through SQLAlchemy) and makes it a `StorageFault`,
whose message says what failed, on which path, what was acknowledged, what is still safe on disk and
what to do; `health-pipeline` prints it without a traceback (exit 2) and an asset's Failure carries
it."""

from __future__ import annotations

import errno
import os
import pwd
import re
import sqlite3
from pathlib import Path

SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
PERMISSION = {errno.EACCES, errno.EPERM}
READ_ONLY = {errno.EROFS}
NOT_A_DIRECTORY = {errno.ENOTDIR, errno.EEXIST}
DEVICE = {errno.EIO}
LOCKED = -1  # SQLite's "database is locked": not an errno

# pyarrow's IOError carries the errno only in its text: "... Detail: [errno 28] No space left on device"
ARROW_ERRNO = re.compile(r"\[errno (\d+)\]")
SQLITE_ERRNO = {
    "database or disk is full": errno.ENOSPC,
    "attempt to write a readonly database": errno.EROFS,
    "unable to open database file": errno.EACCES,
    "disk i/o error": errno.EIO,
    "database is locked": LOCKED,
}


class StorageFault(RuntimeError):
    """What failed, where, and what the user can rely on and do; `str()` is the whole message."""

    def __init__(
        self,
        failed: str,
        path: Path | str,
        reason: str,
        remedy: str,
        *,
        acknowledged: str | None = None,
        safe: str | None = None,
        then: str | None = None,
    ) -> None:
        self.failed, self.path, self.reason, self.remedy = failed, Path(path), reason, remedy
        self.acknowledged, self.safe, self.then = acknowledged, safe, then
        super().__init__(self.message())

    def message(self) -> str:
        lines = [f"{self.failed}: {self.path}: {self.reason}"]
        if self.acknowledged is not None:
            lines.append(f"acknowledged: {self.acknowledged}")
        if self.safe is not None:
            lines.append(f"safe on disk: {self.safe}")
        lines.append(f"to do: {self.remedy}" + (f"; then {self.then}" if self.then else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message()

    def but(self, **changes: str | None) -> StorageFault:
        """The same fault with some parts said differently (what was acknowledged, what to do next)."""
        parts = {"acknowledged": self.acknowledged, "safe": self.safe, "then": self.then, **changes}
        return StorageFault(self.failed, self.path, self.reason, self.remedy, **parts)


def acknowledged_text(count: int, through: str | None) -> str:
    """`count` records acknowledged through `through` (FILE:LINE), and where a re-send starts."""
    if not count or through is None:
        return "no record of this send; re-send the whole input"
    source, _, line = through.rpartition(":")
    if line.isdigit() and source:
        rest = int(line) + 1
        command = "" if source == "<stdin>" else f" (`tail -n +{rest} {source} | health-pipeline send -`)"
        return f"{count} records, through {through}; re-send from line {rest}{command}"
    return f"{count} records, through {through}; re-send what follows it"


def storage_fault(err: BaseException, failed: str, path: Path) -> StorageFault | None:
    """`err` as a StorageFault when it, or an exception it came from, is a fault of the machine;
    None when it is not (a bug, bad input: let it surface as it is)."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        found = _classified(cause)
        if found is not None:
            code, where, text = found
            location = Path(where) if where else path
            return StorageFault(failed, location, text, remedy(code, location))
        cause = cause.__cause__ or cause.__context__
    return None


def _classified(err: BaseException) -> tuple[int, str | None, str] | None:
    if isinstance(err, StorageFault):
        return None
    original = getattr(err, "orig", None)  # SQLAlchemy wraps the driver's error
    if type(err).__module__.startswith("sqlalchemy") and isinstance(original, sqlite3.Error):
        err = original
    if isinstance(err, sqlite3.Error):
        text = str(err).lower()
        for phrase, code in SQLITE_ERRNO.items():
            if phrase in text:
                return code, None, f"SQLite: {err}"
        return None
    if not isinstance(err, OSError):
        return None
    number: int | None = err.errno
    if number is None and (match := ARROW_ERRNO.search(str(err))):
        number = int(match.group(1))
    if number is None or number not in SPACE | PERMISSION | READ_ONLY | NOT_A_DIRECTORY | DEVICE:
        return None
    name = errno.errorcode.get(number, str(number))
    # OSError.filename is whatever the call was given: a str, bytes (os.open(b"...")), or None.
    filename = os.fsdecode(err.filename) if isinstance(err.filename, str | bytes) else None
    return number, filename, f"{os.strerror(number)} [{name}]"


def remedy(code: int, path: Path) -> str:
    place = _existing(path)
    folder = place if place.is_dir() else place.parent
    if code in SPACE:
        return (
            f"free space on the file system that holds {folder} (`df -h {folder}`), or point HEALTH_PIPELINE_HOME"
            " at a directory on a larger one"
        )
    if code in PERMISSION:
        user = pwd.getpwuid(os.geteuid()).pw_name
        return (
            f"give the user {user} write permission on {folder} (`ls -ld {folder}`), or point HEALTH_PIPELINE_HOME"
            " at a directory it can write"
        )
    if code in READ_ONLY:
        return (
            f"the file system that holds {folder} is read-only: remount it read-write, or point"
            " HEALTH_PIPELINE_HOME at a writable directory"
        )
    if code in NOT_A_DIRECTORY:
        return (
            f"{place} is a file where health-pipeline needs a directory: move the file away, or point"
            " HEALTH_PIPELINE_HOME at a directory"
        )
    if code == LOCKED:
        return "another process holds the catalog's write lock: let it finish (or end it), then retry"
    return f"the device that holds {folder} reported an I/O error: check it (`dmesg`), then retry"


def _existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (the file standing where a directory is needed)."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError:
            continue
    return path
