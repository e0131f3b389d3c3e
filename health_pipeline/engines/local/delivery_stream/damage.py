"""A damaged spool segment: bytes in it that are not whole records the stream wrote. Only bytes never
acknowledged can be cut short (an append is fsynced whole before it is acknowledged), so a line cut
short is an append a crash or a full disk interrupted; a line that is not a JSON object came from
outside (the file was changed or damaged on disk). Either is moved to the error output, one document
per line with the reason, and the segment's intact records are delivered."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from health_pipeline.delivery.json_lines import check_lines
from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.delivery.stream import ErrorOutput, Rejection
from health_pipeline.engines.local.delivery_stream.spool import rewrite
from health_pipeline.schema.model import TableSchema

TORN_TAIL = "Spool.TornTail"
CORRUPT_LINE = "Spool.CorruptLine"
REASONS = {
    TORN_TAIL: "the segment ends in a line cut short (no final newline): an append that a crash or a full disk"
    " interrupted (never acknowledged), or the file was cut on disk",
    CORRUPT_LINE: "a line of the segment is not a JSON object: bytes the stream did not write (the file was changed"
    " or damaged on disk)",
}


@dataclass
class DamagedSegment:
    segment: str
    code: str
    lines: int = 0
    bytes: int = 0
    error_paths: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        where = self.error_paths[0].parent if self.error_paths else "the error output"
        return (
            f"spool segment {self.segment}: {self.lines} damaged line(s), {self.bytes} bytes, moved to {where}"
            f" ({self.code}: {REASONS[self.code]}); its intact records are delivered"
        )


def quarantine(errors: ErrorOutput, segment: Path, lines: list[tuple[int, bytes]], code: str) -> DamagedSegment:
    """Write each (line number, bytes) of `segment` to the error output with the reason for `code`."""
    damaged = DamagedSegment(segment.name, code)
    for number, raw in lines:
        rejection = Rejection(f"spool/{segment.name}:{number}", code, REASONS[code], raw)
        damaged.error_paths.append(errors.write(rejection, source="delivery-stream"))
        damaged.lines += 1
        damaged.bytes += len(raw)
    return damaged


def read_segment(
    path: Path, errors: ErrorOutput, live_schema: Callable[[], TableSchema], desired: TableSchema
) -> tuple[pa.Table, list[DamagedSegment]]:
    """A segment's rows read back from disk, checked against the live schema; its damaged lines moved to
    the error output and the segment rewritten as its intact lines (a retry finds nothing more to move)."""
    data = path.read_bytes()
    kept, size = data.rfind(b"\n") + 1, len(data)
    damaged = []
    if kept < size:
        damaged.append(quarantine(errors, path, [(data.count(b"\n", 0, kept) + 1, data[kept:])], TORN_TAIL))
        data = data[:kept]
    if not data:
        if kept < size:
            rewrite(path, data)
        return desired.to_arrow().empty_table(), damaged
    block = LineBlock.of(data, source=f"spool/{path.name}")
    checked = check_lines(block, live_schema(), producer=False)
    corrupt = []
    for i, err in checked.rejected:
        if not _json_object(block.raw_line(i)):
            corrupt.append((i + 1, block.raw_line(i)))
            continue
        # a record the stream took, which the table no longer fits (its schema changed since)
        errors.write(Rejection(block.where(i), f"Stream.{err.code}", str(err), block.raw_line(i)), "delivery-stream")
    if corrupt:
        damaged.append(quarantine(errors, path, corrupt, CORRUPT_LINE))
        bad = {number - 1 for number, _ in corrupt}
        data = b"".join(block.line(i) for i in range(len(block)) if i not in bad)
    if corrupt or kept < size:
        rewrite(path, data)
    return checked.rows, damaged


def _json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
