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


def append(path: Path, data: memoryview) -> None:
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def truncate_partial_tail(path: Path) -> None:
    """Cut a line a crash left half-written (never acknowledged) so the next append starts clean."""
    size = file_size(path)
    if size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    if not directory.exists():
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
