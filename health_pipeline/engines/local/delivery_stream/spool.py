"""The spool's format: append-only segment files under `delivery/spool/`, named
`segment-<sequence>-<created ms>-<random>`, `.open` while they take lines and `.jsonl` once sealed;
each holds the accepted lines as they came, every one ending in "\n". An append is durable (fsync of
the file, then of the directory) before its lines are acknowledged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024
DEFAULT_BUFFER_SECONDS = 300
OPEN, SEALED = ".open", ".jsonl"


@dataclass
class CachedSegment:
    """Rows this process parsed for a segment, valid while the file is exactly `size` bytes."""

    size: int
    tables: list[pa.Table] = field(default_factory=list)


def created_at(path: Path) -> float:
    return int(path.stem.split("-")[2]) / 1000


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


class SpoolWriteFailed(Exception):
    """An append that failed (no space, permission, ...) after `durable_rows` of its rows were durable;
    the segment it was writing is cut back to its last durable line."""

    def __init__(self, cause: OSError, path: Path, durable_rows: int) -> None:
        super().__init__(str(cause))
        self.cause, self.path, self.durable_rows = cause, path, durable_rows


def append(path: Path, data: memoryview) -> None:
    """Append and fsync; on failure the file is cut back to its size before, so that no line of a
    failed append (never acknowledged) stays to be delivered."""
    size = file_size(path)
    try:
        with open(path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        try:
            if file_size(path) > size:
                os.truncate(path, size)
        except OSError:  # a torn tail left behind is cut, and moved aside, by the next send
            pass
        raise


def truncate_partial_tail(path: Path) -> bytes:
    """Cut a line a crash left half-written (never acknowledged: an append is fsynced whole before it
    is acknowledged) so the next append starts clean; returns the bytes cut."""
    size = file_size(path)
    if size == 0:
        return b""
    with open(path, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return b""
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
        return data[keep:]


def rewrite(path: Path, data: bytes) -> None:
    """Replace a segment's content whole (a temporary file, fsynced, renamed over it)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    if not directory.exists():
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
