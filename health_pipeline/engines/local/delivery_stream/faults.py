"""How a fault of the machine during a send or a flush is told: what failed (the spool, the error
output, the table's files or catalog), what the spool still holds safe, and where a send's
acknowledgements stop."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.delivery.stream import ErrorOutput
from health_pipeline.engines.local.delivery_stream.spool import SpoolWriteFailed, file_size, line_count
from health_pipeline.engines.local.table import LocalIcebergTable
from health_pipeline.storage_fault import StorageFault, storage_fault


class Spool(Protocol):
    """The parts of the local delivery stream a fault is told against (`stream.LocalDeliveryStream`)."""

    spool_dir: Path
    errors: ErrorOutput
    table: LocalIcebergTable

    def segments(self) -> list[Path]: ...


def spool_fault(stream: Spool, err: BaseException, command: str) -> StorageFault | None:
    """`err` told as a StorageFault of `command` (None: it is not a fault of the machine)."""
    if isinstance(err, StorageFault):  # already told (a catalog that lost its table)
        return err.but(safe=spool_state(stream))
    if isinstance(err, SpoolWriteFailed):
        fault = storage_fault(err.cause, "", err.path)
    else:
        fault = storage_fault(err, "", stream.table.warehouse_dir)  # pyarrow's errors name no file
    if fault is None:
        return None
    parts = [
        (stream.spool_dir, "could not write to the spool"),
        (stream.errors.directory, "could not write a rejected record to the error output"),
        (stream.table.catalog_dir, "could not commit to the table's catalog"),
        (stream.table.warehouse_dir, "could not write the table's files"),
    ]
    what = next((text for folder, text in parts if _within(fault.path, folder)), "could not use its home")
    failed = StorageFault(f"health-pipeline {command} {what}", fault.path, fault.reason, fault.remedy)
    return failed.but(safe=spool_state(stream))


def spool_state(stream: Spool) -> str:
    """What the spool holds now, in words."""
    try:
        segments = [path for path in stream.segments() if file_size(path)]
        records = sum(line_count(path) for path in segments)
        size = sum(file_size(path) for path in segments)
    except OSError as err:
        return f"unknown: the spool {stream.spool_dir} cannot be read ({err.strerror})"
    if not segments:
        return f"the spool ({stream.spool_dir}) holds no record waiting for delivery"
    return (
        f"{records} acknowledged records in {len(segments)} spool segment(s), {size} bytes, in {stream.spool_dir};"
        " none is lost, and `health-pipeline flush` delivers them to the table once"
    )


def durable_prefix(block: LineBlock, index: np.ndarray, landed: int) -> tuple[int, str | None]:
    """Of a write whose first `landed` rows (block lines `index[:landed]`) are durable: how many of its
    lines are acknowledged (those before its first line that did not land) and the last of them."""
    if landed >= len(index):
        return len(index), block.where(int(index.max()))
    first_missing = int(index[landed:].min())
    before = index[index < first_missing]
    return (len(before), block.where(int(before.max()))) if len(before) else (0, None)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
